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
        let full = r.enumerated().sorted {
            $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset)
        }
        XCTAssertEqual(topK(scores: r, k: 37).map { Int($0.0) }, full.prefix(37).map { $0.offset })
    }

    func testRerankReordersOnlyTopK() throws {
        let list: [(ImageID, Float)] = [(10, 4), (11, 3), (12, 2), (13, 1.9), (14, 1)]
        // K = 3, β = 0.5, bowMax = 4:  10: .5·1 + .5·0 = .5;  11: .5·.75 + .5·1 = .875;  12: .5·.5 + .5·.2 = .35
        let r = try Reranker.rerank(list, cosines: [0, 1, 0.2],
                                    options: RerankOptions(beta: 0.5, combination: .linear, depth: 3))
        XCTAssertEqual(r.map { $0.0 }, [11, 10, 12, 13, 14])
        XCTAssertEqual(r[0].1, 0.875, accuracy: 1e-6)
        XCTAssertEqual(r[3].1, 1.9)   // tail keeps order and BoW score
        XCTAssertEqual(r[4].1, 1)
        XCTAssertThrowsError(try Reranker.rerank(list, cosines: [1], options: RerankOptions(depth: 3)))
    }

    /// Min–max scales both scores to [0, 1] over the K, so a cosine spread over a narrow range
    /// counts as much as the BoW score; the rank rule uses the orders alone.
    func testRerankCombinations() throws {
        let list: [(ImageID, Float)] = [(10, 4), (11, 3), (12, 2), (13, 1.9)]
        let cosines: [Float] = [0.30, 0.40, 0.35]
        // linear, β = .5: 10: .5 + .15 = .65; 11: .375 + .2 = .575; 12: .25 + .175 = .425
        let linear = try Reranker.rerank(list, cosines: cosines,
                                         options: RerankOptions(beta: 0.5, combination: .linear, depth: 3))
        XCTAssertEqual(linear.map(\.0), [10, 11, 12, 13])
        // min-max: bow (4, 3, 2) → (1, .5, 0), cos → (0, 1, .5): 10: .5; 11: .75; 12: .25
        let minMax = try Reranker.rerank(list, cosines: cosines,
                                         options: RerankOptions(beta: 0.5, combination: .minMax, depth: 3))
        XCTAssertEqual(minMax.map(\.0), [11, 10, 12, 13])
        XCTAssertEqual(minMax[0].1, 0.75, accuracy: 1e-6)
        XCTAssertEqual(minMax[3].1, 1.9)
        // rank: bow ranks (1, 2, 3), cos ranks (3, 1, 2): 11 = .5/62 + .5/61 is best, then
        // 10 = .5/61 + .5/63, then 12 = .5/63 + .5/62.
        let rank = try Reranker.rerank(list, cosines: cosines,
                                       options: RerankOptions(beta: 0.5, combination: .reciprocalRank, depth: 3))
        XCTAssertEqual(rank.map(\.0), [11, 10, 12, 13])
        XCTAssertEqual(rank[0].1, 0.5 / 62 + 0.5 / 61, accuracy: 1e-7)
        // β = 1 under min-max is the cosine order; a constant score adds nothing.
        let flat = try Reranker.rerank([(1, 2), (2, 2), (3, 2)], cosines: [0.1, 0.3, 0.2],
                                       options: RerankOptions(beta: 0.2, combination: .minMax, depth: 3))
        XCTAssertEqual(flat.map(\.0), [2, 3, 1])
    }

    /// The global candidates join the first K once each, in the global order, with their BoW
    /// score (0 when they have none), and leave the tail; the tail keeps its order.
    func testShortlistJoinsGlobalCandidatesOnce() {
        let list: [(ImageID, Float)] = [(10, 4), (11, 3), (12, 2), (13, 1.9), (14, 1)]
        let bow: [ImageID: Float] = [13: 1.9, 14: 1]
        let s = Reranker.shortlist(list, depth: 2, candidates: [14, 10, 20, 14]) { bow[$0] }
        XCTAssertEqual(s.list.map(\.0), [10, 11, 14, 20, 12, 13])
        XCTAssertEqual(s.list.map(\.1), [4, 3, 1, 0, 2, 1.9])
        XCTAssertEqual(s.count, 4)
        // A candidate further down the list keeps its listed score; the closure is for the rest.
        let fallback = Reranker.shortlist(list, depth: 2, candidates: [14, 20]) { $0 == 20 ? 7 : 99 }
        XCTAssertEqual(fallback.list.map(\.1), [4, 3, 1, 7, 2, 1.9])
        let none = Reranker.shortlist(list, depth: 9, candidates: [12]) { bow[$0] }
        XCTAssertEqual(none.list.map(\.0), list.map(\.0))
        XCTAssertEqual(none.count, 5)
    }
}
