import TesseraCore
import Foundation
import COpenBLAS

/// LAPACK `ssyevd_` (divide and conquer) from the linked OpenBLAS, resolved with `dlsym`
/// so it is called through a true C function type (cblas.h does not declare LAPACK).
/// Fortran ABI: every argument by pointer, then the hidden lengths of the two strings.
private typealias SSYEVD = @convention(c) (
    UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafePointer<Int32>, UnsafeMutablePointer<Float>,
    UnsafePointer<Int32>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafePointer<Int32>,
    UnsafeMutablePointer<Int32>, UnsafePointer<Int32>, UnsafeMutablePointer<Int32>, Int, Int) -> Void

private let ssyevdSymbol: SSYEVD? = {
    _ = cblas_sdot  // keeps OpenBLAS linked and loaded
    guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, "ssyevd_") else { return nil }
    return unsafeBitCast(sym, to: SSYEVD.self)
}()

/// Eigen-decomposition of a symmetric matrix.
enum SymmetricEigen {
    /// Eigenvalues (descending) and eigenvectors (row i of the returned row-major d×d
    /// array is the unit eigenvector of eigenvalue i) of the symmetric d×d `matrix`.
    static func decompose(_ matrix: [Float], dimension d: Int) throws -> (values: [Float], vectors: [Float]) {
        guard let ssyevd = ssyevdSymbol else { throw WhiteningError.eigenSolver("LAPACK ssyevd_ not found in OpenBLAS") }
        var a = matrix
        var w = [Float](repeating: 0, count: d)
        var n = Int32(d), lda = Int32(max(1, d)), info: Int32 = 0
        var lwork: Int32 = -1, liwork: Int32 = -1
        var wq: Float = 0, iwq: Int32 = 0
        let jobz: [CChar] = [CChar(UInt8(ascii: "V")), 0], uplo: [CChar] = [CChar(UInt8(ascii: "U")), 0]
        ssyevd(jobz, uplo, &n, &a, &lda, &w, &wq, &lwork, &iwq, &liwork, &info, 1, 1)
        guard info == 0 else { throw WhiteningError.eigenSolver("workspace query failed (info \(info))") }
        lwork = Int32(wq.rounded(.up)); liwork = iwq
        var work = [Float](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        ssyevd(jobz, uplo, &n, &a, &lda, &w, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        guard info == 0 else { throw WhiteningError.eigenSolver("ssyevd_ failed (info \(info))") }
        // Column-major output: column j (= row j of our row-major view) is eigenvector j,
        // eigenvalues ascending. Reverse to descending.
        var values = [Float](), vectors = [Float]()
        values.reserveCapacity(d); vectors.reserveCapacity(d * d)
        for j in stride(from: d - 1, through: 0, by: -1) {
            values.append(w[j])
            vectors.append(contentsOf: a[(j * d)..<((j + 1) * d)])
        }
        return (values, vectors)
    }
}
