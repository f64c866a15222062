import COpenBLAS
import TesseraCore

/// Parameters of global-descriptor reranking (METHOD.md §5).
public struct RerankOptions: Sendable, Equatable {
    /// Weight β of the global cosine in the combined score. Default 0.5.
    public var beta: Float = 0.5
    /// Depth K: only the first K entries of the inverted-file list are re-scored. Default 100.
    public var depth: Int = 100
    public init(beta: Float = 0.5, depth: Int = 100) { self.beta = beta; self.depth = depth }
}

/// Reranking of an inverted-file result list with global descriptors.
public enum Reranker {
    /// Re-scores the first K = `options.depth` entries of `list` (image, bowScore), best first:
    ///
    ///     combined = (1 − β) · bow / bowMax + β · cos
    ///
    /// where bowMax is the largest BoW score among those K (1 if it is ≤ 0) and
    /// `cosines[i]` is the global cosine of `list[i]` (needed for the first K entries).
    /// The K entries are re-sorted by combined score (ties: smaller image id); everything
    /// after K keeps its order and its original BoW score.
    public static func rerank(_ list: [(ImageID, Float)], cosines: [Float],
                              options: RerankOptions = RerankOptions()) throws -> [(ImageID, Float)] {
        let k = min(max(options.depth, 0), list.count)
        guard cosines.count >= k else { throw GlobalDescriptorError.dimensionMismatch(expected: k, got: cosines.count) }
        guard k > 0 else { return list }
        let bowMax = list[0..<k].map { $0.1 }.max() ?? 1
        let scale: Float = bowMax > 0 ? 1 / bowMax : 1
        let b = options.beta
        var head = (0..<k).map { i in (list[i].0, (1 - b) * list[i].1 * scale + b * cosines[i]) }
        head.sort { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        return head + list[k...]
    }

    /// `rerank`, then α-query expansion (`GlobalSearch.alphaQueryExpansion`) of `query` over
    /// the first `queryExpansion` entries of that reranked list, and `list` reranked again with
    /// the expanded query (METHOD.md §5). `queryExpansion` 0 is plain `rerank`.
    public static func rerank(_ list: [(ImageID, Float)], query: [Float], database: Matrix,
                              options: RerankOptions = RerankOptions(), queryExpansion n: Int) throws -> [(ImageID, Float)] {
        let first = try rerank(list, query: query, database: database, options: options)
        guard n > 0 else { return first }
        let neighbours = first.prefix(n).map { e -> (ImageID, Float) in
            (e.0, Int(e.0) < database.rows ? VectorMath.dot(query, database, row: Int(e.0)) : 0)
        }
        let expanded = try GlobalSearch.alphaQueryExpansion(query: query, neighbours: neighbours, database: database, n: n)
        return try rerank(list, query: expanded, database: database, options: options)
    }

    /// `rerank` with cosines computed against `database` (row = image id, rows L2-normalised)
    /// for the L2-normalised `query`.
    public static func rerank(_ list: [(ImageID, Float)], query: [Float], database: Matrix,
                              options: RerankOptions = RerankOptions()) throws -> [(ImageID, Float)] {
        guard query.count == database.cols else {
            throw GlobalDescriptorError.dimensionMismatch(expected: database.cols, got: query.count)
        }
        let k = min(max(options.depth, 0), list.count)
        let cos = list[0..<k].map { e -> Float in
            Int(e.0) < database.rows ? VectorMath.dot(query, database, row: Int(e.0)) : 0
        }
        return try rerank(list, cosines: cos, options: options)
    }
}

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
