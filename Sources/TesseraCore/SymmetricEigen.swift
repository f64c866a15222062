import Foundation

/// Errors of the shared linear algebra.
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

/// Fortran ABI: every argument by pointer, then the hidden lengths of the two strings.
private typealias SSYEVD = @convention(c) (
    UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafePointer<Int32>, UnsafeMutablePointer<Float>,
    UnsafePointer<Int32>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafePointer<Int32>,
    UnsafeMutablePointer<Int32>, UnsafePointer<Int32>, UnsafeMutablePointer<Int32>, Int, Int) -> Void

/// Eigen-decomposition of symmetric matrices (PCA of descriptors, PCA-whitening of global
/// descriptors) with LAPACK `ssyevd_` (divide and conquer) from OpenBLAS, resolved at run
/// time with `dlsym` (cblas.h declares no LAPACK). The modules that call it link OpenBLAS.
public enum SymmetricEigen {
    /// Eigenvalues in DESCENDING order and the matching unit eigenvectors as rows of a
    /// row-major d×d array (row i ↔ value i), each with its largest-magnitude entry made
    /// positive so results are deterministic.
    public static func decompose(_ matrix: [Float], dimension d: Int) throws -> (values: [Float], vectors: [Float]) {
        guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, "ssyevd_") else {
            throw LinearAlgebraError.lapackMissing("ssyevd_")
        }
        let ssyevd = unsafeBitCast(sym, to: SSYEVD.self)
        // Column-major = row-major transpose; the matrix is symmetric, so no copy is needed.
        var m = matrix
        var w = [Float](repeating: 0, count: d)
        var n = Int32(d), lda = Int32(max(1, d)), info: Int32 = 0
        var lwork: Int32 = -1, liwork: Int32 = -1
        var wq: Float = 0, iwq: Int32 = 0
        "V".withCString { jobz in "U".withCString { uplo in
            ssyevd(jobz, uplo, &n, &m, &lda, &w, &wq, &lwork, &iwq, &liwork, &info, 1, 1)
        }}
        if info != 0 { throw LinearAlgebraError.lapackFailed(routine: "ssyevd_ (workspace query)", info: info) }
        // The queried size comes back as a Float and can round below the documented minimum
        // (1 + 6n + 2n² for eigenvectors) for large n: take the larger of the two.
        lwork = max(Int32(wq.rounded(.up)), 1 + 6 * n + 2 * n * n)
        liwork = max(iwq, 3 + 5 * n)
        var work = [Float](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        "V".withCString { jobz in "U".withCString { uplo in
            ssyevd(jobz, uplo, &n, &m, &lda, &w, &work, &lwork, &iwork, &liwork, &info, 1, 1)
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
}
