import TesseraCore
/// Parameters of per-layer scoring (MOF §4, eq. 3–8).
///
/// Database features are single-assigned (k = 1, done at index time); the query's
/// `QuantizedLayer` carries however many assignments per feature it was quantised
/// with (k = 3 by default in the quantiser) and every one of them votes.
public struct ScoringOptions: Sendable, Equatable, Codable {
    /// Hamming embedding on (eq. 5–6) or plain bag-of-words (eq. 3). Default `true`.
    public var hammingEmbedding: Bool = true
    /// HE threshold d_t; a pair votes only when d < d_t (strict).
    /// `nil` = 52 · bits / 128 (MOF default 52 for 128 bits).
    public var hammingThreshold: Int? = nil
    /// σ of the HE weight exp(−d²/σ²) (eq. 6). `nil` = 30 · bits / 128 (MOF default 30 for 128 bits).
    public var sigma: Float? = nil
    /// Burstiness correction (eq. 8, symmetric): divide each vote by sqrt(tf_q(w) · tf_I(w)). Default `true`.
    public var burstiness: Bool = true

    public init(hammingEmbedding: Bool = true, hammingThreshold: Int? = nil, sigma: Float? = nil,
                burstiness: Bool = true) {
        self.hammingEmbedding = hammingEmbedding
        self.hammingThreshold = hammingThreshold
        self.sigma = sigma
        self.burstiness = burstiness
    }

    /// d_t for signatures of `bits` bits (explicit value, or 52 scaled proportionally from 128 bits).
    public func threshold(bits: Int) -> Int { hammingThreshold ?? (52 * bits / 128) }

    /// σ for signatures of `bits` bits (explicit value, or 30 scaled proportionally from 128 bits).
    public func sigma(bits: Int) -> Float { sigma ?? (30 * Float(bits) / 128) }

    /// The HE weight table w(d) for d = 0...bits: exp(−d²/σ²) when d < d_t, else 0 (MOF eq. 5–6).
    public func weightTable(bits: Int) -> [Float] {
        let dt = threshold(bits: bits)
        let s = sigma(bits: bits)
        return (0...bits).map { d in d < dt ? Float(exp(-Double(d * d) / Double(s * s))) : 0 }
    }
}

import Foundation
