/// Appends little-endian fields to a byte array (the image-record codec).
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func f32(_ v: Float) { u32(v.bitPattern) }
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u32(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }
    mutating func floats(_ v: [Float]) {
        u32(UInt32(v.count))
        for x in v { f32(x) }
    }
    /// LEB128: 7 bits per byte, low bits first, high bit set on all but the last byte.
    mutating func varint(_ v: UInt32) {
        var x = v
        while x >= 0x80 { bytes.append(UInt8(x & 0x7F) | 0x80); x >>= 7 }
        bytes.append(UInt8(x))
    }
}

/// Reads what `ByteWriter` wrote, throwing `IndexError.corrupt` instead of reading past the end.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0
    let what: String

    init(_ bytes: UnsafeRawBufferPointer, what: String) { self.bytes = bytes; self.what = what }

    private func need(_ n: Int) throws {
        guard n >= 0, offset + n <= bytes.count else {
            throw IndexError.corrupt("\(what): truncated at byte \(offset) (needs \(n) more of \(bytes.count))")
        }
    }
    mutating func u32() throws -> UInt32 {
        try need(4)
        defer { offset += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    mutating func f32() throws -> Float { Float(bitPattern: try u32()) }
    mutating func string() throws -> String {
        let n = Int(try u32())
        try need(n)
        defer { offset += n }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]), as: UTF8.self)
    }
    mutating func floats() throws -> [Float] {
        let n = Int(try u32())
        try need(4 * n)
        var out = [Float]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try f32()) }
        return out
    }
    mutating func varint() throws -> UInt32 {
        var v: UInt32 = 0
        for shift in Swift.stride(from: 0, through: 28, by: 7) {
            try need(1)
            let b = bytes[offset]
            offset += 1
            v |= UInt32(b & 0x7F) << UInt32(shift)
            if b & 0x80 == 0 { return v }
        }
        throw IndexError.corrupt("\(what): varint longer than 5 bytes at byte \(offset)")
    }
    mutating func u32s(count n: Int) throws -> [UInt32] {
        try need(4 * n)
        var out = [UInt32]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try u32()) }
        return out
    }
}

/// Big-endian key bytes of an image id or a word (byte order = numeric order).
@inline(__always)
func bigEndianKey(_ v: UInt32) -> [UInt8] {
    [UInt8(truncatingIfNeeded: v >> 24), UInt8(truncatingIfNeeded: v >> 16),
     UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
}

@inline(__always)
func readBigEndianUInt32(_ p: UnsafeRawBufferPointer) -> UInt32 {
    UInt32(bigEndian: p.loadUnaligned(as: UInt32.self))
}
