import Foundation
import Fusion
import GlobalDescriptors
import Index
import Quantizer
import TesseraCore

/// One database image as the search needs it: its path, per-layer norms ‖I‖ and global
/// descriptor as extracted.
public struct DatabaseImage: Sendable {
    public var id: ImageID
    public var path: String
    public var norms: [Float]
    public var global: [Float]
    public init(id: ImageID, path: String, norms: [Float], global: [Float]) {
        self.id = id; self.path = path; self.norms = norms; self.global = global
    }
}

/// A search prepared once for an index snapshot and one `QueryOptions`: the database side
/// (inverse norms 1/‖I‖ per layer, paths, the global descriptors in their whitened and
/// optionally augmented space) is gathered here, so every choice is made exactly once.
///
/// The stages can be called alone, in this order (METHOD.md §4–5):
///
///     extract → quantize (MA) → layerScores (eq. 3–7) → fuse (eq. 8) → rank → rerank (+ αQE)
///
/// and `search` / `query` run them all. A new stage (verification, diffusion) goes between
/// `rank` and the end of `search`, and a benchmark variant is a composition of these calls.
public final class SearchPipeline {
    public let vocabulary: Vocabulary
    public let options: QueryOptions
    /// The inverted lists of the snapshot (LMDB or in memory).
    public let lists: any InvertedListsReader
    /// 1/‖I‖ per layer, by image id (0 for an absent image).
    public let inverseNorms: [[Float]]
    /// Paths by image id (nil for an absent id).
    public let paths: [String?]
    /// The space the global descriptors are compared in (whitening and DBA as in `options`).
    public let global: GlobalSpace
    let extractor: FeatureExtractor?
    /// The stored patch geometry, for `verify` (nil: the search cannot verify).
    let geometry: (any GeometryReader)?
    /// Whether `verify` can run (the snapshot stores patch geometry).
    public var canVerify: Bool { geometry != nil }
    /// One past the largest image id.
    public var imageBound: Int { paths.count }

    /// Prepares the search. `whitening` is the vocabulary's (used when `options.whiten`);
    /// `extractor` is needed only for `extract` and `query(_:)`, `geometry` only for `verify`.
    public init(vocabulary: Vocabulary, extractor: FeatureExtractor?, whitening: PCAWhitening?,
                lists: any InvertedListsReader, geometry: (any GeometryReader)? = nil, images: [DatabaseImage],
                options: QueryOptions) throws {
        let layerCount = vocabulary.layers.count
        try Self.validate(options, layerCount: layerCount)
        let bound = Int(images.map(\.id).max().map { $0 + 1 } ?? 0)
        var norms = [[Float]](repeating: [Float](repeating: 0, count: bound), count: layerCount)
        var paths = [String?](repeating: nil, count: bound)
        for image in images {
            paths[Int(image.id)] = image.path
            for l in 0..<min(layerCount, image.norms.count) { norms[l][Int(image.id)] = image.norms[l] }
        }
        self.vocabulary = vocabulary
        self.extractor = extractor
        self.options = options
        self.lists = lists
        self.geometry = geometry
        self.inverseNorms = norms.map { Fusion.inverseNorms($0) }
        self.paths = paths
        self.global = try GlobalSpace(rows: images.map { ($0.id, $0.global) }, bound: bound,
                                      whitening: options.whiten ? whitening : nil,
                                      databaseAugmentation: options.databaseAugmentation)
    }

    private init(_ other: SearchPipeline, lists: any InvertedListsReader, geometry: (any GeometryReader)?,
                 options: QueryOptions) {
        vocabulary = other.vocabulary; extractor = other.extractor; inverseNorms = other.inverseNorms
        paths = other.paths; global = other.global
        self.lists = lists; self.geometry = geometry; self.options = options
    }

    private static func validate(_ options: QueryOptions, layerCount: Int) throws {
        if let layers = options.layers, let bad = layers.first(where: { $0 < 0 || $0 >= layerCount }) {
            throw EngineError.invalidInput("layer \(bad) is not one of the vocabulary's \(layerCount) layers")
        }
    }

    /// This prepared database side read through `lists` and `geometry`, another snapshot of the
    /// same committed state (`IndexSnapshot.generation`), under per-query `options`. Whitening
    /// and DBA shape the prepared global space, so `options` must keep the ones it was prepared
    /// with; everything else (top, layers, assignment, scoring, rerank, αQE, verification) may differ.
    public func reading(_ lists: any InvertedListsReader, geometry: (any GeometryReader)?,
                        options new: QueryOptions) throws -> SearchPipeline {
        guard new.whiten == options.whiten, new.databaseAugmentation == options.databaseAugmentation else {
            throw EngineError.invalidInput("whitening and DBA differ from the ones this search was prepared with")
        }
        try Self.validate(new, layerCount: vocabulary.layers.count)
        return SearchPipeline(self, lists: lists, geometry: geometry, options: new)
    }

