import TesseraCore
/// How per-layer scores are weighted in late fusion (MOF eq. 8 summed over layers).
public enum FusionRule: Sendable, Equatable {
    /// S = Σ_l w_l · S_l with the given weights (one per layer; equal weights = MOF's plain sum).
    case fixed([Float])
    /// Query-adaptive late fusion (Zheng et al., CVPR 2015), see `LateFusion.adaptiveWeights`.
    case queryAdaptive(topM: Int)
}

/// Late fusion of normalised layer scores S_l(q, I) into one score per image (MOF eq. 8).
public enum LateFusion {
    /// Fuses `layerScores` (one dense array per layer, same length) under `rule`.
    /// Returns the fused scores and the weights actually used.
    public static func fuse(_ layerScores: [[Float]], rule: FusionRule) throws -> (scores: [Float], weights: [Float]) {
        guard let n = layerScores.first?.count else { return ([], []) }
        guard layerScores.allSatisfy({ $0.count == n }) else {
            throw ScoringError.layerMismatch("layer score arrays have different lengths")
        }
        let weights: [Float]
        switch rule {
        case .fixed(let w):
            guard w.count == layerScores.count else {
                throw ScoringError.layerMismatch("\(w.count) weights for \(layerScores.count) layers")
            }
            weights = w
        case .queryAdaptive(let m):
            weights = adaptiveWeights(layerScores, topM: m)
        }
        var out = [Float](repeating: 0, count: n)
        out.withUnsafeMutableBufferPointer { o in
            for (l, s) in layerScores.enumerated() where weights[l] != 0 {
                let w = weights[l]
                s.withUnsafeBufferPointer { s in for i in 0..<n { o[i] += w * s[i] } }
            }
        }
        return (out, weights)
    }

    /// Equal weights 1 for `layers` layers (MOF's plain sum over layers).
    public static func equalWeights(_ layers: Int) -> FusionRule { .fixed([Float](repeating: 1, count: layers)) }

    /// Query-adaptive weights (after Zheng et al., CVPR 2015). For each layer:
    /// take its `topM` highest scores s_1 ≥ … ≥ s_M (missing ones count as 0), normalise
    /// by the maximum, c_i = s_i / s_1, and measure the area A_l = (1/M) Σ_i c_i ∈ [1/M, 1].
    /// A discriminative layer has an L-shaped curve (one or a few high scores, then a sharp
    /// drop) and a small area; a flat curve (area → 1) carries no ranking information. The
    /// weight is w_l = (1/A_l) / Σ_l' (1/A_l'), so the weights sum to 1. A layer whose scores
    /// are all ≤ 0 gets weight 0. No reference (tail) curve is subtracted: the rule uses the
    /// query's own curves only, which needs no training data.
    public static func adaptiveWeights(_ layerScores: [[Float]], topM: Int) -> [Float] {
        let m = max(1, topM)
        var inverseArea = [Float](repeating: 0, count: layerScores.count)
        for (l, s) in layerScores.enumerated() {
            let top = topK(scores: s, k: m).map { $0.1 }
            guard let first = top.first, first > 0 else { continue }
            let area = top.reduce(Float(0)) { $0 + max($1, 0) / first } / Float(m)
            inverseArea[l] = 1 / area
        }
        let total = inverseArea.reduce(0, +)
        return total > 0 ? inverseArea.map { $0 / total } : inverseArea
    }
}
