import XCTest
@testable import Evaluation

final class MetricsTests: XCTestCase {
    func testPerfectRankings() {
        // Query "q" included in its own ranking: removed for AP, so AP is still 1.
        XCTAssertEqual(RetrievalMetrics.averagePrecision(ranking: ["q", "a", "b", "x"], query: "q",
                                                         relevant: ["a", "b"]), 1)
        XCTAssertEqual(RetrievalMetrics.averagePrecision(ranking: ["a", "q", "b", "x"], query: "q",
                                                         relevant: ["a", "b"]), 1)
        XCTAssertEqual(RetrievalMetrics.nsHits(ranking: ["q", "a", "b", "c", "x"], group: ["q", "a", "b", "c"]), 4)
    }

    func testHandWorkedAP() throws {
        // Ranking (query removed): a x b y; relevant {a, b, c}, c never ranked. nres = 3, step 1/3.
        //   a at rank 0, ntp 0: p0 = 1,       p1 = 1/1 = 1   → (1/3)(1 + 1)/2      = 1/3
        //   b at rank 2, ntp 1: p0 = 1/2,     p1 = 2/3       → (1/3)(1/2 + 2/3)/2 = 7/36
        //   c missing: adds nothing (recall never reaches 1).   AP = 12/36 + 7/36 = 19/36
        let ap = try XCTUnwrap(RetrievalMetrics.averagePrecision(ranking: ["a", "q", "x", "b", "y"], query: "q",
                                                                 relevant: ["a", "b", "c"]))
        XCTAssertEqual(ap, 19.0 / 36, accuracy: 1e-12)
        XCTAssertEqual(RetrievalMetrics.averagePrecision(positiveRanks: [2, 0], relevantCount: 3)!, 19.0 / 36,
                       accuracy: 1e-12)
    }

    func testSingleRelevantAndTies() {
        // One relevant image at rank 1: p0 = 0/1 = 0, p1 = 1/2 → AP = (0 + 1/2)/2 = 1/4.
        XCTAssertEqual(RetrievalMetrics.averagePrecision(ranking: ["x", "r"], query: "q", relevant: ["r"]), 0.25)
        // Ties are broken by the order given (stable): the same scores listed the other way round differ.
        XCTAssertEqual(RetrievalMetrics.averagePrecision(ranking: ["r", "x"], query: "q", relevant: ["r"]), 1)
        // Duplicates: only the first occurrence counts.
        XCTAssertEqual(RetrievalMetrics.averagePrecision(ranking: ["x", "x", "r"], query: "q", relevant: ["r"]), 0.25)
        // No relevant image: AP undefined, left out of the mean.
        XCTAssertNil(RetrievalMetrics.averagePrecision(ranking: ["x"], query: "q", relevant: ["q"]))
        XCTAssertEqual(RetrievalMetrics.mean([1, nil, 0.5]), 0.75)
        // Missing images: relevant never ranked ⇒ contributes no recall.
        XCTAssertEqual(RetrievalMetrics.averagePrecision(ranking: ["r"], query: "q", relevant: ["r", "s"]), 0.5)
    }

    func testNSRecallPrecision() {
        // Group {q, a, b, c}; top 4 = q x a y → 2 hits.
        let ranking = ["q", "x", "a", "y", "b", "c"]
        XCTAssertEqual(RetrievalMetrics.nsHits(ranking: ranking, group: ["q", "a", "b", "c"]), 2)
        XCTAssertEqual(RetrievalMetrics.recall(at: 3, ranking: ranking, relevant: ["a", "b"]), 0.5)
        XCTAssertEqual(RetrievalMetrics.precision(at: 4, ranking: ranking, relevant: ["a", "b"]), 0.25)
        XCTAssertEqual(RetrievalMetrics.precision(at: 10, ranking: ["a"], relevant: ["a"]), 0.1)
        XCTAssertEqual(RetrievalMetrics.recall(at: 3, ranking: ranking, relevant: []), 0)
    }

    func testEvaluateUKBenchPerfectAndHolidaysByHand() throws {
        let uk = try GroundTruth.ukbench(fileNames: (0..<8).map { String(format: "ukbench%05d.jpg", $0) })
        let perfect = uk.evaluate { q in
            let n = Int(q.dropFirst(7).prefix(5))!
            let group = (0..<4).map { String(format: "ukbench%05d.jpg", n / 4 * 4 + $0) }
            return [q] + group.filter { $0 != q } + (0..<8).map { String(format: "ukbench%05d.jpg", $0) }
        }
        XCTAssertEqual(perfect.nsScore, 4)
        XCTAssertEqual(perfect.meanAveragePrecision, 1)

        // Holidays: series 1000 = {100000 (q), 100001, 100002}, series 1001 = {100100 (q), 100101}.
        let gt = try GroundTruth.holidays(fileNames: ["100000.jpg", "100001.jpg", "100002.jpg", "100100.jpg",
                                                      "100101.jpg"])
        let report = gt.evaluate { q in
            q == "100000.jpg" ? ["100000.jpg", "100001.jpg", "100101.jpg", "100002.jpg", "100100.jpg"]
                                // AP: 1/2 + (1/2)(1/2 + 2/3)/2 = 0.791667
                              : ["100101.jpg", "100000.jpg"]  // AP: 1
        }
        XCTAssertEqual(report.queries, 2)
        XCTAssertEqual(report.averagePrecisions[0]!, 0.5 + 0.5 * (0.5 + 2.0 / 3) / 2, accuracy: 1e-12)
        XCTAssertEqual(report.meanAveragePrecision, (0.5 + 0.5 * (0.5 + 2.0 / 3) / 2 + 1) / 2, accuracy: 1e-12)
    }
}
