import Quantizer
import TesseraCore
import XCTest

final class SearcherTests: XCTestCase {
    func testExactMatchesBruteForce() {
        let c = Synthetic.uniform(300, 16, seed: 1), q = Synthetic.uniform(50, 16, seed: 2)
        let r = ExactSearcher(centroids: c, blockFloats: 1000).search(queries: q, k: 3)  // several blocks
        for i in 0..<q.rows {
            let ref = Synthetic.nearest(q.row(i), c, k: 3)
            for j in 0..<3 {
                XCTAssertEqual(Int(r.words[i * 3 + j]), ref[j].0, "query \(i) rank \(j)")
                XCTAssertEqual(r.distances[i * 3 + j], ref[j].1, accuracy: 1e-4)
            }
        }
    }

    func testForestWithGenerousBudgetEqualsExact() {
        let c = Synthetic.uniform(500, 8, seed: 3), q = Synthetic.uniform(400, 8, seed: 4)
        let exact = ExactSearcher(centroids: c).search(queries: q, k: 1)
        for leaf in [1, 4] {   // single-centroid leaves and buckets
            let forest = KDForestSearcher(centroids: c,
                                          options: KDForestOptions(trees: 4, maxLeafChecks: 500, leafSize: leaf))
                .search(queries: q, k: 1)
            for i in 0..<q.rows where forest.words[i] != exact.words[i] {
                // Only an exact tie (within float rounding of the two formulas) may differ.
                XCTAssertEqual(forest.distances[i], exact.distances[i], accuracy: 1e-5, "leaf \(leaf) query \(i)")
            }
            XCTAssertEqual(zip(forest.distances, exact.distances).filter { abs($0 - $1) > 1e-4 }.count, 0,
                           "leaf \(leaf)")
        }
    }

    func testForestSmallBudgetStillFindsItselfForCentroidQueries() {
        let c = Synthetic.uniform(1000, 16, seed: 5)
        let r = KDForestSearcher(centroids: c, options: KDForestOptions(trees: 8, maxLeafChecks: 1))
            .search(queries: c, k: 1)
        // A centroid query descends to its own leaf first in every tree.
        XCTAssertEqual(r.words, (0..<1000).map { UInt32($0) })
        XCTAssertEqual(r.distances.max(), 0)
    }

    func testMultipleAssignmentDistinctAndIncreasing() {
        let c = Synthetic.uniform(200, 12, seed: 6), q = Synthetic.uniform(100, 12, seed: 7)
        for s in [ExactSearcher(centroids: c) as any NearestCentroidSearcher,
                  KDForestSearcher(centroids: c, options: KDForestOptions(maxLeafChecks: 32))] {
            let r = s.search(queries: q, k: 5)
            for i in 0..<q.rows {
                let w = r.words[(i * 5)..<(i * 5 + 5)], d = r.distances[(i * 5)..<(i * 5 + 5)]
                XCTAssertEqual(Set(w).count, 5, "words of query \(i) not distinct: \(Array(w))")
                XCTAssertFalse(w.contains(QuantizedLayer.none))
                XCTAssertEqual(Array(d), d.sorted(), "distances of query \(i) not increasing")
                for (word, dist) in zip(w, d) {   // distances are true squared L2 to the named word
                    var t: Float = 0
                    for j in 0..<12 { let x = q[i, j] - c[Int(word), j]; t += x * x }
                    XCTAssertEqual(dist, t, accuracy: 1e-4)
                }
            }
        }
    }

    func testKLargerThanCentroidsPadsWithNone() {
        let c = Synthetic.uniform(2, 4, seed: 8), q = Synthetic.uniform(3, 4, seed: 9)
        for s in [ExactSearcher(centroids: c) as any NearestCentroidSearcher, KDForestSearcher(centroids: c)] {
            let r = s.search(queries: q, k: 3)
            for i in 0..<3 {
                XCTAssertEqual(Set(r.words[(i * 3)..<(i * 3 + 2)]), [0, 1])
                XCTAssertEqual(r.words[i * 3 + 2], QuantizedLayer.none)
                XCTAssertEqual(r.distances[i * 3 + 2], .infinity)
            }
        }
    }

    func testHintsNeverWorsenAndOrderDoesNotMatter() {
        let c = Synthetic.uniform(800, 16, seed: 10), q = Synthetic.uniform(300, 16, seed: 11)
        let s = KDForestSearcher(centroids: c, options: KDForestOptions(trees: 2, maxLeafChecks: 2))
        let hints = (0..<300).map { UInt32(($0 * 7) % 800) }
        let plain = s.search(queries: q, k: 2)
        let hinted = s.search(queries: q, k: 2, hints: hints, order: nil)
        for i in 0..<300 {
            let hd = Synthetic.nearest(q.row(i), c, k: 800).first { $0.0 == Int(hints[i]) }!.1
            XCTAssertLessThanOrEqual(hinted.distances[i * 2], hd + 1e-5, "query \(i)")
        }
        let order = (0..<300).reversed().map { Int32($0) }
        let reordered = s.search(queries: q, k: 2, hints: hints, order: order)
        XCTAssertEqual(reordered.words, hinted.words)
        XCTAssertEqual(reordered.distances, hinted.distances)
        XCTAssertEqual(s.search(queries: q, k: 2, hints: nil, order: order).words, plain.words)
    }
}
