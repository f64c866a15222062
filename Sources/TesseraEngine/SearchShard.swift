import Foundation
import Fusion
import TesseraCore

/// One shard as the coordinator (`ShardCoordinator`) sees it: the same five calls whether the
/// shard is opened in this process (`LocalShard`) or is a `tessera serve` process reached over
/// HTTP (`RemoteShard`). Every call reads the shard's newest committed state; every type that
/// crosses it is `Codable`, so both transports send the same values.
public protocol SearchShard: Sendable {
    /// The shard's identity and size.
    func info() throws -> ShardInfo
    /// The inverted-file scan of a query the coordinator quantised (`ShardScanRequest`).
    func scan(_ request: ShardScanRequest) throws -> ShardScanResponse
    /// The shard's best `k` images by global cosine with `query` (already in the shared space,
    /// whitened or not as `whiten` says).
    func globalTop(_ query: [Float], k: Int, whiten: Bool) throws -> [ShardHit]
    /// Global descriptors, in the shared space, of images `ids` (empty for an absent id).
    func descriptors(_ ids: [ImageID], whiten: Bool) throws -> [[Float]]
    /// Verified scores S_v (`SearchPipeline.verify`) of images `ids`; nil for one without geometry.
    func verify(_ request: ShardVerifyRequest) throws -> [Float?]
}

/// A shard's identity and how many images it holds.
public struct ShardInfo: Codable, Sendable, Equatable {
    public var identity: ShardIdentity
    public var images: Int
    public init(identity: ShardIdentity, images: Int) { self.identity = identity; self.images = images }
}

/// What a shard scans for one query: the query's quantised layers (all of the vocabulary's),
/// the layers to use and the scoring of eq. 3–7, then either
///
/// - `weights` = nil: per used layer, the shard's best `perLayer` images by that layer's score,
///   with the cutoff below which every image it did not list lies (the coordinator merges them
///   into exact query-adaptive weights and bounds what it has not seen); or
/// - `weights` set: the shard's best `depth` images by the fused score Σ_l w_l · S_l (eq. 8).
///
/// With `globalQuery` and `globalCandidates` = K_g > 0 the shard also lists its best K_g images
/// by global cosine (`RerankOptions.globalCandidates`), with their layer scores, so they can join
/// the rerank without another scan, and every hit has its cosine (whitened or not as `whiten`
/// says). Without them no cosine is computed: the rerank fetches the shortlist's descriptors.
public struct ShardScanRequest: Codable, Sendable {
    public var quantized: [QuantizedLayer]
    public var layers: [Int]
    public var scoring: ScoringOptions
    public var perLayer: Int
    public var weights: [Float]?
    public var depth: Int
    public var globalQuery: [Float]?
    public var globalCandidates: Int
    public var whiten: Bool

    public init(quantized: [QuantizedLayer], layers: [Int], scoring: ScoringOptions, perLayer: Int,
                weights: [Float]? = nil, depth: Int = 0, globalQuery: [Float]? = nil, globalCandidates: Int = 0,
                whiten: Bool = true) {
        self.quantized = quantized; self.layers = layers; self.scoring = scoring; self.perLayer = perLayer
        self.weights = weights; self.depth = depth; self.globalQuery = globalQuery
        self.globalCandidates = globalCandidates; self.whiten = whiten
    }
}

/// One image a shard lists: its id in that shard, path, score in every used layer and, when
/// the request had a global query, its cosine with it.
public struct ShardHit: Codable, Sendable, Equatable {
    public var id: ImageID
    public var path: String
    public var layerScores: [Float]
    public var cosine: Float?
    public init(id: ImageID, path: String, layerScores: [Float] = [], cosine: Float? = nil) {
        self.id = id; self.path = path; self.layerScores = layerScores; self.cosine = cosine
    }
}

/// A shard's answer to a scan. `cutoffs[n]` bounds the n-th used layer's score of every image
/// not in `hits` (nil: the shard listed all its images); absent for a fused request. Every
/// answer names the identity of the index that computed it, so a shard process replaced
/// behind its address by one of another index is refused at its first answer, not trusted
/// because an earlier process passed the check.
public struct ShardScanResponse: Codable, Sendable {
    public var hits: [ShardHit]
    public var cutoffs: [Float]?
    public var postings: Int
    public var identity: ShardIdentity
    public init(hits: [ShardHit], cutoffs: [Float]?, postings: Int, identity: ShardIdentity) {
        self.hits = hits; self.cutoffs = cutoffs; self.postings = postings; self.identity = identity
    }
}

/// Verification of some of a shard's images against the query's patches.
public struct ShardVerifyRequest: Codable, Sendable {
    public var ids: [ImageID]
    public var quantized: [QuantizedLayer]
    public var frames: [PatchFrame]
    public var layers: [Int]
    public var weights: [Float]
    public var scoring: ScoringOptions
    public var verification: VerificationOptions
    /// The query's whitening choice: verification does not use it, but the shard then reads the
    /// search it already prepared for the query's scan instead of preparing another.
    public var whiten: Bool
    public init(ids: [ImageID], quantized: [QuantizedLayer], frames: [PatchFrame], layers: [Int], weights: [Float],
                scoring: ScoringOptions, verification: VerificationOptions, whiten: Bool) {
        self.ids = ids; self.quantized = quantized; self.frames = frames; self.layers = layers
        self.weights = weights; self.scoring = scoring; self.verification = verification; self.whiten = whiten
    }
}

