import Foundation
import XCTest
import Fusion
import GlobalDescriptors
import TesseraCore
@testable import TesseraEngine

/// The prepared search's stages against `search`, its typed failures, and every benchmark
/// variant against the same stages called by hand, on a small real index.
final class PipelineTests: XCTestCase {
    /// 16 images of the fixture's collection, indexed from features extracted once.
    static let corpus = Result { () throws -> (index: SearchIndex, features: [String: ExtractedImage]) in
        let f = try EngineFixture.shared.get()
        let dir = f.root.appendingPathComponent("pipeline")
        try? FileManager.default.removeItem(at: dir)
        let idx = try SearchIndex(directory: dir, vocabulary: f.vocabulary, modelPath: nil, create: true)
        idx.extractor.alsoDescribe = [PipelineTests.mac, PipelineTests.gem, PipelineTests.block11]
        var features: [String: ExtractedImage] = [:]
        for p in ImageFiles.collect([f.collection.path]).prefix(16) { features[p] = try idx.extractor.extract(p) }
        let report = try idx.add(features.keys.sorted(), showProgress: false, features: { features[$0]! })
        XCTAssertEqual(report.added.count, 16)
        return (idx, features)
    }

    static let mac = GlobalDescriptorOptions(pooling: .mac, extraScales: [])
    static let gem = GlobalDescriptorOptions(pooling: .gem, extraScales: [])
    static let block11 = GlobalDescriptorOptions(pooling: .rmac, source: .block11)

    func testSearchIsTheStagesInOrderAndFailuresAreTyped() throws {
        let (idx, _) = try Self.corpus.get()
        let f = try EngineFixture.shared.get()
        var o = QueryOptions()
        o.top = 5
        o.rerankOptions.depth = 8
        let queryFile = f.queries.appendingPathComponent("coffee.jpg").path
        try idx.withPipeline(o) { p in
            let x = try p.extract(queryFile)
            var postings = 0
            let fused = try p.fuse(try p.layerScores(try p.quantize(x), postings: &postings))
            let byHand = try p.rerank(p.rank(fused, depth: 8), query: try p.queryGlobal(x)).prefix(5)
            let result = try p.search(x)
            XCTAssertEqual(result.results.map(\.id), byHand.map(\.0))
            XCTAssertEqual(result.results.map(\.score), byHand.map(\.1))
            XCTAssertEqual(result.postingsScanned, postings)
            XCTAssertGreaterThan(postings, 0)
            // The query's own id is never ranked when excluded.
            let own = result.results[0].id
            XCTAssertFalse(p.rank(fused, excluding: own).contains { $0.0 == own })

            let outcomes = p.query([queryFile, f.root.appendingPathComponent("missing.jpg").path])
            XCTAssertEqual(try outcomes[0].get().results.map(\.id), byHand.map(\.0))
            guard case .failure(.unreadableImage) = outcomes[1] else {
                return XCTFail("expected unreadableImage, got \(outcomes[1])")
            }
        }
    }

    /// With global candidates, the global descriptor's best images join the inverted file's
    /// first K before the rerank: with K = 1 and K_g = 3, the first entries are exactly the
    /// union of the two shortlists.
    func testGlobalCandidatesJoinTheRerankedList() throws {
        let (idx, _) = try Self.corpus.get()
        let f = try EngineFixture.shared.get()
        var o = QueryOptions()
        o.top = 16
        o.queryExpansion = 0
        o.rerankOptions.depth = 1
        o.rerankOptions.globalCandidates = 3
        try idx.withPipeline(o) { p in
            let x = try p.extract(f.queries.appendingPathComponent("coffee.jpg").path)
            var postings = 0
            let fused = try p.fuse(try p.layerScores(try p.quantize(x), postings: &postings))
            let bowFirst = p.rank(fused, depth: 1).map(\.0)
            let globalFirst = p.rank(try p.global.cosines(try p.queryGlobal(x)), depth: 3).map(\.0)
            let union = Set(bowFirst + globalFirst)
            let ranked = try p.search(x).results.map(\.id)
            XCTAssertEqual(Set(ranked.prefix(union.count)), union)
            XCTAssertGreaterThan(union.count, 1)
        }
    }

