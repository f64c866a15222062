import Foundation
import TesseraCore

/// Parameters of spatial verification (`SpatialVerifier`).
public struct VerificationOptions: Sendable, Equatable, Codable {
    /// Candidates re-scored: the first `depth` of the fused inverted-file list. Default 100.
    public var depth = 100
    /// Side of a translation cell of the vote, in pixels of the candidate image. Default 64
    /// (two patch strides).
    public var cell: Float = 64
    /// Weight γ of the verified score in a candidate's new score (1 − γ)·S + γ·S_v, where S is
    /// its fused inverted-file score and S_v ≤ S the part one transformation explains. Default 0.5.
    public var inlierWeight: Float = 0.5
    public init(depth: Int = 100, cell: Float = 64, inlierWeight: Float = 0.5) {
        self.depth = depth; self.cell = cell; self.inlierWeight = inlierWeight
    }
}

/// Spatial verification of dense patch matches by a Hough vote over similarity transforms
/// (after the weak geometric consistency of Jégou, Douze & Schmid, ECCV 2008, with the
/// translation voted too, as in a generalised Hough transform).
///
/// A match is a query patch q (frame centre c_q, side s_q) and a candidate patch p (c_p, s_p)
/// whose words are equal and whose signatures lie under d_t apart, weighted as its vote
/// idf_w² · w(d) (eq. 5–6). Patches have one fixed size in the pixels of the scale they were
/// taken at, so the pair fixes the scale ratio r = s_p / s_q, and with it the translation
/// t = c_p − r · c_q. Each match votes its weight into the bin
///
///     (round(2 · log₂ r), ⌊t_x / cell⌋, ⌊t_y / cell⌋)
///
/// (half-octave scale bins). The consistent weight of a layer is the largest sum over one
/// scale bin and a 3 × 3 block of translation cells, and the verified layer score is that
/// weight normalised like the layer score, V_l = max / (‖q‖ · ‖I‖): the part of S_l(q, I)
/// that one transformation explains.
public struct SpatialVerifier {
    public let options: VerificationOptions
    public let scoring: ScoringOptions
    /// The HE weight w(d) for 128-bit signatures (eq. 6), built once rather than per candidate.
    private let table128: [Float]

    public init(options: VerificationOptions = VerificationOptions(), scoring: ScoringOptions = ScoringOptions()) {
        self.options = options
        self.scoring = scoring
        self.table128 = scoring.weightTable(bits: 128)
    }

    /// The verified layer score V_l of `candidate` for one layer of the query: `query` with its
    /// frames (row i of `query` is patch i, any k), the candidate's layer `l` of `candidate`,
    /// the layer's IDF, ‖q‖ and 1/‖I‖.
    public func layerScore(query: QuantizedLayer, queryFrames: [PatchFrame], candidate: ImageGeometry, layer l: Int,
                           idf: [Float], queryNorm: Float, inverseImageNorm: Float) -> Float {
        guard queryNorm > 0, inverseImageNorm > 0, l < candidate.layers.count else { return 0 }
        let c = candidate.layers[l]
        let sw = query.signatureWords
        guard c.signatureWords == sw, queryFrames.count == query.count else { return 0 }
        let table = sw == 2 ? table128 : scoring.weightTable(bits: 64 * sw)
        var byWord: [UInt32: [Int]] = [:]
        for j in 0..<c.count { byWord[c.words[j], default: []].append(j) }
        var votes: [Int64: Float] = [:]
        for i in 0..<query.count {
            let fq = queryFrames[i]
            for a in 0..<query.k {
                let w = query.words[i * query.k + a]
                guard w != QuantizedLayer.none, Int(w) < idf.count, let matches = byWord[w] else { continue }
                let qo = (i * query.k + a) * sw
                for j in matches {
                    var d = 0
                    if scoring.hammingEmbedding {
                        for t in 0..<sw { d += (query.signatures[qo + t] ^ c.signatures[j * sw + t]).nonzeroBitCount }
                    }
                    let weight = idf[Int(w)] * idf[Int(w)] * (scoring.hammingEmbedding ? table[d] : 1)
                    guard weight > 0 else { continue }
                    votes[bin(fq, candidate.frames[j]), default: 0] += weight
                }
            }
        }
        return bestConsistentWeight(votes) / queryNorm * inverseImageNorm
    }

    /// The Hough bin of a match (scale bin, translation cell x, cell y), packed into 64 bits.
    func bin(_ q: PatchFrame, _ p: PatchFrame) -> Int64 {
        let r = p.side / q.side
        let scaleBin = Self.cellIndex(Float(2 * log2(Double(r))).rounded(), limit: 63)
        let tx = Self.cellIndex((p.x - r * q.x) / options.cell, limit: (1 << 19) - 1)
        let ty = Self.cellIndex((p.y - r * q.y) / options.cell, limit: (1 << 19) - 1)
        return (scaleBin + 64) << 40 | (tx + (1 << 19)) << 20 | (ty + (1 << 19))
    }

    /// The largest total over one scale bin and a 3 × 3 block of translation cells.
    func bestConsistentWeight(_ votes: [Int64: Float]) -> Float {
        var best: Float = 0
        for key in votes.keys {
            var sum: Float = 0
            for dx: Int64 in -1...1 {
                for dy: Int64 in -1...1 { sum += votes[key + (dx << 20) + dy] ?? 0 }
            }
            best = max(best, sum)
        }
        return best
    }
}

extension SpatialVerifier {
    /// ⌊v⌋ within ±limit (0 for a non-finite v), so the packed bin fields never overflow.
    static func cellIndex(_ v: Float, limit: Int64) -> Int64 {
        guard v.isFinite else { return 0 }
        return min(max(Int64(max(min(v.rounded(.down), 1e9), -1e9)), -limit), limit)
    }
}
