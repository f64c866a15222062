import Foundation

/// NumPy `.npy` (format 1.0) files of little-endian float32, C order.
public enum NpyFile {
    /// Writes `values` with the given shape. The payload goes out in `chunkBytes` pieces: one
    /// write(2) moves at most 2 GiB on Linux, and Foundation's `Data.write` on Linux restarts
    /// from the first byte after such a short write, which corrupts any larger file.
    public static func write(_ values: [Float], shape: [Int], to url: URL, chunkBytes: Int = 1 << 28) throws {
        try values.withUnsafeBufferPointer { try write($0, shape: shape, to: url, chunkBytes: chunkBytes) }
    }

    /// Writes a matrix as an n×d array, from its storage in place (owned or mapped).
    public static func write(_ m: Matrix, to url: URL) throws {
        try m.withUnsafeBufferPointer { try write($0, shape: [m.rows, m.cols], to: url, chunkBytes: 1 << 28) }
    }

    private static func write(_ values: UnsafeBufferPointer<Float>, shape: [Int], to url: URL, chunkBytes: Int) throws {
        precondition(shape.reduce(1, *) == values.count, "npy: shape \(shape) does not hold \(values.count) values")
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        let n = UInt16(header.utf8.count)
        let prefix = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(header.utf8)
        // createFile empties an existing file, so no stale tail survives a shorter array.
        guard FileManager.default.createFile(atPath: url.path, contents: nil),
              let handle = FileHandle(forWritingAtPath: url.path) else {
            throw NpyError.io(url.path, "cannot create the file")
        }
        defer { try? handle.close() }
        try handle.write(contentsOf: prefix)
        let raw = UnsafeRawBufferPointer(values)
        var offset = 0
        while offset < raw.count {
            let end = min(raw.count, offset + max(1, chunkBytes))
            try handle.write(contentsOf: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: raw.baseAddress! + offset),
                                              count: end - offset, deallocator: .none))
            offset = end
        }
    }

    /// Reads a float32 `.npy`; returns the values and the shape.
    public static func read(_ url: URL) throws -> (values: [Float], shape: [Int]) {
        // Mapped, not read: one read(2) stops at 2 GiB, and descriptor dumps are larger.
        let file = try MappedFile(path: url.path)
        return try withExtendedLifetime(file) { try parse(file.bytes, path: url.path) }
    }

    /// Parses a whole `.npy` image (header and payload). Every length and dimension is checked
    /// before it is used: a shape whose byte count overflows, a negative dimension or a header
    /// running past the end is `malformed`, never a trap or an allocation of what it claims.
    static func parse(_ data: UnsafeRawBufferPointer, path: String) throws -> (values: [Float], shape: [Int]) {
        guard data.count >= 10, Array(data.prefix(6)) == [0x93] + Array("NUMPY".utf8) else {
            throw NpyError.malformed(path, "bad magic")
        }
        let major = data[6]
        guard (1...3).contains(major) else { throw NpyError.malformed(path, "unknown format version \(major)") }
        let start = major == 1 ? 10 : 12
        guard data.count >= start else { throw NpyError.malformed(path, "truncated header") }
        let headerLength = major == 1 ? Int(data[8]) | Int(data[9]) << 8
                                      : Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
        guard data.count - start >= headerLength else { throw NpyError.malformed(path, "truncated header") }
        let header = String(decoding: data[start..<(start + headerLength)], as: UTF8.self)
        guard header.contains("'<f4'"), header.contains("'fortran_order': False") else {
            throw NpyError.malformed(path, "only little-endian float32 C-order arrays are supported: \(header)")
        }
        guard let open = header.range(of: "'shape': ("),
              let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw NpyError.malformed(path, "no shape")
        }
        let shape = header[open.upperBound..<close].split(separator: ",")
            .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        var bytes = MemoryLayout<Float>.size
        for dim in shape {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: dim)
            guard dim >= 0, !overflow else { throw NpyError.malformed(path, "impossible shape \(shape)") }
            bytes = product
        }
        let body = start + headerLength
        guard data.count - body >= bytes else { throw NpyError.malformed(path, "truncated data") }
        var values = [Float](repeating: 0, count: bytes / MemoryLayout<Float>.size)
        values.withUnsafeMutableBytes { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: data[body..<(body + bytes)]))
        }
        return (values, shape)
    }
}

public enum NpyError: Error, CustomStringConvertible {
    case malformed(String, String)
    case io(String, String)
    public var description: String {
        switch self {
        case .malformed(let p, let why): return "\(p): not a usable .npy file (\(why))"
        case .io(let p, let why): return "\(p): \(why)"
        }
    }
}
