import COpenBLAS

/// Small dense-vector helpers shared by global descriptors and reranking.
public enum VectorMath {
    /// Scales `v` to unit L2 norm in place (a zero vector stays zero).
    public static func l2Normalize(_ v: inout [Float]) {
        var s: Double = 0
        for x in v { s += Double(x) * Double(x) }
        guard s > 0 else { return }
        let inv = Float(1 / s.squareRoot())
        for i in v.indices { v[i] *= inv }
    }

    public static func l2Normalized(_ v: [Float]) -> [Float] { var w = v; l2Normalize(&w); return w }

    /// Dot product of `a` with row `r` of `m` (`m.cols == a.count`), read in place (a mapped
    /// matrix is not copied).
    public static func dot(_ a: [Float], _ m: Matrix, row r: Int) -> Float {
        precondition(a.count == m.cols && r < m.rows, "dot: \(a.count) values against row \(r) of \(m.rows)x\(m.cols)")
        return a.withUnsafeBufferPointer { pa in
            m.withUnsafeBufferPointer { pm in
                cblas_sdot(Int32(a.count), pa.baseAddress, 1, pm.baseAddress! + r * m.cols, 1)
            }
        }
    }
}
