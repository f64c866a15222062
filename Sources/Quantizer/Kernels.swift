import COpenBLAS
import Foundation

/// Small numeric kernels shared by the quantizer (internal).
enum Kernels {
    /// Squared L2 distance between two `d`-vectors (SIMD, two accumulators).
    @inline(__always)
    static func squaredL2(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ d: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 16 <= d {
            let x0 = ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                - rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            let x1 = ra.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self)
                - rb.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self)
            acc0 = acc0 + x0 * x0
            acc1 = acc1 + x1 * x1
            i += 16
        }
        if i + 8 <= d {
            let x0 = ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                - rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            acc0 = acc0 + x0 * x0
            i += 8
        }
        var s = (acc0 + acc1).sum()
        while i < d { let t = a[i] - b[i]; s += t * t; i += 1 }
        return s
    }

    /// Squared L2 norm of every row of a row-major `rows`×`d` block.
    static func rowNorms(_ p: UnsafePointer<Float>, rows: Int, d: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows)
        out.withUnsafeMutableBufferPointer { o in
            let ob = o.baseAddress!
            parallelChunks(count: rows, chunk: 4096) { r in
                for i in r {
                    var s: Float = 0
                    let row = p + i * d
                    for j in 0..<d { s += row[j] * row[j] }
                    ob[i] = s
                }
            }
        }
        return out
    }

    /// C = alpha · op(A) · op(B) + beta · C, row-major, via OpenBLAS `cblas_sgemm`.
    static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

/// Runs `body` over `0..<count` split into fixed chunks of `chunk` items, on all cores.
/// The partition depends only on `count` and `chunk`, so results are reproducible.
func parallelChunks(count: Int, chunk: Int, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let c = max(1, chunk)
    let n = (count + c - 1) / c
    if n == 1 { body(0..<count); return }
    DispatchQueue.concurrentPerform(iterations: n) { i in body((i * c)..<min(count, (i + 1) * c)) }
}

/// A tiny sorted top-k buffer (ascending distance, ties keep the lower index) used per query.
struct TopK {
    var dist: [Float]
    var idx: [UInt32]
    let k: Int
    init(k: Int) {
        self.k = k
        dist = [Float](repeating: .infinity, count: k)
        idx = [UInt32](repeating: UInt32.max, count: k)
    }
    @inline(__always) var worst: Float { dist[k - 1] }
    @inline(__always) mutating func reset() {
        for j in 0..<k { dist[j] = .infinity; idx[j] = UInt32.max }
    }
    /// Inserts (d, i) when it beats the current worst; ties go after equal distances.
    @inline(__always) mutating func insert(_ d: Float, _ i: UInt32) {
        guard d < dist[k - 1] else { return }
        var j = k - 1
        while j > 0 && dist[j - 1] > d { dist[j] = dist[j - 1]; idx[j] = idx[j - 1]; j -= 1 }
        dist[j] = d; idx[j] = i
    }
}