    // MARK: Stages

    /// Decodes and describes one image file (the CNN pass).
    public func extract(_ path: String) throws -> ExtractedImage {
        guard let extractor else {
            throw EngineError.invalidInput("this search was prepared without a feature extractor")
        }
        return try extractor.extract(path)
    }

    /// Quantises the query's descriptors of every layer (`options.multipleAssignment` words each).
    public func quantize(_ x: ExtractedImage) throws -> [QuantizedLayer] {
        try Self.quantize(x, vocabulary: vocabulary, options: options)
    }

    /// `quantize` for any holder of the vocabulary (the shard coordinator quantises once for all shards).
    public static func quantize(_ x: ExtractedImage, vocabulary: Vocabulary,
                                options: QueryOptions) throws -> [QuantizedLayer] {
        try vocabulary.layers.map { lv in
            try lv.assign(try x.descriptors.matrix(lv.key), k: options.multipleAssignment,
                          ratio: options.assignmentRatio)
        }
    }

    /// Per-layer score arrays over image ids (eq. 3–7, normalised by ‖q‖·‖I‖), one per layer
    /// of `layers` (default `options.layers`, else all), scored with `scoring` (default
    /// `options.scoring`). `postings` counts the postings read.
    public func layerScores(_ quantized: [QuantizedLayer], layers: [Int]? = nil, scoring: ScoringOptions? = nil,
                            postings: inout Int) throws -> [[Float]] {
        let use = layers ?? options.layers ?? Array(vocabulary.layers.indices)
        return try use.map { l in
            let scorer = try LayerScorer(query: quantized[l], idf: vocabulary.layers[l].idf,
                                         options: scoring ?? options.scoring)
            var scores = [Float](repeating: 0, count: imageBound)
            postings += try scorer.accumulate(lists: lists, layer: l, inverseNorms: inverseNorms[l],
                                              into: &scores).postings
            return scores
        }
    }

    /// Late fusion of layer scores (eq. 8) under `rule` (default `options.fusion`; nil = equal weights).
    public func fuse(_ layerScores: [[Float]], rule: FusionRule? = nil) throws -> [Float] {
        try LateFusion.fuse(layerScores,
                            rule: rule ?? options.fusion ?? LateFusion.equalWeights(layerScores.count)).scores
    }

    /// The best `depth` images of `scores` (all images when nil), best first, ties by the smaller
    /// id; absent (removed) images and `excluded` never rank.
    public func rank(_ scores: [Float], depth: Int? = nil, excluding excluded: ImageID? = nil) -> [(ImageID, Float)] {
        var s = scores
        for i in s.indices where i >= paths.count || paths[i] == nil { s[i] = -.infinity }
        if let e = excluded, Int(e) < s.count { s[Int(e)] = -.infinity }
        return topK(scores: s, k: depth ?? s.count).filter {
            Int($0.0) < paths.count && paths[Int($0.0)] != nil && $0.0 != excluded
        }
    }

    /// Spatial verification (`SpatialVerifier`): the first `options.depth` of `list` re-scored by
    /// (1 − γ)·S + γ·S_v, where S is the listed score and S_v = Σ_l w_l · V_l the layer scores one
    /// similarity transform explains, fused with the `weights` the list was fused with
    /// (`fusionWeights`), and re-sorted (ties: S, then id); the rest keeps its order and scores.
    /// A candidate without stored geometry has S_v = 0.
    public func verify(_ list: [(ImageID, Float)], query x: ExtractedImage, quantized: [QuantizedLayer],
                       weights: [Float], options verification: VerificationOptions) throws -> [(ImageID, Float)] {
        let k = min(max(verification.depth, 0), list.count)
        let verified = try verifiedScores(ids: list.prefix(k).map(\.0), quantized: quantized, frames: x.frames,
                                          layers: options.layers ?? Array(vocabulary.layers.indices),
                                          weights: weights, scoring: options.scoring, options: verification)
        return Self.combineVerified(list, verified: verified, inlierWeight: verification.inlierWeight)
    }

