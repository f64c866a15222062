import Foundation
import XCTest
import TesseraCore
@testable import Fusion

final class WhiteningTests: XCTestCase {
    /// n×d correlated Gaussian data x = A z + offset.
    func synthetic(n: Int, d: Int, seed: UInt64) -> Matrix {
        var rng = SeededGenerator(seed: seed)
        let a = (0..<(d * d)).map { _ in rng.nextGaussian() }
        var data = [Float](repeating: 0, count: n * d)
        for r in 0..<n {
            let z = (0..<d).map { _ in rng.nextGaussian() }
            for i in 0..<d { data[r * d + i] = 5 + Float(i) + (0..<d).reduce(0) { $0 + a[i * d + $1] * z[$1] } }
        }
        return Matrix(rows: n, cols: d, data: data)
    }

    func testWhitenedTrainingDataHasIdentityCovariance() throws {
        let x = synthetic(n: 400, d: 8, seed: 1)
        let w = try PCAWhitening.learn(from: x, options: WhiteningOptions(outputDimension: 8))
        XCTAssertEqual(w.eigenvalues, w.eigenvalues.sorted(by: >))
        let y = try w.apply(rows: x, normalize: false)
        for i in 0..<8 {
            for j in 0..<8 {
                var s: Double = 0
                for r in 0..<y.rows { s += Double(y[r, i]) * Double(y[r, j]) }
                XCTAssertEqual(s / Double(y.rows), i == j ? 1 : 0, accuracy: 1e-3, "cov[\(i),\(j)]")
            }
        }
        // apply(_:) on one vector = L2-normalised row of apply(rows:).
        let one = try w.apply(x.row(3))
        let row = try w.apply(rows: x).row(3)
        XCTAssertEqual(one.count, row.count)
        for (a, b) in zip(one, row) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testDimensionCutAndSerialisationRoundTrip() throws {
        let x = synthetic(n: 50, d: 6, seed: 2)
        let w = try PCAWhitening.learn(from: x, options: WhiteningOptions(outputDimension: 3))
        XCTAssertEqual(w.outputDimension, 3)
        let bytes = w.serialized()
        let back = try PCAWhitening(serialized: bytes)
        XCTAssertEqual(back, w)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("whiten-\(UUID().uuidString).bin")
        defer { try? FileManager.default.removeItem(at: url) }
        try w.write(to: url)
        XCTAssertEqual(try PCAWhitening(contentsOf: url), w)

        var bad = bytes; bad[30] ^= 1
        XCTAssertThrowsError(try PCAWhitening(serialized: bad)) { XCTAssertEqual($0 as? WhiteningError, .checksumMismatch) }
        bad = bytes; bad[0] = 0
        XCTAssertThrowsError(try PCAWhitening(serialized: bad)) { XCTAssertEqual($0 as? WhiteningError, .badMagic) }
        bad = bytes; bad[4] = 9
        XCTAssertThrowsError(try PCAWhitening(serialized: bad)) { XCTAssertEqual($0 as? WhiteningError, .unsupportedVersion(9)) }
        XCTAssertThrowsError(try PCAWhitening(serialized: Array(bytes.dropLast()))) {
            guard case .truncated = $0 as? WhiteningError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try w.apply([1, 2]))
        XCTAssertThrowsError(try PCAWhitening.learn(from: Matrix(rows: 1, cols: 3)))
    }
}
