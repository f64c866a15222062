import TesseraCore

/// Answers "which centroids are nearest to these descriptors" for a fixed centroid set
/// (k×d, row-major). Results are row-major n×k, nearest first, squared L2 distances.
/// When fewer than `k` centroids exist the missing slots hold `QuantizedLayer.none`
/// and `+infinity`.
///
/// k-means takes a searcher as a parameter (as faiss's `Clustering` takes an index), so
/// approximate k-means (AKM) is plain k-means given a ``KDForestSearcher``.
public protocol NearestCentroidSearcher: Sendable {
    /// The centroid set searched (k×d).
    var centroids: Matrix { get }
    /// The `k` nearest centroids of every query row.
    func search(queries: Matrix, k: Int) -> (words: [UInt32], distances: [Float])
}

/// Which searcher to build over a centroid set.
public enum SearcherKind: Sendable, Equatable {
    /// Brute force with BLAS (``ExactSearcher``).
    case exact
    /// Randomised k-d forest with best-bin-first search (``KDForestSearcher``).
    case kdForest(KDForestOptions)

    /// Builds the searcher over `centroids`.
    public func make(centroids: Matrix) -> any NearestCentroidSearcher {
        switch self {
        case .exact: return ExactSearcher(centroids: centroids)
        case .kdForest(let o): return KDForestSearcher(centroids: centroids, options: o)
        }
    }
}
