import Foundation
import XCTest
import TesseraCore

/// `.npy` files: round trip through several write chunks (the path taken by payloads over
/// 2 GiB, where one write(2) is short), and clear errors on truncated or foreign files.
final class NpyFileTests: XCTestCase {
    func testRoundTripAcrossWriteChunksAndErrors() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("npy-\(getpid())-\(UUID().uuidString).npy")
        defer { try? FileManager.default.removeItem(at: url) }
        let values = (0..<1_003).map { Float($0) * 0.5 - 7 }
        try NpyFile.write(values, shape: [17, 59], to: url, chunkBytes: 100)
        let (back, shape) = try NpyFile.read(url)
        XCTAssertEqual(shape, [17, 59])
        XCTAssertEqual(back, values)
        let bytes = try Data(contentsOf: url)
        XCTAssertEqual(bytes.count % 64, (128 + 4 * values.count) % 64)  // 64-byte-aligned header, then the payload
        // Overwriting a longer file with a shorter array leaves no stale tail.
        try NpyFile.write([1, 2, 3], shape: [3], to: url, chunkBytes: 2)
        XCTAssertEqual(try NpyFile.read(url).values, [1, 2, 3])
        try Data(bytes.prefix(bytes.count - 4)).write(to: url)
        XCTAssertThrowsError(try NpyFile.read(url)) { XCTAssertTrue("\($0)".contains("truncated data"), "\($0)") }
        // A matrix is written from its storage: same bytes as its values.
        let m = Matrix(rows: 3, cols: 2, data: [1, -2, 3.5, 4, 5, 6])
        try NpyFile.write(m, to: url)
        XCTAssertEqual(try NpyFile.read(url).values, m.data)
        XCTAssertEqual(try NpyFile.read(url).shape, [3, 2])
        XCTAssertThrowsError(try NpyFile.write(values, shape: [17, 59],
                                               to: URL(fileURLWithPath: "/nonexistent-dir/x.npy"))) {
            guard case .io = $0 as? NpyError else { return XCTFail("\($0)") }
        }
        try Data("not numpy".utf8).write(to: url)
        XCTAssertThrowsError(try NpyFile.read(url)) { XCTAssertTrue("\($0)".contains("bad magic"), "\($0)") }
    }
}