    /// With verification on, the transformed copies of a photo still come first, and the
    /// verified list is the fused list re-scored: the same images in its top, each copy's
    /// verified score above an unrelated image's.
    func testVerificationKeepsTheCopiesFirst() throws {
        let (idx, _) = try Self.corpus.get()
        let f = try EngineFixture.shared.get()
        var o = QueryOptions()
        o.top = 16
        o.rerank = false
        o.verification = VerificationOptions(depth: 16)
        let query = f.queries.appendingPathComponent("coffee.jpg").path
        let results = try idx.query([query], options: o)[0].results
        let copies = results.prefix(4).filter { stem($0.path).hasPrefix("coffee_") }
        XCTAssertEqual(copies.count, 4, "\(results.map { stem($0.path) })")
        XCTAssertGreaterThan(results[3].score, results[15].score)
        o.verification = nil
        let plain = try idx.query([query], options: o)[0].results
        XCTAssertEqual(Set(plain.map(\.id)), Set(results.map(\.id)))
        XCTAssertNotEqual(plain.map(\.score), results.map(\.score))
    }

    /// A storage failure while adding (here the LMDB map cannot grow) stops the run with a
    /// typed storage error, is never reported as an unreadable image, and stores nothing half-done.
    func testAStorageFailureIsNotAnUnreadableImage() throws {
        let (_, features) = try Self.corpus.get()
        let f = try EngineFixture.shared.get()
        let dir = f.root.appendingPathComponent("full-map")
        try? FileManager.default.removeItem(at: dir)
        let tiny = IndexStoreOptions(initialMapSize: 256 << 10, maxMapSize: 256 << 10)
        let idx = try SearchIndex(directory: dir, vocabulary: f.vocabulary, modelPath: nil, create: true,
                                  storeOptions: tiny)
        idx.batchSize = 16
        let paths = features.keys.sorted()
        XCTAssertThrowsError(try idx.add(paths, showProgress: false, features: { features[$0]! })) { error in
            XCTAssertTrue((error as? IndexStorageError)?.isMapFull == true, "\(error)")
        }
        XCTAssertEqual(try idx.store.images().count, 0)
    }

    /// The whitening choice is made once: with it off, the database space is unwhitened and a
    /// query lands in that same space.
    func testWhiteningChoiceReachesBothSides() throws {
        let (idx, features) = try Self.corpus.get()
        XCTAssertNotNil(idx.whitening)
        for whiten in [true, false] {
            var o = QueryOptions()
            o.whiten = whiten
            try idx.withPipeline(o) { p in
                XCTAssertEqual(p.global.whitening != nil, whiten)
                let x = features[p.paths[3]!]!
                XCTAssertEqual(try p.global.cosines(try p.queryGlobal(x))[3], 1, accuracy: 1e-4)
            }
        }
    }

    /// Each benchmark variant equals the pipeline's stages (and plain cosines) composed by hand.
    func testEveryBenchmarkVariantIsThePipelineByHand() throws {
        let (idx, features) = try Self.corpus.get()
        let f = try EngineFixture.shared.get()
        let trainRows = ImageFiles.collect([f.photos.appendingPathComponent("train").path]).map {
            try! idx.extractor.extract($0).otherGlobals[Self.gem]!
        }
        let gemWhitening = try PCAWhitening.learn(from: Matrix(rows: trainRows.count, cols: trainRows[0].count,
                                                              data: trainRows.flatMap { $0 }),
                                                  options: WhiteningOptions(shrinkage: .ledoitWolf))
        var options = BenchmarkOptions(dataset: .holidays, images: "", train: "")
        options.query.top = 16
        options.compareReranking = true
        let benchmark = Benchmark(options: options)
        try idx.withPipeline(options.query) { p in
            let ranker = try benchmark.ranker(p, features: features,
                                              whitenings: [GlobalDescriptorOptions(): [.sample: idx.whitening!],
                                                           Self.gem: [.shrunk: gemWhitening]],
                                              rerankDescriptor: GlobalDescriptorOptions(),
                                              vocabularyWhitening: idx.whitening)
            let variants = ranker.variants(layerCount: 3)
            XCTAssertEqual(Set(variants).count, variants.count)
            XCTAssertEqual(variants.count, 1 + 2 + 1 + 1 + 2 * (2 + 3 + 3) + 3 + 1 + 3 + 1 + 2 * 3)
            let x = features[p.paths[5]!]!
            var timings = BenchmarkRanker.Timings()
            let got = try ranker.rankings(x, variants: variants, timings: &timings)
            XCTAssertEqual(Set(got.keys), Set(variants))
            for v in variants {
                XCTAssertEqual(got[v], try byHand(v, x, p, rmacWhitening: idx.whitening!, gemWhitening: gemWhitening,
                                                  features),
                               v.name(layerNames: ["a", "b", "c"]))
            }
        }
    }

