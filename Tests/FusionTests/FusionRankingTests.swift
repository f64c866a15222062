import XCTest
import TesseraCore
@testable import Fusion

final class FusionRankingTests: XCTestCase {
    func testFixedWeights() throws {
        let (s, w) = try LateFusion.fuse([[1, 0, 0.5], [0, 1, 0.5]], rule: .fixed([2, 1]))
        XCTAssertEqual(w, [2, 1])
        XCTAssertEqual(s, [2, 1, 1.5])
        XCTAssertThrowsError(try LateFusion.fuse([[1], [1]], rule: .fixed([1])))
        XCTAssertThrowsError(try LateFusion.fuse([[1], [1, 2]], rule: LateFusion.equalWeights(2)))
    }

    func testQueryAdaptiveWeights() throws {
        // L-shaped layer: top-4 = [1, .1, .1, 0] → area (1 + .1 + .1 + 0)/4 = 0.3 → 1/A = 10/3.
        // Flat layer: [1, 1, 1, 1] → area 1 → 1/A = 1.  Weights: (10/3, 1) / (13/3) = (10/13, 3/13).
        // Empty layer: all zeros → weight 0.
        let lShaped: [Float] = [0.1, 1, 0, 0.1, 0], flat: [Float] = [1, 1, 1, 1, 0], empty: [Float] = [0, 0, 0, 0, 0]
        let w = LateFusion.adaptiveWeights([lShaped, flat, empty], topM: 4)
        XCTAssertEqual(w[0], 10 / 13, accuracy: 1e-6)
        XCTAssertEqual(w[1], 3 / 13, accuracy: 1e-6)
        XCTAssertEqual(w[2], 0)
        let (s, _) = try LateFusion.fuse([lShaped, flat, empty], rule: .queryAdaptive(topM: 4))
        XCTAssertEqual(s[1], 1, accuracy: 1e-6)            // 10/13 · 1 + 3/13 · 1
        XCTAssertEqual(s[0], (1 + 3) / 13, accuracy: 1e-6) // 10/13 · 0.1 + 3/13 · 1
    }

    func testTopKTiesAndOrder() {
        let s: [Float] = [0.5, 0.9, 0.5, 0.1, 0.9, 0.5]
        let t = topK(scores: s, k: 4)
        XCTAssertEqual(t.map { $0.0 }, [1, 4, 0, 2])
        XCTAssertEqual(t.map { $0.1 }, [0.9, 0.9, 0.5, 0.5])
        XCTAssertEqual(topK(scores: s, k: 100).count, 6)
        XCTAssertTrue(topK(scores: s, k: 0).isEmpty)
        var rng = SeededGenerator(seed: 3)
        let r = (0..<1000).map { _ in Float(Int.random(in: 0..<50, using: &rng)) }
        let full = r.enumerated().sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
        XCTAssertEqual(topK(scores: r, k: 37).map { Int($0.0) }, full.prefix(37).map { $0.offset })
    }

    func testRerankReordersOnlyTopK() throws {
        let list: [(ImageID, Float)] = [(10, 4), (11, 3), (12, 2), (13, 1.9), (14, 1)]
        // K = 3, β = 0.5, bowMax = 4:  10: .5·1 + .5·0 = .5;  11: .5·.75 + .5·1 = .875;  12: .5·.5 + .5·.2 = .35
        let r = try Reranker.rerank(list, cosines: [0, 1, 0.2], options: RerankOptions(beta: 0.5, depth: 3))
        XCTAssertEqual(r.map { $0.0 }, [11, 10, 12, 13, 14])
        XCTAssertEqual(r[0].1, 0.875, accuracy: 1e-6)
        XCTAssertEqual(r[3].1, 1.9)   // tail keeps order and BoW score
        XCTAssertEqual(r[4].1, 1)
        XCTAssertThrowsError(try Reranker.rerank(list, cosines: [1], options: RerankOptions(depth: 3)))
        // With the database form: cosines computed from rows (row = image id).
        let db = Matrix(rows: 3, cols: 2, data: [1, 0, 0, 1, 0.6, 0.8])
        let r2 = try Reranker.rerank([(0, 1), (1, 1), (2, 1)], query: [0, 1], database: db,
                                     options: RerankOptions(beta: 1, depth: 3))
        XCTAssertEqual(r2.map { $0.0 }, [1, 2, 0])
    }

