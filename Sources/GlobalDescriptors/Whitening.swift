import Foundation
import COpenBLAS
import TesseraCore

/// Problems learning, applying or reading a PCA-whitening.
public enum WhiteningError: Error, Equatable, CustomStringConvertible {
    case notEnoughSamples(Int)
    case dimensionMismatch(expected: Int, got: Int)
    case badOutputDimension(Int)
    case badMagic
    case unsupportedVersion(UInt32)
    case truncated(expected: Int, got: Int)
    case checksumMismatch
    case io(String)

    public var description: String {
        switch self {
        case .notEnoughSamples(let n): return "whitening: need at least 2 training vectors, got \(n)"
        case let .dimensionMismatch(e, g): return "whitening: expected vectors of dimension \(e), got \(g)"
        case .badOutputDimension(let k): return "whitening: invalid output dimension \(k)"
        case .badMagic: return "whitening file: bad magic (not a Tessera whitening file)"
        case .unsupportedVersion(let v): return "whitening file: unsupported version \(v)"
        case let .truncated(e, g): return "whitening file: truncated or oversized (\(g) bytes, expected \(e))"
        case .checksumMismatch: return "whitening file: checksum mismatch (corrupted)"
        case .io(let why): return "whitening file: \(why)"
        }
    }
}

/// Parameters of PCA-whitening.
public struct WhiteningOptions: Sendable, Equatable {
    /// Regulariser ε added to each eigenvalue before the inverse square root. Default 1e-6.
    public var epsilon: Float = 1e-6
    /// Output dimension (leading components kept); `nil` = min(d, n − 1). Default nil.
    public var outputDimension: Int? = nil
    /// Shrink the covariance towards a multiple of the identity before whitening. Default none.
    public var shrinkage: WhiteningShrinkage = .none
    public init(epsilon: Float = 1e-6, outputDimension: Int? = nil, shrinkage: WhiteningShrinkage = .none) {
        self.epsilon = epsilon; self.outputDimension = outputDimension; self.shrinkage = shrinkage
    }
}

/// How the training covariance S is regularised before whitening: Σ = (1 − s)·S + s·μ_λ·I,
/// with μ_λ = tr(S)/d, so every eigenvalue becomes (1 − s)·λ_i + s·μ_λ and the eigenvectors stay.
/// A whitening learned from few images relative to the dimension divides by tiny, noisy trailing
/// eigenvalues; shrinkage bounds that amplification.
public enum WhiteningShrinkage: Sendable, Equatable {
    /// s = 0: the sample covariance.
    case none
    /// s from the data (Ledoit & Wolf, J. Multivariate Analysis 2004):
    /// s = min(b̄², δ²)/δ² with δ² = ‖S − μ_λI‖²_F = Σλ² − dμ_λ² and
    /// b̄² = (1/n²) Σ_k ‖x̃_k x̃_kᵀ − S‖²_F = (1/n²)(Σ_k ‖x̃_k‖⁴ − n‖S‖²_F)
    /// over the centred rows x̃_k.
    case ledoitWolf
    /// A fixed s in [0, 1].
    case fixed(Float)
}

/// Learned PCA-whitening (METHOD.md §5): x ↦ L2( diag(λ + ε)^(−1/2) Uᵀ (x − μ) ), keeping
/// the `outputDimension` leading components. Learn it on data disjoint from the evaluated set.
public struct PCAWhitening: Sendable, Equatable {
    /// μ, the training mean (d).
    public let mean: [Float]
    /// Leading eigenvalues λ of the training covariance, descending (outputDimension).
    public let eigenvalues: [Float]
    /// Leading unit eigenvectors, one per row (outputDimension × d).
    public let eigenvectors: Matrix
    public let epsilon: Float
    /// The covariance shrinkage s the eigenvalues were learned with (`WhiteningShrinkage`; 0 = none).
    public let shrinkage: Float
    /// Training vectors it was learned from (0 when unknown: a version-1 file).
    public let trainingCount: Int
    /// Rows of `eigenvectors` scaled by (λ + ε)^(−1/2).
    let projection: [Float]

    public var inputDimension: Int { mean.count }
    public var outputDimension: Int { eigenvalues.count }

    public init(mean: [Float], eigenvalues: [Float], eigenvectors: Matrix, epsilon: Float, shrinkage: Float = 0,
                trainingCount: Int = 0) throws {
        guard eigenvectors.cols == mean.count else {
            throw WhiteningError.dimensionMismatch(expected: mean.count, got: eigenvectors.cols)
        }
        guard eigenvectors.rows == eigenvalues.count, eigenvalues.count > 0 else {
            throw WhiteningError.badOutputDimension(eigenvectors.rows)
        }
        self.mean = mean; self.eigenvalues = eigenvalues; self.eigenvectors = eigenvectors; self.epsilon = epsilon
        self.shrinkage = shrinkage; self.trainingCount = trainingCount
        var p = eigenvectors.data
        let d = mean.count
        for r in 0..<eigenvalues.count {
            let s = 1 / (max(eigenvalues[r], 0) + epsilon).squareRoot()
            for c in 0..<d { p[r * d + c] *= s }
        }
        projection = p
    }

