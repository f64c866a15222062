@testable import Quantizer
import TesseraCore
import XCTest

final class KMeansTests: XCTestCase {
    private func assertRecovers(_ r: KMeansResult, labels: [Int], clusters: Int, file: StaticString = #filePath,
                                line: UInt = #line) {
        // Every true cluster maps to exactly one centroid and no centroid is shared.
        var map = [Int: Set<UInt32>]()
        for (i, l) in labels.enumerated() { map[l, default: []].insert(r.assignment[i]) }
        XCTAssertEqual(map.count, clusters, file: file, line: line)
        for (l, s) in map { XCTAssertEqual(s.count, 1, "true cluster \(l) split over \(s)", file: file, line: line) }
        XCTAssertEqual(Set(map.values.map { $0.first! }).count, clusters, "two true clusters merged",
                       file: file, line: line)
    }

    func testExactKMeansRecoversSeparatedClusters() {
        let (x, labels) = Synthetic.blobs(clusters: 10, perCluster: 60, d: 8, seed: 11)
        let r = kMeans(data: x, options: KMeansOptions(k: 10, iterations: 8, seed: 1), searcher: .exact)
        assertRecovers(r, labels: labels, clusters: 10)
        XCTAssertEqual(r.objective.count, 9)
        XCTAssertLessThan(r.objective.last!, 0.05 * 0.05 * 8 * 1.5)   // ≈ σ²·d
        XCTAssertEqual(r.clusterSizes.map(Int.init).sorted(), [Int](repeating: 60, count: 10))
    }

    func testAKMRecoversSeparatedClusters() {
        let (x, labels) = Synthetic.blobs(clusters: 12, perCluster: 40, d: 6, seed: 12)
        let r = kMeans(data: x, options: KMeansOptions(k: 12, iterations: 8, seed: 2),
                       searcher: .kdForest(KDForestOptions(trees: 4, maxLeafChecks: 4)))
        assertRecovers(r, labels: labels, clusters: 12)
    }

    func testAKMWithGenerousBudgetEqualsExactKMeans() {
        let x = Synthetic.uniform(600, 6, seed: 13)
        let o = KMeansOptions(k: 20, iterations: 5, seed: 3)
        let e = kMeans(data: x, options: o, searcher: .exact)
        let a = kMeans(data: x, options: o, searcher: .kdForest(KDForestOptions(trees: 4, maxLeafChecks: 1000)))
        XCTAssertEqual(a.assignment, e.assignment)
        for (p, q) in zip(a.centroids.data, e.centroids.data) { XCTAssertEqual(p, q, accuracy: 1e-5) }
    }

    func testSameSeedIdenticalCentroidsOtherSeedDiffers() {
        let x = Synthetic.uniform(800, 8, seed: 14)
        let kind = SearcherKind.kdForest(KDForestOptions(trees: 4, maxLeafChecks: 16))
        let a = kMeans(data: x, options: KMeansOptions(k: 30, iterations: 4, seed: 7), searcher: kind)
        let b = kMeans(data: x, options: KMeansOptions(k: 30, iterations: 4, seed: 7), searcher: kind)
        let c = kMeans(data: x, options: KMeansOptions(k: 30, iterations: 4, seed: 8), searcher: kind)
        XCTAssertEqual(a.centroids.data.map(\.bitPattern), b.centroids.data.map(\.bitPattern))
        XCTAssertEqual(a.assignment, b.assignment)
        XCTAssertNotEqual(a.centroids, c.centroids)
    }

    func testEmptyClusterRepairSplitsLargest() {
        // Centroid 1 attracts nothing; repair must move it next to the largest cluster (0).
        let x = Matrix(rows: 4, cols: 2, data: [0, 0, 0.1, 0, 0, 0.1, 0.1, 0.1])
        let prev = Matrix(rows: 2, cols: 2, data: [0, 0, 100, 100])
        let out = updateCentroids(data: x, assignment: [0, 0, 0, 0], previous: prev)
        XCTAssertLessThan(abs(out[1, 0] - 0.05) + abs(out[1, 1] - 0.05), 0.01)
        XCTAssertNotEqual(out.row(0), out.row(1))
    }

    func testKMeansPlusPlusPicksDistinctRows() {
        let (x, _) = Synthetic.blobs(clusters: 5, perCluster: 20, d: 4, seed: 15)
        var g = SeededGenerator(seed: 1)
        let c = kMeansPlusPlus(data: x, k: 5, options: KMeansOptions(k: 5), rng: &g)
        XCTAssertEqual(Set(c.data.chunks(4)).count, 5)
    }
}

private extension Array where Element == Float {
    func chunks(_ n: Int) -> [[Float]] { stride(from: 0, to: count, by: n).map { Array(self[$0..<($0 + n)]) } }
}
