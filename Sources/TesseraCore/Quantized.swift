/// One layer's descriptors of one image after quantisation (MOF §2): for each of
/// `count` descriptors, `k` assigned words (nearest first) and, for each assignment,
/// a Hamming signature of `signatureWords` 64-bit words computed against that word's
/// thresholds.
///
/// Layout: `words[i * k + j]` is descriptor i's j-th word; its signature is
/// `signatures[(i * k + j) * signatureWords ..< (i * k + j + 1) * signatureWords]`.
/// Assignments cut by a distance-ratio rule carry the word `QuantizedLayer.none`.
public struct QuantizedLayer: Equatable, Sendable {
    public static let none = UInt32.max
    public var count: Int
    public var k: Int
    public var signatureWords: Int
    public var words: [UInt32]
    public var distances: [Float]
    public var signatures: [UInt64]

    public init(count: Int, k: Int, signatureWords: Int, words: [UInt32], distances: [Float], signatures: [UInt64]) {
        precondition(words.count == count * k && distances.count == count * k
                     && signatures.count == count * k * signatureWords, "QuantizedLayer: inconsistent sizes")
        self.count = count; self.k = k; self.signatureWords = signatureWords
        self.words = words; self.distances = distances; self.signatures = signatures
    }

    /// Keeps only the first `k` assignments of every descriptor (e.g. 1 for the database side).
    public func truncated(to newK: Int) -> QuantizedLayer {
        let kk = min(newK, k)
        var w = [UInt32](), d = [Float](), s = [UInt64]()
        w.reserveCapacity(count * kk); d.reserveCapacity(count * kk); s.reserveCapacity(count * kk * signatureWords)
        for i in 0..<count {
            for j in 0..<kk {
                w.append(words[i * k + j]); d.append(distances[i * k + j])
                let o = (i * k + j) * signatureWords
                s.append(contentsOf: signatures[o..<(o + signatureWords)])
            }
        }
        return QuantizedLayer(count: count, k: kk, signatureWords: signatureWords, words: w, distances: d,
                              signatures: s)
    }
}
