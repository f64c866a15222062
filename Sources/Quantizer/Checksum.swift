/// FNV-1a-64 over little-endian 8-byte words (instead of bytes: 8× fewer multiplies):
/// h = 0xcbf29ce484222325; for each word w: h = (h ^ w) · 0x100000001b3 (mod 2⁶⁴).
/// The input length must be a multiple of 8 (the vocabulary file pads to 64 bytes).
enum Checksum {
    static func fnv1a64Words(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        precondition(bytes.count % 8 == 0, "Checksum: length \(bytes.count) is not a multiple of 8")
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        let n = bytes.count / 8
        guard let base = bytes.baseAddress else { return h }
        for i in 0..<n {
            h = (h ^ UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                &* 0x100_0000_01b3
        }
        return h
    }
}