    /// The verified scores S_v = Σ_l w_l · V_l of images `ids` (`SpatialVerifier.layerScore`
    /// over the used `layers`, fused with `weights`); nil for an image without stored geometry.
    public func verifiedScores(ids: [ImageID], quantized: [QuantizedLayer], frames: [PatchFrame], layers use: [Int],
                               weights: [Float], scoring: ScoringOptions,
                               options verification: VerificationOptions) throws -> [Float?] {
        guard let geometry else { throw EngineError.invalidInput("this search was prepared without patch geometry") }
        guard weights.count == use.count else {
            throw EngineError.invalidInput("\(weights.count) fusion weights for \(use.count) layers")
        }
        guard use.allSatisfy({ $0 >= 0 && $0 < vocabulary.layers.count && $0 < quantized.count
                                   && quantized[$0].count <= frames.count }) else {
            throw EngineError.invalidInput("layers \(use) are not all among the query's \(quantized.count), "
                                           + "each with a frame per descriptor")
        }
        let verifier = SpatialVerifier(options: verification, scoring: scoring)
        let norms = use.map { imageNorm(quantized[$0], idf: vocabulary.layers[$0].idf) }
        return try ids.map { id -> Float? in
            guard Int(id) < imageBound, let g = try geometry.geometry(of: id) else { return nil }
            var score: Float = 0
            for (n, l) in use.enumerated() where weights[n] != 0 {
                score += weights[n] * verifier.layerScore(
                    query: quantized[l], queryFrames: frames, candidate: g, layer: l, idf: vocabulary.layers[l].idf,
                    queryNorm: norms[n], inverseImageNorm: inverseNorms[l][Int(id)])
            }
            return score
        }
    }

    /// The first `verified.count` entries of `list` re-scored by (1 − γ)·S + γ·S_v (S_v = 0 for
    /// nil) and re-sorted (ties: S, then the smaller id); the rest keeps its order and scores.
    public static func combineVerified(_ list: [(ImageID, Float)], verified: [Float?],
                                       inlierWeight gamma: Float) -> [(ImageID, Float)] {
        var head = zip(list, verified).map { entry, v in
            (entry.0, (1 - gamma) * entry.1 + gamma * (v ?? 0), entry.1)
        }
        head.sort { ($0.1, $0.2, $1.0) > ($1.1, $1.2, $0.0) }
        return head.map { ($0.0, $0.1) } + list.dropFirst(verified.count)
    }

    /// The layer weights of late fusion (eq. 8) under `rule` (default `options.fusion`).
    public func fusionWeights(_ layerScores: [[Float]], rule: FusionRule? = nil) throws -> [Float] {
        try LateFusion.fuse(layerScores, rule: rule ?? options.fusion ?? LateFusion.equalWeights(layerScores.count))
            .weights
    }

    /// The query's global descriptor in the database's space (`global`).
    public func queryGlobal(_ x: ExtractedImage) throws -> [Float] { try global.embed(x.global) }

    /// Reranks the top K of an inverted-file list by the global cosine in `space` (default
    /// `global`), then with αQE over `queryExpansion` (default `options.queryExpansion`;
    /// `SearchPipeline.rerank`). With `RerankOptions.globalCandidates` = K_g > 0 the global
    /// descriptor's best K_g images (`excluded` left out) join the K first
    /// (`Reranker.shortlist`), scored by the inverted file: their score in `list`, else in
    /// `bowScores` (by image id; `search` passes the fused scores, as its list is cut at K).
    /// `rerankOptions` default to `options.rerankOptions`.
    public func rerank(_ list: [(ImageID, Float)], query g: [Float], in space: GlobalSpace? = nil,
                       queryExpansion: Int? = nil, bowScores: [Float]? = nil, excluding excluded: ImageID? = nil,
                       rerankOptions: RerankOptions? = nil) throws -> [(ImageID, Float)] {
        let space = space ?? global
        var list = list
        var rerankOptions = rerankOptions ?? options.rerankOptions
        if rerankOptions.globalCandidates > 0 {
            let candidates = rank(try space.cosines(g), depth: rerankOptions.globalCandidates, excluding: excluded)
            (list, rerankOptions.depth) = Reranker.shortlist(list, depth: rerankOptions.depth,
                                                             candidates: candidates.map(\.0)) { id in
                bowScores.flatMap { Int(id) < $0.count ? $0[Int(id)] : nil }
            }
        }
        return try Self.rerank(list, query: g, in: space, options: rerankOptions,
                               queryExpansion: queryExpansion ?? options.queryExpansion)
    }

    /// Global-only scores: cosines of `g` in `space` (default `global`) with every database
    /// image, after αQE over the best `options.queryExpansion` (absent and `excluded` images
    /// do not expand the query).
    public func globalScores(_ g: [Float], in space: GlobalSpace? = nil,
                             excluding excluded: ImageID? = nil) throws -> [Float] {
        let space = space ?? global
        var q = g
        var cos = try space.cosines(q)
        if options.queryExpansion > 0 {
            let first = rank(cos, depth: options.queryExpansion, excluding: excluded)
            q = try space.expand(q, neighbours: first, n: options.queryExpansion)
            cos = try space.cosines(q)
        }
        return cos
    }