    /// Rerank + αQE: the query is expanded over the first n of the reranked list with their
    /// global cosines (not their combined scores), then the list is reranked again.
    func testRerankWithQueryExpansionExpandsOverCosines() throws {
        let db = Matrix(rows: 4, cols: 2, data: [1, 0, 0.8, 0.6, 0, 1, 0.6, 0.8])
        let q: [Float] = [0.96, 0.28]
        let list: [(ImageID, Float)] = [(2, 4), (3, 3), (1, 2), (0, 1)]
        let o = RerankOptions(beta: 0.5, depth: 4)
        let plain = try Reranker.rerank(list, query: q, database: db, options: o)
        XCTAssertEqual(try Reranker.rerank(list, query: q, database: db, options: o, queryExpansion: 0).map(\.1), plain.map(\.1))
        // First pass by hand: cosines 0: .96, 1: .936, 2: .28, 3: .8; combined (β = .5, bowMax 4)
        // 2: .5+.14 = .64, 3: .375+.4 = .775, 1: .25+.468 = .718, 0: .125+.48 = .605 → 3, 1, 2, 0.
        XCTAssertEqual(plain.map(\.0), [3, 1, 2, 0])
        let expanded = try GlobalSearch.alphaQueryExpansion(query: q, neighbours: [(3, 0.8), (1, 0.936)], database: db, n: 2)
        let expected = try Reranker.rerank(list, query: expanded, database: db, options: o)
        let got = try Reranker.rerank(list, query: q, database: db, options: o, queryExpansion: 2)
        XCTAssertEqual(got.map(\.0), expected.map(\.0))
        for (a, b) in zip(got, expected) { XCTAssertEqual(a.1, b.1, accuracy: 1e-6) }
        XCTAssertNotEqual(got[0].1, plain[0].1, accuracy: 1e-4)   // the expansion changed the scores
    }

    func testGlobalSearchAndExpansion() throws {
        let db = Matrix(rows: 3, cols: 2, data: [1, 0, 0, 1, 0.6, 0.8])
        let c = try GlobalSearch.cosines(query: [0.6, 0.8], database: db)
        XCTAssertEqual(c[0], 0.6, accuracy: 1e-6); XCTAssertEqual(c[1], 0.8, accuracy: 1e-6); XCTAssertEqual(c[2], 1, accuracy: 1e-6)
        // αQE with α = 1, n = 1 over neighbour (1, 0.5): q + 0.5·(0, 1) = (1, 0.5) → /√1.25.
        let q = try GlobalSearch.alphaQueryExpansion(query: [1, 0], neighbours: [(1, 0.5), (2, 0.9)],
                                                     database: db, n: 1, alpha: 1)
        XCTAssertEqual(q[0], 1 / Float(1.25).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(q[1], 0.5 / Float(1.25).squareRoot(), accuracy: 1e-6)
        // DBA n = 1, α = 1: row 0's nearest other row is 2 (cos .6): (1,0) + .6·(.6,.8) = (1.36, .48).
        let a = GlobalSearch.databaseAugmentation(db, n: 1, alpha: 1)
        let n0 = (1.36 * 1.36 + 0.48 * 0.48 as Float).squareRoot()
        XCTAssertEqual(a[0, 0], 1.36 / n0, accuracy: 1e-5)
        XCTAssertEqual(a[0, 1], 0.48 / n0, accuracy: 1e-5)
        XCTAssertThrowsError(try GlobalSearch.cosines(query: [1], database: db))
    }
}
