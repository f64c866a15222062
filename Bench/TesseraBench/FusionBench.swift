// `TesseraBench fusion [--images N] [--queries Q] [--zipf S]`: query-time cost of MOF scoring
// (3 layers, HE 128 bits, query MA k = 3) + top-K + global reranking, on a synthetic in-memory
// index (Zipf word frequencies over 20,000 words, 120 features/image/layer, database k = 1).
import Foundation
import Fusion
import GlobalDescriptors
import TesseraCore

/// In-memory inverted lists for the benchmark: lists[layer][word] = encoded postings.
private struct BenchLists: InvertedListsReader {
    let signatureWords = 2
    var lists: [[[UInt8]]]
    func forEachPostingBlock(layer: Int, word: UInt32, _ body: (PostingList) throws -> Void) throws {
        try lists[layer][Int(word)].withUnsafeBytes { try body(PostingList(bytes: $0, signatureWords: 2)) }
    }
}

private struct ZipfSampler {
    let cdf: [Double]
    init(words: Int, exponent: Double) {
        var c = [Double](), s = 0.0
        for r in 1...words { s += 1 / pow(Double(r), exponent); c.append(s) }
        cdf = c.map { $0 / s }
    }
    func sample(_ rng: inout SeededGenerator) -> Int {
        let u = Double.random(in: 0..<1, using: &rng)
        var lo = 0, hi = cdf.count - 1
        while lo < hi { let m = (lo + hi) / 2; if cdf[m] < u { lo = m + 1 } else { hi = m } }
        return lo
    }
}

