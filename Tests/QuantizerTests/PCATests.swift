import Quantizer
import TesseraCore
import XCTest

final class PCATests: XCTestCase {
    func testRecoversDominantAxesAndNormalises() throws {
        // Data stretched ×10 along axis 2 and ×3 along axis 0 of a 5-d space.
        var g = SeededGenerator(seed: 31)
        let n = 2000
        var data = [Float]()
        for _ in 0..<n {
            data += [3 * g.nextGaussian(), 0.1 * g.nextGaussian(), 10 * g.nextGaussian() + 1, 0.1 * g.nextGaussian(),
                     0.1 * g.nextGaussian()]
        }
        let x = Matrix(rows: n, cols: 5, data: data)
        let p = try PCA.learn(data: x, outputDim: 2)
        XCTAssertEqual(p.mean[2], 1, accuracy: 0.5)
        XCTAssertEqual(abs(p.components[0, 2]), 1, accuracy: 0.01)
        XCTAssertEqual(abs(p.components[1, 0]), 1, accuracy: 0.01)
        XCTAssertEqual(p.eigenvalues[0], 100, accuracy: 10)
        XCTAssertEqual(p.eigenvalues[1], 9, accuracy: 1.5)
        let y = p.apply(x)
        XCTAssertEqual(y.cols, 2)
        for i in 0..<20 { XCTAssertEqual(y[i, 0] * y[i, 0] + y[i, 1] * y[i, 1], 1, accuracy: 1e-4) }
        // y ∝ C·(x − μ) before normalisation.
        let c0 = (0..<5).map { j in (x[3, j] - p.mean[j]) }.enumerated()
            .reduce(Float(0)) { $0 + $1.element * p.components[0, $1.offset] }
        let c1 = (0..<5).map { j in (x[3, j] - p.mean[j]) }.enumerated()
            .reduce(Float(0)) { $0 + $1.element * p.components[1, $1.offset] }
        XCTAssertEqual(y[3, 0] / y[3, 1], c0 / c1, accuracy: 1e-3 * abs(c0 / c1) + 1e-4)
    }
}
