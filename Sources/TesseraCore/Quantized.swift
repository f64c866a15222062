import Foundation

/// One layer's descriptors of one image after quantisation (MOF §2): for each of
/// `count` descriptors, `k` assigned words (nearest first) and, for each assignment,
/// a Hamming signature of `signatureWords` 64-bit words computed against that word's
/// thresholds.
///
/// Layout: `words[i * k + j]` is descriptor i's j-th word; its signature is
/// `signatures[(i * k + j) * signatureWords ..< (i * k + j + 1) * signatureWords]`.
/// Assignments cut by a distance-ratio rule carry the word `QuantizedLayer.none`.
public struct QuantizedLayer: Equatable, Sendable, Codable {
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

    private enum CodingKeys: String, CodingKey { case count, k, signatureWords, words, distances, signatures }

    /// Encoded for another process (a shard's request): the sizes, then words, distances and
    /// signatures as the little-endian bytes of their arrays (base64 in JSON), which JSON
    /// decoders read without a number conversion per element.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(count, forKey: .count)
        try c.encode(k, forKey: .k)
        try c.encode(signatureWords, forKey: .signatureWords)
        try c.encode(Self.bytes(words), forKey: .words)
        try c.encode(Self.bytes(distances.map(\.bitPattern)), forKey: .distances)
        try c.encode(Self.bytes(signatures), forKey: .signatures)
    }

    private static func bytes<T: FixedWidthInteger>(_ values: [T]) -> Data {
        var out = Data(capacity: values.count * MemoryLayout<T>.size)
        for v in values { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    private static func values<T: FixedWidthInteger>(_ data: Data, as: T.Type) -> [T]? {
        let size = MemoryLayout<T>.size
        guard data.count % size == 0 else { return nil }
        return data.withUnsafeBytes { raw in
            (0..<(data.count / size)).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * size, as: T.self)) }
        }
    }

    /// Decodes `encode(to:)`'s form, refusing inconsistent sizes with an error rather than the
    /// initialiser's precondition.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let count = try c.decode(Int.self, forKey: .count), k = try c.decode(Int.self, forKey: .k)
        let sw = try c.decode(Int.self, forKey: .signatureWords)
        guard let words = Self.values(try c.decode(Data.self, forKey: .words), as: UInt32.self),
              let distanceBits = Self.values(try c.decode(Data.self, forKey: .distances), as: UInt32.self),
              let signatures = Self.values(try c.decode(Data.self, forKey: .signatures), as: UInt64.self) else {
            throw DecodingError.dataCorruptedError(forKey: .words, in: c,
                                                   debugDescription: "quantized layer bytes of a partial element")
        }
        let distances = distanceBits.map(Float.init(bitPattern:))
        let (n, overflow) = count.multipliedReportingOverflow(by: k)
        let (total, overflow2) = n.multipliedReportingOverflow(by: sw)
        guard count >= 0, k >= 0, sw >= 0, !overflow, !overflow2, words.count == n, distances.count == n,
              signatures.count == total else {
            throw DecodingError.dataCorruptedError(forKey: .words, in: c,
                                                   debugDescription: "inconsistent quantized layer sizes")
        }
        self.init(count: count, k: k, signatureWords: sw, words: words, distances: distances, signatures: signatures)
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