    /// A ranking of every image by `scores`, best first, ties by the smaller id.
    private func order(_ scores: [Float]) -> [ImageID] {
        scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.map { ImageID($0) }
    }

    private func byHand(_ v: RankingVariant, _ x: ExtractedImage, _ p: SearchPipeline, rmacWhitening: PCAWhitening,
                        gemWhitening: PCAWhitening, _ features: [String: ExtractedImage]) throws -> [ImageID] {
        var n = 0
        let q = try p.quantize(x)
        let he = try p.layerScores(q, postings: &n)
        var off = ScoringOptions()
        off.hammingEmbedding = false
        let bow = try p.layerScores(q, scoring: off, postings: &n)
        func cosines(_ query: [Float], _ rows: (ExtractedImage) -> [Float], _ w: PCAWhitening?) throws -> [Float] {
            let qv = try w?.apply(query) ?? query
            return try (0..<p.imageBound).map { id in
                let r = rows(features[p.paths[id]!]!)
                let rv = try w?.apply(r) ?? r
                return zip(qv, rv).reduce(0) { $0 + $1.0 * $1.1 }
            }
        }
        func rerank(_ list: [(ImageID, Float)], whitening w: PCAWhitening?, expansion: Int,
                    rows: (ExtractedImage) -> [Float] = { $0.global },
                    options: RerankOptions = RerankOptions()) throws -> [ImageID] {
            let space = try GlobalSpace(rows: p.paths.indices.map { (ImageID($0), rows(features[p.paths[$0]!]!)) },
                                        bound: p.imageBound, whitening: w)
            return try SearchPipeline.rerank(list, query: try space.embed(rows(x)), in: space,
                                             options: options, queryExpansion: expansion).map(\.0)
        }
        let adaptive = FusionRule.queryAdaptive(topM: 100)
        switch v {
        case .full:
            return try rerank(p.rank(LateFusion.fuse(he, rule: adaptive).scores), whitening: rmacWhitening,
                              expansion: 3)
        case .verified(let withRerank):
            let fused = try LateFusion.fuse(he, rule: adaptive)
            let verified = try p.verify(p.rank(fused.scores), query: x, quantized: q, weights: fused.weights,
                                        options: VerificationOptions())
            return withRerank ? try rerank(verified, whitening: rmacWhitening, expansion: 3) : verified.map(\.0)
        case .fullWhitened(let w):
            XCTAssertFalse(w)
            return try rerank(p.rank(LateFusion.fuse(he, rule: adaptive).scores), whitening: nil, expansion: 3)
        case .bowReranked:
            return try rerank(p.rank(LateFusion.fuse(bow, rule: adaptive).scores), whitening: rmacWhitening,
                              expansion: 0)
        case let .invertedFile(useHE, layers, fusion):
            let s = layers.map { (useHE ? he : bow)[$0] }
            guard let fusion else { return order(s[0]) }
            let rule = fusion == .equalWeights ? FusionRule.fixed([Float](repeating: 1, count: s.count)) : adaptive
            return order(try LateFusion.fuse(s, rule: rule).scores)
        case let .reranked(descriptor, whitening, combination):
            let primary = descriptor == GlobalDescriptorOptions()
            XCTAssertEqual(whitening, primary ? .sample : .shrunk)
            var o = RerankOptions()
            o.combination = combination
            return try rerank(p.rank(LateFusion.fuse(he, rule: adaptive).scores),
                              whitening: primary ? rmacWhitening : gemWhitening, expansion: 3,
                              rows: { primary ? $0.global : $0.otherGlobals[descriptor]! }, options: o)
        case let .global(descriptor, whitening, expansion):
            let primary = descriptor == GlobalDescriptorOptions()
            let rows: (ExtractedImage) -> [Float] = { primary ? $0.global : $0.otherGlobals[descriptor]! }
            if whitening != .none { XCTAssertEqual(whitening, primary ? .sample : .shrunk) }
            let w = whitening == .none ? nil : (primary ? rmacWhitening : gemWhitening)
            var cos = try cosines(rows(x), rows, w)
            if expansion {
                let space = try GlobalSpace(rows: p.paths.indices.map { (ImageID($0), rows(features[p.paths[$0]!]!)) },
                                            bound: p.imageBound, whitening: w)
                let top = Array(order(cos).prefix(3))
                let expanded = try space.expand(try space.embed(rows(x)), neighbours: top.map { ($0, cos[Int($0)]) },
                                                n: 3)
                cos = try space.cosines(expanded)
            }
            return order(cos)
        }
    }
}
