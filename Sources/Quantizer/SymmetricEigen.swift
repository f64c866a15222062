import Foundation

/// Errors of the quantizer's linear algebra.
public enum LinearAlgebraError: Error, CustomStringConvertible {
    /// LAPACK's `ssyevd_` is not exported by the loaded OpenBLAS.
    case lapackMissing(String)
    /// LAPACK returned a non-zero `info`.
    case lapackFailed(routine: String, info: Int32)
    public var description: String {
        switch self {
        case .lapackMissing(let s): return "LAPACK symbol \(s) not found in the loaded OpenBLAS"
        case .lapackFailed(let r, let info): return "LAPACK \(r) failed with info = \(info)"
        }
    }
}

private typealias SSYEVD = @convention(c) (
    UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafePointer<Int32>, UnsafeMutablePointer<Float>,
    UnsafePointer<Int32>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafePointer<Int32>,
    UnsafeMutablePointer<Int32>, UnsafePointer<Int32>, UnsafeMutablePointer<Int32>) -> Void

/// Eigen-decomposition of a symmetric d×d matrix with LAPACK `ssyevd_` (divide and conquer),
/// which OpenBLAS exports; the symbol is resolved at run time with `dlsym` (the COpenBLAS shim
/// only declares CBLAS). Returns eigenvalues in DESCENDING order and the matching unit
/// eigenvectors as rows (row i ↔ value i), each with its largest-magnitude entry made
/// positive so the result is deterministic.
func symmetricEigen(_ a: [Float], d: Int) throws -> (values: [Float], vectors: [Float]) {
    guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "ssyevd_") else {  // RTLD_DEFAULT
        throw LinearAlgebraError.lapackMissing("ssyevd_")
    }
    let ssyevd = unsafeBitCast(sym, to: SSYEVD.self)
    // Column-major = row-major transpose; the matrix is symmetric, so no copy is needed.
    var m = a
    var w = [Float](repeating: 0, count: d)
    var n = Int32(d), lda = Int32(max(1, d)), info: Int32 = 0
    var lwork: Int32 = -1, liwork: Int32 = -1
    var wq: Float = 0, iwq: Int32 = 0
    "V".withCString { jobz in "U".withCString { uplo in
        ssyevd(jobz, uplo, &n, &m, &lda, &w, &wq, &lwork, &iwq, &liwork, &info)
    }}
    if info != 0 { throw LinearAlgebraError.lapackFailed(routine: "ssyevd_ (query)", info: info) }
    lwork = Int32(wq); liwork = iwq
    var work = [Float](repeating: 0, count: Int(lwork))
    var iwork = [Int32](repeating: 0, count: Int(liwork))
    "V".withCString { jobz in "U".withCString { uplo in
        ssyevd(jobz, uplo, &n, &m, &lda, &w, &work, &lwork, &iwork, &liwork, &info)
    }}
    if info != 0 { throw LinearAlgebraError.lapackFailed(routine: "ssyevd_", info: info) }
    // Column j of the column-major result (= row j of `m` read row-major) is eigenvector j (ascending).
    var values = [Float](), vectors = [Float]()
    values.reserveCapacity(d); vectors.reserveCapacity(d * d)
    for j in stride(from: d - 1, through: 0, by: -1) {
        var v = Array(m[(j * d)..<((j + 1) * d)])
        var big = 0
        for t in 1..<max(1, d) where abs(v[t]) > abs(v[big]) { big = t }
        if d > 0 && v[big] < 0 { for t in 0..<d { v[t] = -v[t] } }
        values.append(w[j]); vectors += v
    }
    return (values, vectors)
}
