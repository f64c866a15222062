@testable import Quantizer
import TesseraCore
import XCTest

final class HammingEmbeddingTests: XCTestCase {
    func testProjectionRowsOrthonormal() {
        for (bits, d) in [(64, 64), (128, 32)] {   // second case: stacked blocks when bits > d
            let p = HammingEmbedding.randomProjection(bits: bits, dim: d, seed: 5)
            XCTAssertEqual(p.rows, bits)
            for a in 0..<min(bits, d) {
                for b in a..<min(bits, d) {
                    var dot: Float = 0
                    for j in 0..<d { dot += p[a, j] * p[b, j] }
                    XCTAssertEqual(dot, a == b ? 1 : 0, accuracy: 1e-4, "rows \(a), \(b)")
                }
            }
        }
        XCTAssertEqual(HammingEmbedding.randomProjection(bits: 64, dim: 16, seed: 9),
                       HammingEmbedding.randomProjection(bits: 64, dim: 16, seed: 9))
    }

    func testThresholdsSplitEachWordInHalfPerBit() {
        let d = 16, words = 6
        let x = Synthetic.uniform(6 * 41 + 3, d, seed: 21)        // odd and even word sizes, one small word
        let assignment = (0..<x.rows).map { i in UInt32(i < 3 ? 5 : i % 5) }  // word 5 has 3 rows (< minimum)
        let p = HammingEmbedding.randomProjection(bits: 128, dim: d, seed: 1)
        let he = HammingEmbedding.train(projection: p, data: x, assignment: assignment, words: words)
        let sigs = he.signatures(x, words: assignment, k: 1)
        for w in 0..<5 {
            let rows = (0..<x.rows).filter { assignment[$0] == UInt32(w) }
            XCTAssertGreaterThanOrEqual(rows.count, HammingEmbedding.minimumDescriptorsPerWord)
            for b in 0..<128 {
                let above = rows.filter { sigs[$0 * 2 + b / 64] >> UInt64(b % 64) & 1 == 1 }.count
                XCTAssertLessThanOrEqual(abs(above - (rows.count - above)), 1, "word \(w) bit \(b)")
            }
        }
        // The small word falls back to the global per-bit median.
        let proj = HammingEmbedding.project(projection: p, x)
        for b in [0, 77] {
            var col = (0..<x.rows).map { proj[$0, b] }[...]
            XCTAssertEqual(he.thresholds[5, b], median(&col))
        }
    }

    func testSignaturesDeterministicAndMatchDefinition() {
        let x = Synthetic.uniform(50, 8, seed: 22)
        let p = HammingEmbedding.randomProjection(bits: 64, dim: 8, seed: 2)
        let he = HammingEmbedding.train(projection: p, data: x, assignment: [UInt32](repeating: 0, count: 50), words: 1)
        let a = he.signatures(x, words: [UInt32](repeating: 0, count: 50), k: 1)
        XCTAssertEqual(a, he.signatures(x, words: [UInt32](repeating: 0, count: 50), k: 1))
        let one = he.signature(x.row(7), word: 0)
        XCTAssertEqual(one, [a[7]])
        for b in 0..<64 {
            var v: Float = 0
            for j in 0..<8 { v += p[b, j] * x[7, j] }
            XCTAssertEqual(one[0] >> UInt64(b) & 1 == 1, v > he.thresholds[0, b], "bit \(b)")
        }
        // `none` assignments get zero signatures.
        XCTAssertEqual(he.signatures(Matrix(rows: 1, cols: 8, data: x.row(0)), words: [QuantizedLayer.none], k: 1), [0])
    }

    func testMedian() {
        var a: ArraySlice<Float> = [5, 1, 4, 2, 3]
        XCTAssertEqual(median(&a), 3)
        var b: ArraySlice<Float> = [4, 1, 3, 2]
        XCTAssertEqual(median(&b), 2.5)
    }
}
