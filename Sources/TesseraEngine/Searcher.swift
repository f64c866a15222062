import Foundation
import Fusion
import Quantizer
import TesseraCore

/// Options of a query (the CLI fills them in directly).
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
    /// Late fusion rule (eq. 8): query-adaptive weights (Zheng et al. 2015, default: better
    /// than equal weights on both development sets, Bench/RESULTS.md) or fixed weights (nil = equal).
    public var fusion: FusionRule? = .queryAdaptive(topM: 100)
    /// Rerank the top `rerank.depth` by the global descriptor. Default on.
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
    /// sum of itself and its n nearest database neighbours (0 = off). Applied when a search
    /// context is prepared.
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
}

/// Seconds per stage of one query.
public struct QueryTimings: Sendable, Codable {
    public var decode = 0.0, network = 0.0, assignment = 0.0, scan = 0.0, rerank = 0.0
    public var total: Double { decode + network + assignment + scan + rerank }
}

public struct QueryResult: Sendable {
    public var query: String
    public var results: [RankedImage]
    public var timings: QueryTimings
    public var postingsScanned: Int
}

/// The database side of scoring, gathered once per snapshot: per-layer inverse norms 1/‖I‖
/// by image id (`inverseNorms(_:)`, 0 for an absent image), paths, and the (whitened)
/// global descriptors as a matrix whose row = image id.
public struct SearchContext {
    public let lists: any InvertedListsReader
    public let inverseNorms: [[Float]]
    public let paths: [String?]
    public let global: Matrix
    public var imageBound: Int { paths.count }

    public init(lists: any InvertedListsReader, records: [(id: ImageID, path: String, norms: [Float], global: [Float])],
                layerCount: Int, whitening: PCAWhitening?, databaseAugmentation: Int = 0) throws {
        self.lists = lists
        let bound = Int(records.map(\.id).max().map { $0 + 1 } ?? 0)
        var norms = [[Float]](repeating: [Float](repeating: 0, count: bound), count: layerCount)
        var paths = [String?](repeating: nil, count: bound)
        let dim = whitening?.outputDimension ?? records.first?.global.count ?? 0
        var g = Matrix(rows: bound, cols: dim)
        for r in records {
            paths[Int(r.id)] = r.path
            for l in 0..<layerCount where l < r.norms.count { norms[l][Int(r.id)] = r.norms[l] }
            if !r.global.isEmpty {
                let v = try whitening?.apply(r.global) ?? r.global
                for c in 0..<min(dim, v.count) { g[Int(r.id), c] = v[c] }
            }
        }
        self.inverseNorms = norms.map { Fusion.inverseNorms($0) }; self.paths = paths
        self.global = databaseAugmentation > 0 ? GlobalSearch.databaseAugmentation(g, n: databaseAugmentation) : g
    }
}

/// Query-time pipeline (METHOD.md §4–5): assignment with MA, per-layer Hamming-weighted
/// scores (eq. 3–7), late fusion (eq. 8), reranking by the global descriptor.
public struct Searcher {
    public let vocabulary: Vocabulary
    public let whitening: PCAWhitening?
    public init(vocabulary: Vocabulary, whitening: PCAWhitening?) { self.vocabulary = vocabulary; self.whitening = whitening }

    /// Quantises the query's descriptors of every layer (k = MA words each).
    public func quantize(_ x: ExtractedImage, options: QueryOptions) throws -> [QuantizedLayer] {
        try vocabulary.layers.map { lv in
            try lv.assign(try x.descriptors.matrix(lv.key), k: options.multipleAssignment, ratio: options.assignmentRatio)
        }
    }

    /// Per-layer score arrays over image ids (eq. 3–7, normalised by ‖q‖·‖I‖).
    public func layerScores(_ quantized: [QuantizedLayer], context: SearchContext, options: QueryOptions,
                            postings: inout Int) throws -> [[Float]] {
        let use = options.layers ?? Array(vocabulary.layers.indices)
        var out: [[Float]] = []
        for l in use {
            let scorer = try LayerScorer(query: quantized[l], idf: vocabulary.layers[l].idf, options: options.scoring)
            var scores = [Float](repeating: 0, count: context.imageBound)
            let stats = try scorer.accumulate(lists: context.lists, layer: l, inverseNorms: context.inverseNorms[l], into: &scores)
            postings += stats.postings
            out.append(scores)
        }
        return out
    }

    /// The query's global descriptor, whitened like the database's when asked.
    public func queryGlobal(_ x: ExtractedImage, options: QueryOptions) throws -> [Float] {
        guard options.whiten, let w = whitening else { return x.global }
        return try w.apply(x.global)
    }