/// A shard opened in this process: a `LiveIndex`, its database side prepared once per
/// committed state and shared by every call.
public final class LocalShard: SearchShard, @unchecked Sendable {
    public let live: LiveIndex
    /// Fixed for an opened index, so taken once.
    public let identity: ShardIdentity

    public init(_ live: LiveIndex) {
        self.live = live
        identity = ShardIdentity(of: live.index)
    }

    /// The prepared search of the newest state, its global space whitened or not, without DBA
    /// (a sharded index refuses it: it needs the whole collection).
    private func withPipeline<R>(whiten: Bool, _ body: (SearchPipeline) throws -> R) throws -> R {
        var o = QueryOptions()
        o.whiten = whiten
        return try live.withPipeline(o, body)
    }

    /// Refuses a request another process sent that would not mean a query of this vocabulary.
    static func validate(_ quantized: [QuantizedLayer], layers: [Int], scoring: ScoringOptions,
                         vocabulary: Vocabulary) throws {
        guard quantized.count == vocabulary.layers.count else {
            throw EngineError.invalidInput("\(quantized.count) quantized layers for a vocabulary of "
                                           + "\(vocabulary.layers.count)")
        }
        guard !layers.isEmpty, layers.allSatisfy({ $0 >= 0 && $0 < quantized.count }) else {
            throw EngineError.invalidInput("layers \(layers) are not among the vocabulary's \(quantized.count)")
        }
        if let t = scoring.hammingThreshold, t < 0 { throw EngineError.invalidInput("a negative HE threshold") }
        if let s = scoring.sigma, !(s > 0 && s.isFinite) { throw EngineError.invalidInput("HE sigma must be > 0") }
    }

    /// Whether any image is present (an empty shard's global space has no dimension to check a query against).
    private static func holdsImages(_ p: SearchPipeline) -> Bool { p.paths.contains { $0 != nil } }

    public func info() throws -> ShardInfo {
        ShardInfo(identity: identity, images: try live.index.store.withSnapshot {
            try $0.imageCount()
        })
    }

    public func scan(_ r: ShardScanRequest) throws -> ShardScanResponse {
        try withPipeline(whiten: r.whiten) { p in
            try Self.validate(r.quantized, layers: r.layers, scoring: r.scoring, vocabulary: p.vocabulary)
            var postings = 0
            let perLayer = try p.layerScores(r.quantized, layers: r.layers, scoring: r.scoring, postings: &postings)
            var listed: [ImageID] = []
            var cutoffs: [Float]? = nil
            if let w = r.weights {
                listed = p.rank(try p.fuse(perLayer, rule: .fixed(w)), depth: max(r.depth, 0)).map(\.0)
            } else {
                var bounds: [Float] = []
                var complete = false
                for scores in perLayer {
                    let top = p.rank(scores, depth: max(r.perLayer, 1))
                    listed += top.map(\.0)
                    bounds.append(top.last?.1 ?? 0)
                    complete = top.count < max(r.perLayer, 1)
                }
                cutoffs = complete ? nil : bounds
            }
            var cosines: [ImageID: Float] = [:]
            if let g = r.globalQuery, r.globalCandidates > 0, Self.holdsImages(p) {
                let all = try p.global.cosines(g)
                listed += p.rank(all, depth: r.globalCandidates).map(\.0)
                for id in listed { cosines[id] = all[Int(id)] }
            }
            var seen = Set<ImageID>()
            let hits = listed.filter { seen.insert($0).inserted }.map { id in
                ShardHit(id: id, path: p.paths[Int(id)] ?? "?", layerScores: perLayer.map { $0[Int(id)] },
                         cosine: cosines[id])
            }
            return ShardScanResponse(hits: hits, cutoffs: cutoffs, postings: postings, identity: identity)
        }
    }

    public func globalTop(_ query: [Float], k: Int, whiten: Bool) throws -> [ShardHit] {
        try withPipeline(whiten: whiten) { p in
            guard Self.holdsImages(p) else { return [] }
            return p.rank(try p.global.cosines(query), depth: max(k, 0)).map {
                ShardHit(id: $0.0, path: p.paths[Int($0.0)] ?? "?", cosine: $0.1)
            }
        }
    }

    public func descriptors(_ ids: [ImageID], whiten: Bool) throws -> [[Float]] {
        try withPipeline(whiten: whiten) { p in
            let m = p.global.database
            return ids.map { id in
                Int(id) < p.imageBound && p.paths[Int(id)] != nil
                    ? Array(m.data[(Int(id) * m.cols)..<((Int(id) + 1) * m.cols)]) : []
            }
        }
    }

    public func verify(_ r: ShardVerifyRequest) throws -> [Float?] {
        try withPipeline(whiten: r.whiten) { p in
            try Self.validate(r.quantized, layers: r.layers, scoring: r.scoring, vocabulary: p.vocabulary)
            return try p.verifiedScores(ids: r.ids, quantized: r.quantized, frames: r.frames, layers: r.layers,
                                 weights: r.weights, scoring: r.scoring, options: r.verification)
        }
    }
}
