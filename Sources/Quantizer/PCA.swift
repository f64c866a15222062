import TesseraCore

/// PCA projection learned with a vocabulary (METHOD.md §1: "a PCA projection may reduce
/// dimension before quantisation"): y = normalise(C · (x − μ)), where μ is the training
/// mean and C (d'×d) holds the top-d' eigenvectors of the training covariance as rows.
/// No whitening (eigenvalues are kept for inspection only). Outputs are re-normalised
/// to unit L2 norm, because descriptors are L2-normalised before PCA and the
/// vocabulary works on the unit sphere (a zero vector stays zero).
public struct PCA: Sendable, Equatable {
    /// Training mean μ (d).
    public var mean: [Float]
    /// Components C (d'×d, rows orthonormal, by decreasing variance).
    public var components: Matrix
    /// Variance along each component (d').
    public var eigenvalues: [Float]

    public var inputDim: Int { components.cols }
    public var outputDim: Int { components.rows }

    public init(mean: [Float], components: Matrix, eigenvalues: [Float]) {
        self.mean = mean; self.components = components; self.eigenvalues = eigenvalues
    }

    /// Learns μ and the top `outputDim` components from `data` (n×d) (`PrincipalComponents`).
    public static func learn(data: Matrix, outputDim: Int) throws -> PCA {
        let pc = try PrincipalComponents.learn(from: data, count: outputDim)
        return PCA(mean: pc.mean, components: pc.components, eigenvalues: pc.eigenvalues)
    }

    /// Projects every row of `x` (n×d) to d' dimensions and L2-normalises it.
    public func apply(_ x: Matrix) -> Matrix {
        precondition(x.cols == inputDim, "PCA.apply: \(x.cols) columns, expected \(inputDim)")
        let n = x.rows, d = inputDim, dOut = outputDim
        var out = Matrix(rows: n, cols: dOut)
        let block = 4096
        x.withUnsafeBufferPointer { xp in
        components.withUnsafeBufferPointer { cp in
        out.withUnsafeMutableBufferPointer { op in
            let ob = op.baseAddress!
            var centred = [Float](repeating: 0, count: min(block, max(1, n)) * d)
            centred.withUnsafeMutableBufferPointer { bp in
                var s = 0
                while s < n {
                    let r = min(block, n - s)
                    let bb = bp.baseAddress!
                    parallelChunks(count: r, chunk: 512) { rr in
                        for i in rr { for j in 0..<d { bb[i * d + j] = xp[(s + i) * d + j] - mean[j] } }
                    }
                    Kernels.sgemm(transB: true, m: r, n: dOut, k: d, a: bb, lda: d, b: cp.baseAddress!, ldb: d,
                                  c: ob + s * dOut, ldc: dOut)
                    s += r
                }
            }
            parallelChunks(count: n, chunk: 4096) { rr in
                for i in rr {
                    let row = ob + i * dOut
                    var s: Float = 0
                    for j in 0..<dOut { s += row[j] * row[j] }
                    if s > 0 { let inv = 1 / s.squareRoot(); for j in 0..<dOut { row[j] *= inv } }
                }
            }
        }}}
        return out
    }
}
