import Foundation
import Fusion
import TesseraCore

/// Options of a query (the CLI fills them in directly). A `SearchPipeline` is prepared for one
/// value of them, so each choice (whitening, DBA, layers, fusion) is made once.
public struct QueryOptions: Sendable {
    /// Results returned.
    public var top = 10
    /// Multiple assignment on the query side: words per descriptor (MOF default 3).
    public var multipleAssignment = 3
    /// Optional distance-ratio cut of multiple assignment (drop word j if d_j > ratio · d_0).
    public var assignmentRatio: Float? = nil
    /// Per-layer scoring: HE on/off, d_t, σ, burstiness. See `ScoringOptions`.
    public var scoring = ScoringOptions()
    /// Layers used (indices into the vocabulary's layers); nil = all.
    public var layers: [Int]? = nil
    /// Late fusion rule (eq. 8): query-adaptive weights (Zheng et al. 2015, the default: better
    /// than equal weights on both development sets) or fixed weights (nil = equal).
    public var fusion: FusionRule? = .queryAdaptive(topM: 100)
    /// Spatial verification of the top of the fused list (`SpatialVerifier`) before the rerank;
    /// nil = off. Default off.
    public var verification: VerificationOptions? = nil
    /// Rerank the top `rerankOptions.depth` by the global descriptor. Default on.
    public var rerank = true
    public var rerankOptions = RerankOptions()
    /// Rank by the global descriptor alone (exhaustive cosine), ignoring the inverted files.
    public var globalOnly = false
    /// Apply the vocabulary's PCA-whitening to global descriptors when it has one.
    public var whiten = true
    /// α-query expansion (α = 3) of the global descriptor over the top n of the ranking (0 = off):
    /// in global-only mode over the global ranking, otherwise over the reranked list, whose
    /// top K is then reranked again with the expanded query. Default 3.
    public var queryExpansion = 3
    /// Database-side augmentation: each database global descriptor replaced by the weighted
    /// sum of itself and its n nearest database neighbours (0 = off).
    public var databaseAugmentation = 0
    public init() {}
}

/// One ranked result.
public struct RankedImage: Sendable {
    public var rank: Int
    public var id: ImageID
    public var path: String
    public var score: Float
    /// Per-layer normalised BoW scores (empty in global-only mode).
    public var layerScores: [Float]
    /// The shard holding the image (its index in the manifest) when the search was sharded;
    /// `id` is then the image's id in that shard.
    public var shard: Int?
    public init(rank: Int, id: ImageID, path: String, score: Float, layerScores: [Float], shard: Int? = nil) {
        self.rank = rank; self.id = id; self.path = path; self.score = score; self.layerScores = layerScores
        self.shard = shard
    }
}

/// Seconds per stage of one query.
public struct QueryTimings: Sendable, Codable {
    public var decode = 0.0, network = 0.0, assignment = 0.0, scan = 0.0, rerank = 0.0
    public var total: Double { decode + network + assignment + scan + rerank }
    public init() {}
}

/// The ranked list of one query image.
public struct QueryResult: Sendable {
    public var query: String
    public var results: [RankedImage]
    public var timings: QueryTimings
    public var postingsScanned: Int
    /// Which shards answered, for a sharded search (nil for one index).
    public var coverage: ShardCoverage?
    public init(query: String, results: [RankedImage], timings: QueryTimings, postingsScanned: Int,
                coverage: ShardCoverage? = nil) {
        self.query = query; self.results = results; self.timings = timings; self.postingsScanned = postingsScanned
        self.coverage = coverage
    }
}

/// Why one query image got no result: it could not be read (a bad file, kept apart so a
/// caller can skip it and go on), or the search itself failed (storage, a mismatch).
public enum QueryFailure: Error, CustomStringConvertible {
    case unreadableImage(path: String, reason: String)
    case searchFailed(path: String, error: Error)
    public var path: String {
        switch self { case .unreadableImage(let p, _), .searchFailed(let p, _): return p }
    }
    public var description: String {
        switch self {
        case let .unreadableImage(p, why): return "\(p): unreadable image: \(why)"
        case let .searchFailed(p, e): return "\(p): search failed: \(e)"
        }
    }
}
