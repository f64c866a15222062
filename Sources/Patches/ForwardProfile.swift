import TesseraCore
import Foundation

/// Time and multiply-add counts per kind of operation of forward passes, for benchmarks.
public final class ForwardProfile: @unchecked Sendable {
    public private(set) var seconds: [String: Double] = [:]
    public private(set) var multiplyAdds: [String: Double] = [:]
    public init() {}

    /// Runs `body`, charging its time and `madds` multiply-adds to `kind`.
    func measure<T>(_ kind: String, madds: Double, _ body: () -> T) -> T {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = body()
        seconds[kind, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        multiplyAdds[kind, default: 0] += madds
        return r
    }

    /// `body`, charged to `kind` when there is a profile.
    static func measure<T>(_ profile: ForwardProfile?, _ kind: String, madds: Double = 0, _ body: () -> T) -> T {
        profile?.measure(kind, madds: madds, body) ?? body()
    }

    /// Achieved GFLOP/s (2 flops per multiply-add) of one kind.
    public func gflops(_ kind: String) -> Double {
        guard let s = seconds[kind], s > 0 else { return 0 }
        return 2 * (multiplyAdds[kind] ?? 0) / s / 1e9
    }
}
