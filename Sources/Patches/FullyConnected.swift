import COpenBLAS
import TesseraCore

/// A fully-connected layer on row vectors: Y (n×out) = X (n×in) · Wᵀ + b, one SGEMM.
enum FullyConnected {
    static func apply(weights: [Float], bias: [Float], outputs: Int, to x: Matrix) -> Matrix {
        var y = [Float](repeating: 0, count: x.rows * outputs)
        for r in 0..<x.rows { for c in 0..<outputs { y[r * outputs + c] = bias[c] } }
        if x.rows > 0 {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(x.rows), Int32(outputs), Int32(x.cols),
                        1, x.data, Int32(x.cols), weights, Int32(x.cols), 1, &y, Int32(outputs))
        }
        return Matrix(rows: x.rows, cols: outputs, data: y)
    }
}
