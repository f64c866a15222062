import Foundation
import TesseraCore

/// Versioned little-endian serialisation of `PCAWhitening`.
///
/// | field | type |
/// |---|---|
/// | magic `"TSWH"` | 4 bytes |
/// | version (= 2; 1 is read too) | UInt32 |
/// | input dimension d | UInt32 |
/// | output dimension k | UInt32 |
/// | ε | Float32 |
/// | shrinkage s (version 2 only) | Float32 |
/// | training vectors n (version 2 only) | UInt32 |
/// | μ | d × Float32 |
/// | λ | k × Float32 |
/// | U (row-major, one eigenvector per row) | k·d × Float32 |
/// | checksum: FNV-1a 64 of every preceding byte | UInt64 |
extension PCAWhitening {
    static let magic: [UInt8] = Array("TSWH".utf8)
    static let version: UInt32 = 2

    /// The serialised bytes.
    public func serialized() -> [UInt8] {
        var out = PCAWhitening.magic
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func f32(_ v: Float) { u32(v.bitPattern) }
        u32(PCAWhitening.version); u32(UInt32(inputDimension)); u32(UInt32(outputDimension)); f32(epsilon)
        f32(shrinkage); u32(UInt32(trainingCount))
        out.reserveCapacity(out.count + 4 * (mean.count + eigenvalues.count + eigenvectors.data.count) + 8)
        for v in mean { f32(v) }
        for v in eigenvalues { f32(v) }
        for v in eigenvectors.data { f32(v) }
        withUnsafeBytes(of: fnv1a(out).littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    /// Parses `serialized()` bytes, checking magic, version, size and checksum.
    public init(serialized bytes: [UInt8]) throws {
        guard bytes.count >= 20 else { throw WhiteningError.truncated(expected: 20, got: bytes.count) }
        guard Array(bytes[0..<4]) == PCAWhitening.magic else { throw WhiteningError.badMagic }
        func u32(_ o: Int) -> UInt32 {
            UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
        }
        let version = u32(4)
        guard version == 1 || version == PCAWhitening.version else { throw WhiteningError.unsupportedVersion(version) }
        let header = version == 1 ? 20 : 28
        guard bytes.count >= header else { throw WhiteningError.truncated(expected: header, got: bytes.count) }
        let d = Int(u32(8)), k = Int(u32(12))
        guard k >= 1, k <= d else { throw WhiteningError.badOutputDimension(k) }
        // Sizes from a damaged header can overflow (d = k = 2³² − 1): saturate, then refuse.
        let (kd, kdOverflow) = k.multipliedReportingOverflow(by: d)
        let (floatCount, floatsOverflow) = kd.addingReportingOverflow(d + k)
        let (payload, payloadOverflow) = floatCount.multipliedReportingOverflow(by: 4)
        let expected = kdOverflow || floatsOverflow || payloadOverflow || payload > Int.max - header - 8
            ? Int.max : header + payload + 8
        guard bytes.count == expected else { throw WhiteningError.truncated(expected: expected, got: bytes.count) }
        guard trailingChecksum(bytes) == fnv1a(bytes[0..<(expected - 8)]) else {
            throw WhiteningError.checksumMismatch
        }
        func floats(_ o: Int, _ count: Int) -> [Float] { (0..<count).map { Float(bitPattern: u32(o + 4 * $0)) } }
        try self.init(mean: floats(header, d), eigenvalues: floats(header + 4 * d, k),
                      eigenvectors: Matrix(rows: k, cols: d, data: floats(header + 4 * (d + k), k * d)),
                      epsilon: Float(bitPattern: u32(16)),
                      shrinkage: version == 1 ? 0 : Float(bitPattern: u32(20)),
                      trainingCount: version == 1 ? 0 : Int(u32(24)))
    }

    /// The trailing checksum of `serialized()` bytes, in hex: what a vocabulary records to name
    /// the whitening file that belongs beside it (`Vocabulary.whiteningChecksum`).
    public static func fileChecksum(_ serialized: [UInt8]) -> String {
        String(format: "%016llx", trailingChecksum(serialized))
    }

    /// Writes the serialised whitening to `url`.
    public func write(to url: URL) throws {
        do { try Data(serialized()).write(to: url, options: .atomic) } catch {
            throw WhiteningError.io("cannot write \(url.path): \(error.localizedDescription)")
        }
    }

    /// Reads a whitening written by `write(to:)`.
    public init(contentsOf url: URL) throws {
        try self.init(serialized: try PCAWhitening.fileBytes(url))
    }

    /// The bytes of a whitening file, unparsed.
    public static func fileBytes(_ url: URL) throws -> [UInt8] {
        do { return [UInt8](try Data(contentsOf: url)) } catch {
            throw WhiteningError.io("cannot read \(url.path): \(error.localizedDescription)")
        }
    }
}

/// The little-endian UInt64 that ends a serialised whitening (its stored checksum).
private func trailingChecksum(_ bytes: [UInt8]) -> UInt64 {
    bytes.suffix(8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
}

/// FNV-1a, 64 bits.
private func fnv1a<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    return h
}