    // MARK: All stages

    /// Ranks the database for an extracted query image; `excluded` (the query's own id in a
    /// benchmark) is left out.
    public func search(_ x: ExtractedImage, excluding excluded: ImageID? = nil) throws -> QueryResult {
        var timings = QueryTimings()
        timings.decode = x.decodeSeconds
        timings.network = x.networkSeconds
        guard imageBound > 0 else {
            return QueryResult(query: x.path, results: [], timings: timings, postingsScanned: 0)
        }
        var postings = 0
        var ranked: [(ImageID, Float)]
        var perLayer: [[Float]] = []
        var t = Date()
        if options.globalOnly {
            ranked = rank(try globalScores(try queryGlobal(x), excluding: excluded), depth: options.top,
                          excluding: excluded)
            timings.rerank = Date().timeIntervalSince(t)
        } else {
            let quantized = try quantize(x)
            timings.assignment = Date().timeIntervalSince(t)
            t = Date()
            perLayer = try layerScores(quantized, postings: &postings)
            var depth = options.rerank ? max(options.top, options.rerankOptions.depth) : options.top
            if let v = options.verification { depth = max(depth, v.depth) }
            let fused = try fuse(perLayer)
            ranked = rank(fused, depth: depth, excluding: excluded)
            if let v = options.verification {
                ranked = try verify(ranked, query: x, quantized: quantized, weights: try fusionWeights(perLayer),
                                    options: v)
            }
            timings.scan = Date().timeIntervalSince(t)
            if options.rerank {
                t = Date()
                ranked = try rerank(ranked, query: try queryGlobal(x), bowScores: fused, excluding: excluded)
                timings.rerank = Date().timeIntervalSince(t)
            }
            ranked = Array(ranked.prefix(options.top))
        }
        let results = ranked.enumerated().map { (i, r) in
            RankedImage(rank: i + 1, id: r.0, path: paths[Int(r.0)] ?? "?", score: r.1,
                        layerScores: perLayer.map { $0[Int(r.0)] })
        }
        return QueryResult(query: x.path, results: results, timings: timings, postingsScanned: postings)
    }

    /// Queries with image files: one result or one typed failure per file, in order.
    public func query(_ files: [String]) -> [Result<QueryResult, QueryFailure>] {
        files.map { file in
            let path = URL(fileURLWithPath: file).standardizedFileURL.path
            let x: ExtractedImage
            do { x = try extract(path) } catch { return .failure(.unreadableImage(path: path, reason: "\(error)")) }
            do { return .success(try search(x)) } catch { return .failure(.searchFailed(path: path, error: error)) }
        }
    }

    /// Rerank + αQE (METHOD.md §5): the first K = `options.depth` of `list` re-scored by
    /// `Reranker` with their cosines to `g`; then, when n > 0, `g` expanded by αQE over the
    /// first n of that list with their cosines, and `list` re-scored again with the expanded query.
    public static func rerank(_ list: [(ImageID, Float)], query g: [Float], in space: GlobalSpace,
                              options: RerankOptions, queryExpansion n: Int) throws -> [(ImageID, Float)] {
        let head = list.prefix(max(options.depth, 0)).map(\.0)
        let first = try Reranker.rerank(list, cosines: try space.cosines(g, ids: head), options: options)
        guard n > 0 else { return first }
        let top = first.prefix(n).map(\.0)
        let expanded = try space.expand(g, neighbours: Array(zip(top, try space.cosines(g, ids: top))), n: n)
        return try Reranker.rerank(list, cosines: try space.cosines(expanded, ids: head), options: options)
    }
}

extension SearchIndex {
    /// Runs `body` with a search prepared on a consistent snapshot of the index.
    public func withPipeline<R>(_ options: QueryOptions, _ body: (SearchPipeline) throws -> R) throws -> R {
        try store.withSnapshot { snap in try body(try pipeline(on: snap, options: options)) }
    }

    /// A search prepared on `snap`: its images' norms, paths and global descriptors gathered once.
    func pipeline(on snap: IndexSnapshot, options: QueryOptions) throws -> SearchPipeline {
        let images = try snap.images().map {
            DatabaseImage(id: $0.id, path: $0.path, norms: $0.norms, global: $0.globalDescriptor)
        }
        return try SearchPipeline(vocabulary: vocabulary, extractor: extractor, whitening: whitening,
                                  lists: snap, geometry: snap, images: images, options: options)
    }

    /// Queries with image files; a file that cannot be read or searched throws.
    public func query(_ paths: [String], options: QueryOptions) throws -> [QueryResult] {
        try withPipeline(options) { pipeline in try pipeline.query(paths).map { try $0.get() } }
    }
}