    /// Ranks the database for an extracted query image. `exclude` (e.g. the query's own id in
    /// a benchmark) is left out of the ranking.
    public func search(_ x: ExtractedImage, context: SearchContext, options: QueryOptions,
                       exclude: ImageID? = nil) throws -> QueryResult {
        var timings = QueryTimings()
        timings.decode = x.decodeSeconds
        timings.network = x.networkSeconds
        var postings = 0
        var ranked: [(ImageID, Float)]
        var perLayer: [[Float]] = []
        let g = try queryGlobal(x, options: options)
        if options.globalOnly {
            let t = Date()
            var q = g
            var cos = try GlobalSearch.cosines(query: q, database: context.global)
            if options.queryExpansion > 0 {
                let first = topK(scores: masked(cos, context, exclude), k: options.queryExpansion)
                q = try GlobalSearch.alphaQueryExpansion(query: q, neighbours: first, database: context.global, n: options.queryExpansion)
                cos = try GlobalSearch.cosines(query: q, database: context.global)
            }
            ranked = topK(scores: masked(cos, context, exclude), k: options.top)
            timings.rerank = Date().timeIntervalSince(t)
        } else {
            var t = Date()
            let quantized = try quantize(x, options: options)
            timings.assignment = Date().timeIntervalSince(t)
            t = Date()
            perLayer = try layerScores(quantized, context: context, options: options, postings: &postings)
            let rule = options.fusion ?? LateFusion.equalWeights(perLayer.count)
            let fused = try LateFusion.fuse(perLayer, rule: rule).scores
            let depth = options.rerank ? max(options.top, options.rerankOptions.depth) : options.top
            ranked = topK(scores: masked(fused, context, exclude), k: depth)
            timings.scan = Date().timeIntervalSince(t)
            if options.rerank && !g.isEmpty && context.global.cols == g.count {
                t = Date()
                ranked = try rerank(ranked, query: g, database: context.global, options: options)
                timings.rerank = Date().timeIntervalSince(t)
            }
            ranked = Array(ranked.prefix(options.top))
        }
        let results = ranked.enumerated().map { (i, r) in
            RankedImage(rank: i + 1, id: r.0, path: context.paths[Int(r.0)] ?? "?", score: r.1,
                        layerScores: perLayer.map { $0[Int(r.0)] })
        }
        return QueryResult(query: x.path, results: results, timings: timings, postingsScanned: postings)
    }

    /// Reranks the top K of an inverted-file list by the global cosine, with αQE over the
    /// options' `queryExpansion` best (`Reranker.rerank(_:query:database:options:queryExpansion:)`).
    public func rerank(_ list: [(ImageID, Float)], query g: [Float], database: Matrix,
                       options: QueryOptions) throws -> [(ImageID, Float)] {
        try Reranker.rerank(list, query: g, database: database, options: options.rerankOptions,
                            queryExpansion: options.queryExpansion)
    }

    /// Scores of absent (removed) images and of `exclude` set to −∞ so they never rank.
    func masked(_ s: [Float], _ c: SearchContext, _ exclude: ImageID?) -> [Float] {
        var s = s
        for i in s.indices where c.paths[i] == nil { s[i] = -.infinity }
        if let e = exclude, Int(e) < s.count { s[Int(e)] = -.infinity }
        return s
    }
}

extension SearchIndex {
    /// Runs `body` with a consistent snapshot of the index prepared for searching.
    /// With `whiten` false, global descriptors are compared as extracted (L2-normalised).
    public func withSearchContext<R>(whiten: Bool = true, databaseAugmentation: Int = 0,
                                     _ body: (SearchContext, Searcher) throws -> R) throws -> R {
        let w = whiten ? whitening : nil
        return try store.withSnapshot { snap in
            let records = try snap.images().map { (id: $0.id, path: $0.path, norms: $0.norms, global: $0.globalDescriptor) }
            let ctx = try SearchContext(lists: snap, records: records, layerCount: vocabulary.layers.count, whitening: w,
                                        databaseAugmentation: databaseAugmentation)
            return try body(ctx, Searcher(vocabulary: vocabulary, whitening: w))
        }
    }

    /// Queries with image files.
    public func query(_ paths: [String], options: QueryOptions) throws -> [QueryResult] {
        try withSearchContext(whiten: options.whiten, databaseAugmentation: options.databaseAugmentation) { ctx, searcher in
            try paths.map { try searcher.search(extractor.extract($0), context: ctx, options: options) }
        }
    }
}
