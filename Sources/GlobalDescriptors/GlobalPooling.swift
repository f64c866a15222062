import TesseraCore
import Foundation

/// Global pooling of a whole-image conv map into one descriptor (METHOD.md §5).
public enum GlobalPooling: String, Sendable, CaseIterable, Codable {
    /// Per-channel maximum (MAC).
    case mac
    /// Per-channel mean (SPoC, unweighted).
    case spoc
    /// Generalised mean (mean x^p)^(1/p), p = `GlobalOptions.gemP`.
    case gem
    /// Regional MAC over a multi-scale grid (Tolias et al. 2016): regions L2-normalised and summed.
    case rmac
    /// Weibull-shaped activation γ·x^a·exp(−(x/λ)^k), average pooling, then power normalisation (ACTNET).
    case actnet
    /// CGD-style combination: concatenation of the L2-normalised `GlobalOptions.cgdParts`.
    case cgd
}

/// Parameters of global descriptors. Every output is L2-normalised.
public struct GlobalOptions: Sendable, Equatable {
    /// GeM exponent p. Default 3.
    public var gemP: Float = 3
    /// R-MAC: number of scales L. Default 3.
    public var rmacLevels: Int = 3
    /// R-MAC: target overlap of consecutive regions. Default 0.4.
    public var rmacOverlap: Double = 0.4
    /// CGD: the parts concatenated, each L2-normalised (no `.cgd`). Default MAC + SPoC + GeM.
    public var cgdParts: [GlobalPooling] = [.spoc, .mac, .gem]
    /// ACTNET γ (scale). Default 1.
    public var actGamma: Float = 1
    /// ACTNET a (power of x). Default 1.5.
    public var actA: Float = 1.5
    /// ACTNET λ (Weibull scale, in activation units; ReLU6 outputs lie in [0, 6]). Default 2.
    public var actLambda: Float = 2
    /// ACTNET k (Weibull shape). Default 2.
    public var actK: Float = 2
    /// ACTNET power normalisation exponent β applied after pooling: sign(y)·|y|^β. Default 0.5.
    public var actPower: Float = 0.5

    public init() {}
}

/// Computes global descriptors from conv maps.
public enum GlobalDescriptor {
    /// The L2-normalised descriptor of one map.
    public static func describe(_ map: FeatureMap, pooling: GlobalPooling,
                                options: GlobalOptions = GlobalOptions()) throws -> [Float] {
        var v: [Float]
        switch pooling {
        case .mac: v = mac(map)
        case .spoc: v = spoc(map)
        case .gem: v = gem(map, p: options.gemP)
        case .rmac: v = rmac(map, levels: options.rmacLevels, overlap: options.rmacOverlap)
        case .actnet: v = actnet(map, options)
        case .cgd:
            guard !options.cgdParts.isEmpty, !options.cgdParts.contains(.cgd) else {
                throw GlobalDescriptorError.emptyCombination
            }
            v = []
            for part in options.cgdParts { v += try describe(map, pooling: part, options: options) }
        }
        VectorMath.l2Normalize(&v)
        return v
    }

    /// Multi-scale descriptor: the caller passes the maps of the image at several scales;
    /// the per-scale (L2-normalised) descriptors are summed and the sum L2-normalised.
    public static func describe(scales maps: [FeatureMap], pooling: GlobalPooling,
                                options: GlobalOptions = GlobalOptions()) throws -> [Float] {
        guard let first = maps.first else { throw GlobalDescriptorError.noScales }
        var sum = try describe(first, pooling: pooling, options: options)
        for m in maps.dropFirst() {
            let v = try describe(m, pooling: pooling, options: options)
            guard v.count == sum.count else {
                throw GlobalDescriptorError.dimensionMismatch(expected: sum.count, got: v.count)
            }
            for i in sum.indices { sum[i] += v[i] }
        }
        VectorMath.l2Normalize(&sum)
        return sum
    }

    /// MAC, not normalised: max over the spatial positions per channel.
    static func mac(_ m: FeatureMap) -> [Float] { regionMAC(m, y0: 0, x0: 0, h: m.height, w: m.width) }

    /// SPoC, not normalised: mean over the spatial positions per channel.
    static func spoc(_ m: FeatureMap) -> [Float] { pooled(m) { $0 } }

