import TesseraCore

/// Why descriptors could not be quantised.
public enum AssignError: Error, CustomStringConvertible, Equatable {
    /// Descriptors of the wrong dimension for this layer's vocabulary.
    case dimensionMismatch(layer: LayerKey, got: Int, expected: Int)
    public var description: String {
        switch self {
        case .dimensionMismatch(let l, let g, let e):
            return "layer \(l): descriptors have \(g) dimensions, the vocabulary expects \(e)"
        }
    }
}

/// Statistics of a layer's vocabulary on its training set.
public struct LayerTrainingStats: Sendable, Equatable, Codable {
    /// Training descriptors (rows) used.
    public var descriptorCount: Int
    /// Training images N (the IDF's N).
    public var imageCount: Int
    /// Mean squared distance of a training descriptor to its word (after PCA).
    public var meanQuantizationError: Float
    /// Training descriptors per word (words entries).
    public var clusterSizes: [UInt32]
    public init(descriptorCount: Int, imageCount: Int, meanQuantizationError: Float, clusterSizes: [UInt32]) {
        self.descriptorCount = descriptorCount; self.imageCount = imageCount
        self.meanQuantizationError = meanQuantizationError; self.clusterSizes = clusterSizes
    }
}

/// One layer's trained vocabulary, ready to quantise (MOF §2): optional PCA, the visual
/// words (centroids), the Hamming embedding and the IDF frozen at training time.
///
/// Multiple assignment (MA) is the `k` of ``assign(_:k:ratio:exact:)`` (MOF default 3), so the
/// caller decides whether it applies to queries, to the database or to both; this type
/// treats both sides identically.
public struct LayerVocabulary: Sendable {
    /// The layer this vocabulary quantises.
    public let key: LayerKey
    /// PCA applied before quantisation (nil: descriptors used as given).
    public let pca: PCA?
    /// Visual words (words×dim, in the post-PCA space); read in place from the file's mapping after
    /// ``Vocabulary/load(from:expectedModelSHA256:expectedLayers:)``.
    public let centroids: Matrix
    /// Hamming embedding (projection bits×dim, thresholds words×bits).
    public let hamming: HammingEmbedding
    /// idf_w = log(N / max(n_w, 1)) frozen from the training set (MOF eq. 4), words entries.
    public let idf: [Float]
    /// Training statistics.
    public let stats: LayerTrainingStats
    /// Options of the forest used by ``assign(_:k:ratio:exact:)`` (rebuilt from them on load).
    public let forestOptions: KDForestOptions
    private let forest: KDForestSearcher
    private let exactSearcher: ExactSearcher

    public var words: Int { centroids.rows }
    /// Dimension of the descriptors given to ``assign(_:k:ratio:exact:)`` (before PCA).
    public var inputDim: Int { pca?.inputDim ?? centroids.cols }

    public init(key: LayerKey, pca: PCA?, centroids: Matrix, hamming: HammingEmbedding, idf: [Float],
                stats: LayerTrainingStats, forestOptions: KDForestOptions) {
        self.key = key; self.pca = pca; self.centroids = centroids; self.hamming = hamming
        self.idf = idf; self.stats = stats; self.forestOptions = forestOptions
        forest = KDForestSearcher(centroids: centroids, options: forestOptions)
        exactSearcher = ExactSearcher(centroids: centroids)
    }

    /// Quantises descriptors (n×inputDim): PCA (if any), the `k` nearest words (k-d forest, or
    /// exact when `exact`), then HE signatures against each assigned word's thresholds.
    /// With `ratio`, assignment j ≥ 1 is dropped (word `QuantizedLayer.none`, zero signature,
    /// distance kept) when its squared distance exceeds ratio · the nearest squared distance.
    /// Throws ``AssignError/dimensionMismatch(layer:got:expected:)`` when the descriptors do not
    /// have the layer's input dimension.
    public func assign(_ descriptors: Matrix, k: Int, ratio: Float? = nil,
                       exact: Bool = false) throws -> QuantizedLayer {
        guard descriptors.cols == inputDim else {
            throw AssignError.dimensionMismatch(layer: key, got: descriptors.cols, expected: inputDim)
        }
        let x = pca?.apply(descriptors) ?? descriptors
        let kk = max(1, k)
        var (w, d) = (exact ? exactSearcher as any NearestCentroidSearcher : forest).search(queries: x, k: kk)
        if let ratio {
            for i in 0..<x.rows {
                let d0 = d[i * kk]
                for j in 1..<kk where d[i * kk + j] > ratio * d0 { w[i * kk + j] = QuantizedLayer.none }
            }
        }
        let s = hamming.signatures(x, words: w, k: kk)
        return QuantizedLayer(count: x.rows, k: kk, signatureWords: hamming.signatureWords, words: w, distances: d,
                              signatures: s)
    }

    /// idf_w = log(N / max(n_w, 1)) (MOF eq. 4) where N = `imageCount` and n_w = number of
    /// images with at least one row whose nearest word is w. Frozen at training time so a
    /// score never depends on insertion order or on how a collection is split.
    public static func inverseDocumentFrequency(assignment: [UInt32], imageOfRow: [Int32], imageCount: Int,
                                                words: Int) -> [Float] {
        var seen = Set<UInt64>()
        var df = [Int](repeating: 0, count: words)
        for (i, w) in assignment.enumerated() where w != QuantizedLayer.none {
            let key = UInt64(w) << 32 | UInt64(UInt32(bitPattern: imageOfRow[i]))
            if seen.insert(key).inserted { df[Int(w)] += 1 }
        }
        let n = Double(max(1, imageCount))
        return df.map { Float(log(n / Double(max($0, 1)))) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
