import TesseraCore

/// Exact nearest-centroid search: ||x||² − 2·x·c + ||c||² with the dot products from one
/// `cblas_sgemm` per block of queries (OpenBLAS threads), then a parallel top-k scan of
/// each block's distance rows. Memory stays bounded by `blockFloats` floats per block.
public final class ExactSearcher: NearestCentroidSearcher, @unchecked Sendable {
    public let centroids: Matrix
    private let norms: [Float]
    /// Upper bound on the size (in floats) of one block's query×centroid product (default 16 Mi = 64 MiB).
    public let blockFloats: Int

    public init(centroids: Matrix, blockFloats: Int = 16 << 20) {
        self.centroids = centroids
        self.blockFloats = max(1, blockFloats)
        norms = centroids.withUnsafeBufferPointer {
            Kernels.rowNorms($0.baseAddress ?? UnsafePointer(bitPattern: 8)!, rows: centroids.rows, d: centroids.cols)
        }
    }

    public func search(queries: Matrix, k: Int) -> (words: [UInt32], distances: [Float]) {
        precondition(queries.cols == centroids.cols,
                     "ExactSearcher: query dim \(queries.cols) ≠ centroid dim \(centroids.cols)")
        let n = queries.rows, kc = centroids.rows, d = centroids.cols
        var words = [UInt32](repeating: QuantizedLayer.none, count: n * k)
        var dists = [Float](repeating: .infinity, count: n * k)
        guard n > 0, k > 0, kc > 0 else { return (words, dists) }
        let kk = min(k, kc)
        let block = max(1, min(n, blockFloats / kc))
        let qNorms = queries.withUnsafeBufferPointer { Kernels.rowNorms($0.baseAddress!, rows: n, d: d) }
        var prod = [Float](repeating: 0, count: block * kc)
        words.withUnsafeMutableBufferPointer { wp in
        dists.withUnsafeMutableBufferPointer { dp in
        prod.withUnsafeMutableBufferPointer { pp in
        queries.withUnsafeBufferPointer { qp in
        centroids.withUnsafeBufferPointer { cp in
        norms.withUnsafeBufferPointer { cn in
            let wb = wp.baseAddress!, db = dp.baseAddress!, pb = pp.baseAddress!, cnb = cn.baseAddress!
            var start = 0
            while start < n {
                let rows = min(block, n - start)
                Kernels.sgemm(transB: true, m: rows, n: kc, k: d, a: qp.baseAddress! + start * d, lda: d,
                              b: cp.baseAddress!, ldb: d, c: pb, ldc: kc)
                parallelChunks(count: rows, chunk: 64) { r in
                    var top = TopK(k: kk)
                    for i in r {
                        top.reset()
                        let row = pb + i * kc
                        for j in 0..<kc {
                            let v = cnb[j] - 2 * row[j]
                            if v < top.worst { top.insert(v, UInt32(j)) }
                        }
                        let q = start + i, qn = qNorms[q]
                        for j in 0..<kk {
                            wb[q * k + j] = top.idx[j]
                            db[q * k + j] = max(0, top.dist[j] + qn)
                        }
                    }
                }
                start += rows
            }
        }}}}}}
        return (words, dists)
    }
}
