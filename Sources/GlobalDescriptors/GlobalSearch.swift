import COpenBLAS
import TesseraCore

/// Exhaustive global search and query/database expansion over L2-normalised vectors.
public enum GlobalSearch {
    /// Cosines of the L2-normalised `query` with every row of `database` (n×d, rows
    /// L2-normalised), by one SGEMV. Index = row (= image id).
    public static func cosines(query: [Float], database: Matrix) throws -> [Float] {
        guard query.count == database.cols else {
            throw GlobalDescriptorError.dimensionMismatch(expected: database.cols, got: query.count)
        }
        var out = [Float](repeating: 0, count: database.rows)
        if database.rows > 0 {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(database.rows), Int32(database.cols), 1,
                        database.data, Int32(database.cols), query, 1, 0, &out, 1)
        }
        return out
    }

    /// Cosines of `query` with the rows `ids` of `database` (row = image id), in that order; an
    /// id with no row gets 0. The reranking stage needs them for the top K of a list only.
    public static func cosines(query: [Float], database: Matrix, ids: [ImageID]) throws -> [Float] {
        guard query.count == database.cols else {
            throw GlobalDescriptorError.dimensionMismatch(expected: database.cols, got: query.count)
        }
        return ids.map { Int($0) < database.rows ? VectorMath.dot(query, database, row: Int($0)) : 0 }
    }

    /// α-query expansion (αQE, Radenović et al. TPAMI 2018): the new query is
    /// L2( q + Σ_{i < n} max(sim_i, 0)^α · x_i ) over the first `n` of `neighbours`
    /// (image, cosine to q), best first; the query itself has weight 1.
    public static func alphaQueryExpansion(query: [Float], neighbours: [(ImageID, Float)], database: Matrix,
                                           n: Int, alpha: Float = 3) throws -> [Float] {
        guard query.count == database.cols else {
            throw GlobalDescriptorError.dimensionMismatch(expected: database.cols, got: query.count)
        }
        var out = query
        for (id, sim) in neighbours.prefix(max(n, 0)) where Int(id) < database.rows {
            let w = Float(pow(Double(max(sim, 0)), Double(alpha)))
            let o = Int(id) * database.cols
            for c in 0..<database.cols { out[c] += w * database.data[o + c] }
        }
        VectorMath.l2Normalize(&out)
        return out
    }

    /// Database-side augmentation (DBA): every row x_i becomes
    /// L2( x_i + Σ_{j ∈ top-n neighbours of i, j ≠ i} max(cos_ij, 0)^α · x_j ),
    /// with neighbours from the ORIGINAL vectors (rows L2-normalised). Similarities are
    /// computed by SGEMM in blocks of rows, so memory stays O(block · n_rows).
    public static func databaseAugmentation(_ database: Matrix, n: Int, alpha: Float = 3) -> Matrix {
        let rows = database.rows, d = database.cols
        guard rows > 0, n > 0 else { return database }
        var out = database.data
        let block = 256
        var sims = [Float](repeating: 0, count: block * rows)
        var start = 0
        while start < rows {
            let b = min(block, rows - start)
            database.data.withUnsafeBufferPointer { x in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(b), Int32(rows), Int32(d), 1,
                            x.baseAddress! + start * d, Int32(d), x.baseAddress, Int32(d), 0, &sims, Int32(rows))
            }
            for r in 0..<b {
                let i = start + r
                var row = Array(sims[(r * rows)..<((r + 1) * rows)])
                row[i] = -.infinity  // itself has weight 1, added below
                var v = Array(database.data[(i * d)..<((i + 1) * d)])
                for (j, s) in topK(scores: row, k: min(n, rows - 1)) {
                    let w = Float(pow(Double(max(s, 0)), Double(alpha)))
                    let o = Int(j) * d
                    for c in 0..<d { v[c] += w * database.data[o + c] }
                }
                VectorMath.l2Normalize(&v)
                out.replaceSubrange((i * d)..<((i + 1) * d), with: v)
            }
            start += b
        }
        return Matrix(rows: rows, cols: d, data: out)
    }
}

import Foundation
