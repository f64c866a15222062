import COpenBLAS

/// The leading principal components of a set of row vectors: the mean μ, and the leading
/// eigenvalues and unit eigenvectors of the covariance (1/n)·X̃ᵀX̃ of the centred rows X̃.
/// One routine for both users: the descriptor PCA of a vocabulary (Quantizer's `PCA`) and the
/// PCA-whitening of global descriptors (GlobalDescriptors' `PCAWhitening`).
public struct PrincipalComponents: Sendable, Equatable {
    /// μ, the mean row (d).
    public let mean: [Float]
    /// The leading eigenvalues λ of the covariance, descending (count).
    public let eigenvalues: [Float]
    /// The matching unit eigenvectors, one per row (count × d), each with its largest-magnitude
    /// entry positive (`SymmetricEigen`), so results are deterministic.
    public let components: Matrix
    /// Every eigenvalue of the covariance (d), descending: what is left out of `eigenvalues` too.
    public let spectrum: [Float]

    /// Learns the `count` leading components of `data` (n × d, one vector per row). The mean
    /// is summed in double precision; the covariance is accumulated by SGEMM over centred blocks
    /// of 4,096 rows, so memory stays O(4096 · d + d²) for any n; it is symmetrised before LAPACK
    /// `ssyevd` (`SymmetricEigen.decompose`). `count` is clamped to 1...d.
    public static func learn(from data: Matrix, count: Int) throws -> PrincipalComponents {
        let n = data.rows, d = data.cols
        let kept = max(1, min(count, d))
        var sum = [Double](repeating: 0, count: d)
        data.withUnsafeBufferPointer { p in
            for i in 0..<n { for j in 0..<d { sum[j] += Double(p[i * d + j]) } }
        }
        let mean = sum.map { Float($0 / Double(max(1, n))) }
        var cov = [Float](repeating: 0, count: d * d)
        let block = 4096
        var centred = [Float](repeating: 0, count: min(block, max(1, n)) * d)
        data.withUnsafeBufferPointer { p in
            cov.withUnsafeMutableBufferPointer { c in
                centred.withUnsafeMutableBufferPointer { b in
                    var start = 0
                    while start < n {
                        let rows = min(block, n - start)
                        for i in 0..<rows { for j in 0..<d { b[i * d + j] = p[(start + i) * d + j] - mean[j] } }
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(d), Int32(d), Int32(rows),
                                    1 / Float(max(1, n)), b.baseAddress, Int32(d), b.baseAddress, Int32(d),
                                    start == 0 ? 0 : 1, c.baseAddress, Int32(d))
                        start += rows
                    }
                }
            }
        }
        // Symmetrise: the two triangles of an SGEMM product may differ in rounding.
        for i in 0..<d {
            for j in (i + 1)..<max(i + 1, d) {
                let v = (cov[i * d + j] + cov[j * d + i]) / 2
                cov[i * d + j] = v
                cov[j * d + i] = v
            }
        }
        let (values, vectors) = try SymmetricEigen.decompose(cov, dimension: d)
        return PrincipalComponents(mean: mean, eigenvalues: Array(values[0..<kept]),
                                   components: Matrix(rows: kept, cols: d, data: Array(vectors[0..<(kept * d)])),
                                   spectrum: values)
    }
}
