import Foundation
import Fusion
import GlobalDescriptors
import TesseraCore

/// Ranks the collection for one query under every `RankingVariant`, each composed from the
/// stages of one `SearchPipeline` (the full system as configured) and a few extra global
/// spaces for the comparisons (other poolings, the other whitening choice).
struct BenchmarkRanker {
    let pipeline: SearchPipeline
    /// The reranking descriptor (`ExtractedImage.global`); the others are in `ExtractedImage.otherGlobals`.
    let rerankDescriptor: GlobalDescriptorOptions
    /// The full system's global descriptors compared the other way (whitened or not), when
    /// the vocabulary has a whitening; `fullWhitened(!configured)`.
    let otherWhitening: (whitened: Bool, space: GlobalSpace)?
    /// For every global descriptor, its database space under each whitening learned for it.
    let globalSpaces: [GlobalDescriptorOptions: [GlobalWhitening: GlobalSpace]]
    /// Whether to report the full system reranked by every whitened global space under every
    /// combination rule (`RankingVariant.reranked`).
    var compareReranking = false

    /// The variants this ranker reports, for a vocabulary of `layerCount` layers.
    func variants(layerCount: Int) -> [RankingVariant] {
        let all = Array(0..<layerCount)
        var v: [RankingVariant] = [.full, .bowReranked]
        if pipeline.canVerify { v += [.verified(rerank: false), .verified(rerank: true)] }
        if let other = otherWhitening { v.append(.fullWhitened(other.whitened)) }
        for he in [true, false] {
            v += [.invertedFile(hammingEmbedding: he, layers: all, fusion: .equalWeights),
                  .invertedFile(hammingEmbedding: he, layers: all, fusion: .queryAdaptive)]
            v += all.map { .invertedFile(hammingEmbedding: he, layers: [$0], fusion: nil) }
            if layerCount == 3 {
                v += [[0, 1], [0, 2], [1, 2]].map {
                    .invertedFile(hammingEmbedding: he, layers: $0, fusion: .equalWeights)
                }
            }
        }
        for p in globalSpaces.keys.sorted(by: { $0.identity < $1.identity }) {
            for w in GlobalWhitening.allCases where globalSpaces[p]?[w] != nil {
                v.append(.global(p, whitening: w, queryExpansion: false))
                if w != .none && pipeline.options.queryExpansion > 0 {
                    v.append(.global(p, whitening: w, queryExpansion: true))
                }
                if compareReranking && w != .none {
                    v += RerankCombination.allCases.map { .reranked(p, whitening: w, combination: $0) }
                }
            }
        }
        return v
    }

    /// Stage timings of the full system, summed over queries.
    struct Timings { var assignment = 0.0, scan = 0.0, rerank = 0.0 }

    /// The full ranking (every database image, best first) of query `x` under each variant.
    /// The query itself stays in the rankings: the metrics decide what to do with it.
    func rankings(_ x: ExtractedImage, variants: [RankingVariant],
                  timings: inout Timings) throws -> [RankingVariant: [ImageID]] {
        let p = pipeline
        let all = Array(p.vocabulary.layers.indices)
        var clock = Date()
        func lap() -> Double {
            let now = Date()
            defer { clock = now }
            return now.timeIntervalSince(clock)
        }
        let quantized = try p.quantize(x)
        timings.assignment += lap()
        var postings = 0
        let he = try p.layerScores(quantized, layers: all, postings: &postings)
        let used = p.options.layers ?? all
        let plainList = p.rank(try p.fuse(used.map { he[$0] }))
        let weights = try p.fusionWeights(used.map { he[$0] })
        func verified(_ v: VerificationOptions) throws -> [(ImageID, Float)] {
            try p.verify(plainList, query: x, quantized: quantized, weights: weights, options: v)
        }
        // The full system verifies when the options say so (`QueryOptions.verification`).
        let fusedList = try p.options.verification.map(verified) ?? plainList
        timings.scan += lap()
        let g = try p.queryGlobal(x)
        var out: [RankingVariant: [ImageID]] = [.full: try p.rerank(fusedList, query: g).map(\.0)]
        timings.rerank += lap()

        var bowScores: [[Float]]?
        func bow() throws -> [[Float]] {
            if let b = bowScores { return b }
            var scoring = p.options.scoring
            scoring.hammingEmbedding = false
            var ignored = 0
            bowScores = try p.layerScores(quantized, layers: all, scoring: scoring, postings: &ignored)
            return bowScores!
        }
        for variant in variants {
            switch variant {
            case .full: break
            case .verified(let rerank):
                let list = try verified(p.options.verification ?? VerificationOptions())
                out[variant] = try (rerank ? p.rerank(list, query: g) : list).map(\.0)
            case .fullWhitened:
                guard let other = otherWhitening else { continue }
                out[variant] = try p.rerank(fusedList, query: other.space.embed(x.global), in: other.space).map(\.0)
            case let .invertedFile(useHE, layers, fusion):
                let scores = useHE ? he : try bow()
                let chosen = layers.map { scores[$0] }
                let fused = try fusion.map { try p.fuse(chosen, rule: $0.rule(layers: chosen.count)) } ?? chosen[0]
                out[variant] = p.rank(fused).map(\.0)
            case .bowReranked:
                let list = p.rank(try p.fuse(try bow()))
                out[variant] = try p.rerank(list, query: g, queryExpansion: 0).map(\.0)
            case let .global(descriptor, whitening, queryExpansion):
                guard let space = globalSpaces[descriptor]?[whitening],
                      let raw = descriptor == rerankDescriptor ? x.global : x.otherGlobals[descriptor] else { continue }
                let q = try space.embed(raw)
                let scores = queryExpansion ? try p.globalScores(q, in: space) : try space.cosines(q)
                out[variant] = p.rank(scores).map(\.0)
            case let .reranked(descriptor, whitening, combination):
                guard let space = globalSpaces[descriptor]?[whitening],
                      let raw = descriptor == rerankDescriptor ? x.global : x.otherGlobals[descriptor] else { continue }
                var o = p.options.rerankOptions
                o.combination = combination
                out[variant] = try p.rerank(fusedList, query: try space.embed(raw), in: space, rerankOptions: o)
                    .map(\.0)
            }
        }
        return out
    }
}
