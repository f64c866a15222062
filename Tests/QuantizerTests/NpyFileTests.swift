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

    /// Headers that lie: cut short after a version-2 prefix, a negative or overflowing shape,
    /// an unknown version. Each is refused as malformed before anything is allocated.
    func testLyingHeadersAreRefused() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("npy-lies-\(getpid())-\(UUID().uuidString).npy")
        defer { try? FileManager.default.removeItem(at: url) }
        func file(version: UInt8, header: String, payload: Int = 0) -> Data {
            let h = Array(header.utf8)
            var d: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
            d += version == 1 ? [UInt8(h.count & 0xFF), UInt8(h.count >> 8)] : [UInt8(h.count & 0xFF), 0, 0, 0]
            return Data(d + h + [UInt8](repeating: 0, count: payload))
        }
        func shape(_ s: String) -> String { "{'descr': '<f4', 'fortran_order': False, 'shape': (\(s)), }" }
        let cases: [(Data, String)] = [
            (Data([0x93] + Array("NUMPY".utf8) + [2, 0, 0x10, 0]), "truncated header"),  // 10 bytes, version 2
            (file(version: 9, header: shape("1,")), "unknown format version"),
            (file(version: 1, header: shape("-3, 4"), payload: 16), "impossible shape"),
            (file(version: 1, header: shape("1099511627776, 1099511627776"), payload: 16), "impossible shape"),
            (file(version: 2, header: shape("4611686018427387904,"), payload: 16), "impossible shape"),
            (file(version: 2, header: shape("3, 2"), payload: 20), "truncated data"),
        ]
        for (bytes, why) in cases {
            try bytes.write(to: url)
            XCTAssertThrowsError(try NpyFile.read(url), why) {
                guard case .malformed = $0 as? NpyError else { return XCTFail("\($0)") }
                XCTAssertTrue("\($0)".contains(why), "\($0)")
            }
        }
        try file(version: 2, header: shape("3, 2"), payload: 24).write(to: url)
        XCTAssertEqual(try NpyFile.read(url).shape, [3, 2])
    }
}