func runFusionBench(_ args: [String]) throws {
    func value(_ flag: String) -> String? {
        args.firstIndex(of: flag).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil }
    }
    let sizes = value("--images").flatMap { Int($0) }.map { [$0] } ?? [1_000, 10_000, 100_000]
    let queries = value("--queries").flatMap { Int($0) } ?? 20
    let zipf = value("--zipf").flatMap { Double($0) } ?? 1.0
    let words = 20_000, perImage = 120, layers = 3, k = 3, depth = 100, globalDim = 1280
    let sampler = ZipfSampler(words: words, exponent: zipf)

    print("## Fusion: scoring + top-K + rerank per query\n")
    print("Synthetic index: \(words) words/layer, Zipf exponent \(zipf), \(perImage) features/image/layer, " +
          "\(layers) layers, 128-bit HE (d_t 52, σ 30), burstiness on; query \(perImage) features × k = \(k); " +
          "rerank K = \(depth) with \(globalDim)-d global cosines. One thread per query; \(queries) queries, mean.\n")
    print("| images | postings/query | pairs/query | scan ms | top-K ms | rerank ms | total ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes {
        var rng = SeededGenerator(seed: 42)
        // Pass 1: words of every database feature, document frequencies, IDF (eq. 4).
        var dbWords = [[UInt16]](repeating: [], count: layers)
        var idfs = [[Float]]()
        for l in 0..<layers {
            dbWords[l] = (0..<(n * perImage)).map { _ in UInt16(sampler.sample(&rng)) }
            var df = [Int](repeating: 0, count: words), last = [Int](repeating: -1, count: words)
            for i in 0..<n { for f in 0..<perImage {
                let w = Int(dbWords[l][i * perImage + f]); if last[w] != i { last[w] = i; df[w] += 1 }
            } }
            idfs.append(df.map { $0 > 0 ? Float(log(Double(n) / Double($0))) : 0 })
        }
        // Pass 2: postings (ids ascending ⇒ sorted lists) and per-layer inverse image norms
        // (what a SearchContext keeps).
        var lists = BenchLists(lists: [])
        var norms = [[Float]]()
        let stride = PostingLayout.stride(signatureWords: 2)
        for l in 0..<layers {
            var perWord = [[UInt8]](repeating: [], count: words)
            var ln = [Float](repeating: 0, count: n)
            var tmp = [UInt8](repeating: 0, count: stride)
            for i in 0..<n {
                var sq: Float = 0
                for f in 0..<perImage {
                    let w = Int(dbWords[l][i * perImage + f])
                    let sig = [rng.next(), rng.next()]
                    tmp.withUnsafeMutableBytes { p in sig.withUnsafeBufferPointer {
                        PostingLayout.write(image: ImageID(i), signature: $0, to: p.baseAddress!) } }
                    perWord[w].append(contentsOf: tmp)
                    sq += idfs[l][w] * idfs[l][w]
                }
                ln[i] = sq.squareRoot()
            }
            lists.lists.append(perWord)
            norms.append(inverseNorms(ln))
            dbWords[l] = []
        }
        var global = [Float](repeating: 0, count: n * globalDim)
        for i in global.indices { global[i] = Float.random(in: -1...1, using: &rng) }
        for r in 0..<n {
            var s: Float = 0
            for c in 0..<globalDim { s += global[r * globalDim + c] * global[r * globalDim + c] }
            let inv = 1 / s.squareRoot()
            for c in 0..<globalDim { global[r * globalDim + c] *= inv }
        }
        let database = Matrix(rows: n, cols: globalDim, data: global)
        global = []

        var tScan = 0.0, tTop = 0.0, tRerank = 0.0, postings = 0, pairs = 0
        for _ in 0..<queries {
            let qLayers: [QuantizedLayer] = (0..<layers).map { _ in
                var ws = [UInt32](), sigs = [UInt64]()
                for _ in 0..<perImage {
                    var chosen = Set<Int>()
                    while chosen.count < k { chosen.insert(sampler.sample(&rng)) }
                    for w in chosen { ws.append(UInt32(w)); sigs += [rng.next(), rng.next()] }
                }
                return QuantizedLayer(count: perImage, k: k, signatureWords: 2, words: ws,
                                      distances: [Float](repeating: 0, count: ws.count), signatures: sigs)
            }
            let gq = database.row(Int.random(in: 0..<n, using: &rng))
            let t0 = DispatchTime.now().uptimeNanoseconds
            var scores = [Float](repeating: 0, count: n)
            for l in 0..<layers {  // equal-weight late fusion: each layer adds S_l into the same array
                let scorer = try LayerScorer(query: qLayers[l], idf: idfs[l])
                let s = try scorer.accumulate(lists: lists, layer: l, inverseNorms: norms[l], into: &scores)
                postings += s.postings; pairs += s.pairs
            }
            let t1 = DispatchTime.now().uptimeNanoseconds
            let top = topK(scores: scores, k: depth)
            let t2 = DispatchTime.now().uptimeNanoseconds
            let cosines = try GlobalSearch.cosines(query: gq, database: database, ids: top.map(\.0))
            let reranked = try Reranker.rerank(top, cosines: cosines, options: RerankOptions(depth: depth))
            let t3 = DispatchTime.now().uptimeNanoseconds
            precondition(reranked.count == top.count)
            tScan += Double(t1 - t0); tTop += Double(t2 - t1); tRerank += Double(t3 - t2)
        }
        let q = Double(queries), ms = 1e6
        print(String(format: "| %d | %d | %d | %.2f | %.3f | %.3f | %.2f |", n, postings / queries, pairs / queries,
                     tScan / q / ms, tTop / q / ms, tRerank / q / ms, (tScan + tTop + tRerank) / q / ms))
    }
    // PCA-whitening learning cost at the global descriptor's dimension.
    var rng = SeededGenerator(seed: 5)
    let train = Matrix(rows: 2_000, cols: globalDim,
                       data: (0..<(2_000 * globalDim)).map { _ in Float.random(in: 0...1, using: &rng) })
    let t0 = DispatchTime.now().uptimeNanoseconds
    let w = try PCAWhitening.learn(from: train, options: WhiteningOptions(outputDimension: 512))
    let t1 = DispatchTime.now().uptimeNanoseconds
    print("\nPCA-whitening learn, n = 2000, d = \(globalDim) → \(w.outputDimension): " +
          String(format: "%.2f s", Double(t1 - t0) / 1e9))
}
