import Foundation
import XCTest
import TesseraCore
@testable import GlobalDescriptors

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
        XCTAssertThrowsError(try PCAWhitening(serialized: bad)) {
            XCTAssertEqual($0 as? WhiteningError, .checksumMismatch)
        }
        bad = bytes; bad[0] = 0
        XCTAssertThrowsError(try PCAWhitening(serialized: bad)) { XCTAssertEqual($0 as? WhiteningError, .badMagic) }
        bad = bytes; bad[4] = 9
        XCTAssertThrowsError(try PCAWhitening(serialized: bad)) {
            XCTAssertEqual($0 as? WhiteningError, .unsupportedVersion(9))
        }
        XCTAssertThrowsError(try PCAWhitening(serialized: Array(bytes.dropLast()))) {
            guard case .truncated = $0 as? WhiteningError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try w.apply([1, 2]))
        XCTAssertThrowsError(try PCAWhitening.learn(from: Matrix(rows: 1, cols: 3)))
    }
}

final class WhiteningShrinkageTests: XCTestCase {
    /// Ledoit–Wolf on a hand-checkable case: rows (±a, 0) and (0, ±b) (mean 0), so S = diag(a², b²)/2,
    /// λ = (a²/2, b²/2), μ_λ = (a² + b²)/4, δ² = (a² − b²)²/8 and Σ‖x̃‖⁴ = 2a⁴ + 2b⁴ (n = 4):
    /// b̄² = (2a⁴ + 2b⁴ − 4(a⁴ + b⁴)/4)/16 = (a⁴ + b⁴)/16, capped at δ².
    func testLedoitWolfIntensityByHand() throws {
        let a: Float = 3, b: Float = 1
        let x = Matrix(rows: 4, cols: 2, data: [a, 0, -a, 0, 0, b, 0, -b])
        let w = try PCAWhitening.learn(from: x, options: WhiteningOptions(outputDimension: 2, shrinkage: .ledoitWolf))
        let delta2 = Double((a * a - b * b) * (a * a - b * b)) / 8
        let bbar2 = Double(pow(a, 4) + pow(b, 4)) / 16
        let s = Float(min(bbar2, delta2) / delta2)
        XCTAssertEqual(w.shrinkage, s, accuracy: 1e-5)
        let mu = (a * a + b * b) / 4
        XCTAssertEqual(w.eigenvalues[0], (1 - s) * a * a / 2 + s * mu, accuracy: 1e-4)
        XCTAssertEqual(w.eigenvalues[1], (1 - s) * b * b / 2 + s * mu, accuracy: 1e-4)
        XCTAssertEqual(w.trainingCount, 4)
        // No shrinkage leaves the sample eigenvalues; a fixed s is clamped to [0, 1].
        let plain = try PCAWhitening.learn(from: x, options: WhiteningOptions(outputDimension: 2))
        XCTAssertEqual(plain.shrinkage, 0)
        XCTAssertEqual(plain.eigenvalues[0], a * a / 2, accuracy: 1e-4)
        let full = try PCAWhitening.learn(from: x, options: WhiteningOptions(outputDimension: 2, shrinkage: .fixed(3)))
        XCTAssertEqual(full.eigenvalues[0], mu, accuracy: 1e-4)
        XCTAssertEqual(full.eigenvalues[1], mu, accuracy: 1e-4)
    }

    /// Version 2 files keep the shrinkage and the training count; version 1 files still load.
    func testFileKeepsShrinkageAndReadsVersionOne() throws {
        var rng = SeededGenerator(seed: 9)
        let x = Matrix(rows: 30, cols: 5, data: (0..<150).map { _ in Float.random(in: -1...1, using: &rng) })
        let w = try PCAWhitening.learn(from: x, options: WhiteningOptions(shrinkage: .ledoitWolf))
        let back = try PCAWhitening(serialized: w.serialized())
        XCTAssertEqual(back, w)
        XCTAssertGreaterThan(back.shrinkage, 0)
        XCTAssertEqual(back.trainingCount, 30)
        // A version-1 file: the same bytes without the two version-2 fields, version 1, new checksum.
        var v1 = Array(w.serialized().dropLast(8))
        v1.removeSubrange(20..<28)
        v1[4] = 1
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in v1 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        withUnsafeBytes(of: h.littleEndian) { v1.append(contentsOf: $0) }
        let old = try PCAWhitening(serialized: v1)
        XCTAssertEqual(old.eigenvalues, w.eigenvalues)
        XCTAssertEqual(old.shrinkage, 0)
        XCTAssertEqual(old.trainingCount, 0)
    }

    /// A damaged header claiming d = k = 2³² − 1 (a size that overflows 64 bits) is refused as
    /// oversized, not a trap.
    func testAbsurdDimensionsAreRefused() throws {
        var rng = SeededGenerator(seed: 4)
        let x = Matrix(rows: 20, cols: 4, data: (0..<80).map { _ in Float.random(in: -1...1, using: &rng) })
        var bytes = try PCAWhitening.learn(from: x).serialized()
        for o in 8..<16 { bytes[o] = 0xFF }
        XCTAssertThrowsError(try PCAWhitening(serialized: bytes)) {
            guard case .truncated(let expected, _) = $0 as? WhiteningError else { return XCTFail("\($0)") }
            XCTAssertEqual(expected, Int.max)
        }
    }
}