    /// Learns μ, U and λ from `training` (n×d, one vector per row) with `PrincipalComponents`
    /// (covariance by SGEMM, LAPACK `ssyevd`), the eigenvalues shrunk as `options.shrinkage` says.
    public static func learn(from training: Matrix,
                             options: WhiteningOptions = WhiteningOptions()) throws -> PCAWhitening {
        let n = training.rows, d = training.cols
        guard n >= 2, d > 0 else { throw WhiteningError.notEnoughSamples(n) }
        let k = options.outputDimension ?? min(d, n - 1)
        guard k >= 1, k <= d else { throw WhiteningError.badOutputDimension(k) }
        let pc = try PrincipalComponents.learn(from: training, count: k)
        let s: Float
        switch options.shrinkage {
        case .none: s = 0
        case .fixed(let v): s = min(max(v, 0), 1)
        case .ledoitWolf: s = ledoitWolfShrinkage(training, mean: pc.mean, spectrum: pc.spectrum)
        }
        let meanEigenvalue = pc.spectrum.reduce(0) { $0 + Double(max($1, 0)) } / Double(d)
        let shrunk = pc.eigenvalues.map { Float((1 - Double(s)) * Double(max($0, 0)) + Double(s) * meanEigenvalue) }
        return try PCAWhitening(mean: pc.mean, eigenvalues: shrunk, eigenvectors: pc.components,
                                epsilon: options.epsilon, shrinkage: s, trainingCount: n)
    }

    /// Ledoit–Wolf's shrinkage intensity for the covariance of `x` (`WhiteningShrinkage.ledoitWolf`),
    /// from the full spectrum of the sample covariance and one pass over the centred rows.
    static func ledoitWolfShrinkage(_ x: Matrix, mean: [Float], spectrum: [Float]) -> Float {
        let n = x.rows, d = x.cols
        let lambdas = spectrum.map { Double(max($0, 0)) }
        let mu = lambdas.reduce(0, +) / Double(d)
        let frobenius2 = lambdas.reduce(0) { $0 + $1 * $1 }            // ‖S‖²_F
        let delta2 = frobenius2 - Double(d) * mu * mu                 // ‖S − μI‖²_F
        guard delta2 > 0 else { return 1 }
        var fourth = 0.0                                               // Σ_k ‖x̃_k‖⁴
        x.withUnsafeBufferPointer { p in
            for r in 0..<n {
                var sq = 0.0
                for c in 0..<d { let v = Double(p[r * d + c] - mean[c]); sq += v * v }
                fourth += sq * sq
            }
        }
        let b2 = max(0, (fourth - Double(n) * frobenius2) / (Double(n) * Double(n)))
        return Float(min(b2, delta2) / delta2)
    }

    /// Whitens one vector and L2-normalises the result.
    public func apply(_ x: [Float]) throws -> [Float] {
        guard x.count == inputDimension else {
            throw WhiteningError.dimensionMismatch(expected: inputDimension, got: x.count)
        }
        var centred = x
        for i in centred.indices { centred[i] -= mean[i] }
        var y = [Float](repeating: 0, count: outputDimension)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(outputDimension), Int32(inputDimension), 1,
                    projection, Int32(inputDimension), centred, 1, 0, &y, 1)
        VectorMath.l2Normalize(&y)
        return y
    }

    /// Whitens every row of `x` (n×d) with one SGEMM; rows L2-normalised unless `normalize` is false.
    public func apply(rows x: Matrix, normalize: Bool = true) throws -> Matrix {
        guard x.cols == inputDimension else {
            throw WhiteningError.dimensionMismatch(expected: inputDimension, got: x.cols)
        }
        let n = x.rows, d = inputDimension, k = outputDimension
        var centred = x.data
        for r in 0..<n { for c in 0..<d { centred[r * d + c] -= mean[c] } }
        var out = [Float](repeating: 0, count: n * k)
        if n > 0 {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(k), Int32(d), 1,
                        centred, Int32(d), projection, Int32(d), 0, &out, Int32(k))
        }
        if normalize {
            for r in 0..<n {
                var row = Array(out[(r * k)..<((r + 1) * k)])
                VectorMath.l2Normalize(&row)
                out.replaceSubrange((r * k)..<((r + 1) * k), with: row)
            }
        }
        return Matrix(rows: n, cols: k, data: out)
    }
}
