import Foundation
import XCTest
@testable import Evaluation

final class GroundTruthTests: XCTestCase {
    func testHolidaysConventions() throws {
        // Series 1183 lacks 118301: its ground truth is what is present. Series 1200 has no query.
        let gt = try GroundTruth.holidays(fileNames: ["118302.jpg", "118300.jpg", "100000.jpg", "100001.jpg",
                                                      "120001.jpg", "118303.jpg"])
        XCTAssertEqual(gt.queries, [
            GroundTruth.Query(name: "100000.jpg", relevant: ["100001.jpg"]),
            GroundTruth.Query(name: "118300.jpg", relevant: ["118302.jpg", "118303.jpg"]),
        ])
        XCTAssertThrowsError(try GroundTruth.holidays(fileNames: ["12345.jpg"])) {
            guard case .badName = $0 as? GroundTruthError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try GroundTruth.holidays(fileNames: ["100000.jpg", "100000.png"])) {
            XCTAssertEqual($0 as? GroundTruthError, .duplicate("100000.png"))
        }
    }

    func testUKBenchConventions() throws {
        let gt = try GroundTruth.ukbench(fileNames: ["ukbench00005.jpg", "ukbench00004.jpg", "ukbench00003.jpg"])
        XCTAssertEqual(gt.queries.map { $0.name }, ["ukbench00003.jpg", "ukbench00004.jpg", "ukbench00005.jpg"])
        XCTAssertEqual(gt.queries[0].relevant, [])                       // group 0: only itself present
        XCTAssertEqual(gt.queries[1].relevant, ["ukbench00005.jpg"])     // group 1 = 4...7
        XCTAssertThrowsError(try GroundTruth.ukbench(fileNames: ["ukbench0001.jpg"]))
        XCTAssertThrowsError(try GroundTruth.ukbench(fileNames: ["image00001.jpg"]))
    }

    func testExplicitFile() throws {
        let text = "# toy\r\nq1.jpg\ta.jpg\tb.jpg\r\n\nsub/q2.jpg\n"
        let gt = try GroundTruth.parse(text)
        XCTAssertEqual(gt.queries, [GroundTruth.Query(name: "q1.jpg", relevant: ["a.jpg", "b.jpg"]),
                                    GroundTruth.Query(name: "sub/q2.jpg", relevant: [])])
        XCTAssertThrowsError(try GroundTruth.parse("q\ta\n\nq\tb")) {
            XCTAssertEqual($0 as? GroundTruthError, .badLine(line: 3, "query 'q' is listed twice"))
        }
        XCTAssertThrowsError(try GroundTruth.parse("q\t\ta")) {
            guard case .badLine(1, _) = $0 as? GroundTruthError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try GroundTruth.parse("q\tq")) {
            guard case .badLine(1, _) = $0 as? GroundTruthError else { return XCTFail("\($0)") }
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gt-\(UUID().uuidString).tsv")
        defer { try? FileManager.default.removeItem(at: url) }
        try text.write(to: url, atomically: true, encoding: .utf8)
        XCTAssertEqual(try GroundTruth(contentsOf: url), gt)
        XCTAssertThrowsError(try GroundTruth(contentsOf: url.appendingPathExtension("missing")))
    }
}
