import Foundation

/// NumPy `.npy` (format 1.0) files of little-endian float32, C order.
public enum NpyFile {
    public static func write(_ values: [Float], shape: [Int], to url: URL) throws {
        precondition(shape.reduce(1, *) == values.count, "npy: shape \(shape) does not hold \(values.count) values")
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let n = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8)])
        data.append(contentsOf: Array(header.utf8))
        values.withUnsafeBufferPointer { data.append(UnsafeBufferPointer(start: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: UInt8.self), count: 4 * values.count)) }
        try data.write(to: url)
    }

    public static func write(_ m: Matrix, to url: URL) throws { try write(m.data, shape: [m.rows, m.cols], to: url) }

    /// Reads a float32 `.npy`; returns the values and the shape.
    public static func read(_ url: URL) throws -> (values: [Float], shape: [Int]) {
        let data = try Data(contentsOf: url)
        guard data.count >= 10, data.prefix(6) == Data([0x93] + Array("NUMPY".utf8)) else { throw NpyError.malformed(url.path, "bad magic") }
        let major = data[6]
        let headerLength = major == 1 ? Int(data[8]) | Int(data[9]) << 8
                                      : Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
        let start = major == 1 ? 10 : 12
        guard data.count >= start + headerLength else { throw NpyError.malformed(url.path, "truncated header") }
        let header = String(decoding: data[start..<(start + headerLength)], as: UTF8.self)
        guard header.contains("'<f4'"), header.contains("'fortran_order': False") else {
            throw NpyError.malformed(url.path, "only little-endian float32 C-order arrays are supported: \(header)")
        }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw NpyError.malformed(url.path, "no shape")
        }
        let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let body = start + headerLength
        guard data.count >= body + 4 * count else { throw NpyError.malformed(url.path, "truncated data") }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { dst in data.copyBytes(to: dst, from: body..<(body + 4 * count)) }
        return (values, shape)
    }
}

public enum NpyError: Error, CustomStringConvertible {
    case malformed(String, String)
    public var description: String {
        switch self { case .malformed(let p, let why): return "\(p): not a usable .npy file (\(why))" }
    }
}