    /// GeM, not normalised: (mean max(x, ε)^p)^(1/p) per channel, ε = 1e-6.
    static func gem(_ m: FeatureMap, p: Float) -> [Float] {
        pooled(m) { Float(pow(Double(max($0, 1e-6)), Double(p))) }.map { Float(pow(Double($0), 1 / Double(p))) }
    }

    /// ACTNET, not normalised: mean of γ·x^a·exp(−(x/λ)^k) over positions, then sign(y)|y|^β.
    static func actnet(_ m: FeatureMap, _ o: GlobalOptions) -> [Float] {
        pooled(m) { x -> Float in
            let x = Double(max(x, 0))
            return Float(Double(o.actGamma) * pow(x, Double(o.actA))
                         * exp(-pow(x / Double(o.actLambda), Double(o.actK))))
        }.map { y in Float(pow(Double(abs(y)), Double(o.actPower))) * (y < 0 ? -1 : 1) }
    }

    /// Per-channel mean of f(x).
    private static func pooled(_ m: FeatureMap, _ f: (Float) -> Float) -> [Float] {
        let hw = m.height * m.width
        var out = [Float](repeating: 0, count: m.channels)
        m.data.withUnsafeBufferPointer { d in
            for c in 0..<m.channels {
                var s: Double = 0
                for i in (c * hw)..<((c + 1) * hw) { s += Double(f(d[i])) }
                out[c] = Float(s / Double(hw))
            }
        }
        return out
    }

    /// Per-channel max over the window rows y0..<y0+h, columns x0..<x0+w.
    static func regionMAC(_ m: FeatureMap, y0: Int, x0: Int, h: Int, w: Int) -> [Float] {
        var out = [Float](repeating: -.infinity, count: m.channels)
        m.data.withUnsafeBufferPointer { d in
            for c in 0..<m.channels {
                var best = -Float.infinity
                for y in y0..<(y0 + h) {
                    let row = (c * m.height + y) * m.width
                    for x in x0..<(x0 + w) { best = max(best, d[row + x]) }
                }
                out[c] = best
            }
        }
        return out
    }

    /// R-MAC, not normalised (Tolias, Sicre & Jégou, ICLR 2016; grid as in cirtorch's `rmac`):
    /// the whole-map MAC plus, for scales l = 1...L, square regions of side
    /// floor(2·min(H, W) / (l + 1)) on a uniform grid with about `overlap` overlap (the long
    /// side gets extra regions chosen to match the overlap); each region's MAC is
    /// L2-normalised and all are summed.
    static func rmac(_ m: FeatureMap, levels: Int, overlap: Double) -> [Float] {
        let H = m.height, W = m.width
        let w = min(H, W)
        // Extra regions along the long side: the step count whose overlap is closest to `overlap`.
        var extraW = 0, extraH = 0
        if H != W {
            let b0 = Double(max(H, W) - w)
            var bestIdx = 0, bestErr = Double.infinity
            for (idx, steps) in (2...7).enumerated() {
                let b = b0 / Double(steps - 1)
                let err = abs((Double(w * w) - Double(w) * b) / Double(w * w) - overlap)
                if err < bestErr { bestErr = err; bestIdx = idx }
            }
            if H < W { extraW = bestIdx + 1 } else { extraH = bestIdx + 1 }
        }
        var sum = VectorMath.l2Normalized(mac(m))
        for l in 1...max(1, levels) {
            let wl = max(1, Int((2 * Double(w) / Double(l + 1)).rounded(.down)))
            let wl2 = Int((Double(wl) / 2 - 1).rounded(.down))
            func starts(_ size: Int, _ extra: Int) -> [Int] {
                let count = l + extra
                let b = count > 1 ? Double(size - wl) / Double(count - 1) : 0
                return (0..<count).map { i in
                    let s = Int((Double(wl2) + Double(i) * b).rounded(.down)) - wl2
                    return min(max(s, 0), size - wl)
                }
            }
            for y in starts(H, extraH) {
                for x in starts(W, extraW) {
                    let r = VectorMath.l2Normalized(regionMAC(m, y0: y, x0: x, h: wl, w: wl))
                    for c in sum.indices { sum[c] += r[c] }
                }
            }
        }
        return sum
    }
}
