import Foundation

/// A `multipart/form-data` body (RFC 7578) split into its parts. Only what the API needs is
/// parsed: each part's `Content-Disposition` name and filename, its `Content-Type`, and its bytes.
/// Anything malformed is a `MultipartForm.Malformed` error naming what is wrong (a 400), never
/// a crash: the parser reads outside bytes.
public struct MultipartForm: Sendable {
    public struct Part: Sendable {
        public var name: String?
        public var filename: String?
        public var contentType: String?
        public var data: Data
    }

    public struct Malformed: Error, CustomStringConvertible {
        public var description: String
    }

    public var parts: [Part]

    /// The first part named `name`, else the first part with a filename.
    public func file(named name: String) -> Part? {
        parts.first { $0.name == name } ?? parts.first { $0.filename != nil }
    }

    /// The boundary of a `multipart/form-data` content type, nil for another type.
    public static func boundary(contentType: String) throws -> String? {
        let fields = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let type = fields.first, type.lowercased() == "multipart/form-data" else { return nil }
        for f in fields.dropFirst() {
            let kv = f.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2, kv[0].lowercased() == "boundary" else { continue }
            var b = kv[1]
            if b.count >= 2 && b.hasPrefix("\"") && b.hasSuffix("\"") { b = String(b.dropFirst().dropLast()) }
            guard (1...70).contains(b.utf8.count) else { throw Malformed(description: "multipart boundary length") }
            return b
        }
        throw Malformed(description: "multipart/form-data without a boundary")
    }

    /// Splits `body` at `boundary`.
    public init(body: Data, boundary: String) throws {
        let bytes = [UInt8](body)
        let dash = Array("--\(boundary)".utf8)
        let delimiter = Array("\r\n--\(boundary)".utf8)
        guard var i = Self.find(dash, in: bytes, from: 0) else { throw Malformed(description: "no multipart boundary") }
        i += dash.count
        var parts: [Part] = []
        while true {
            guard i + 2 <= bytes.count else { throw Malformed(description: "multipart body ends early") }
            if bytes[i] == UInt8(ascii: "-") && bytes[i + 1] == UInt8(ascii: "-") { break }
            // Transport padding (spaces or tabs) may follow a boundary before its CRLF.
            while i < bytes.count && (bytes[i] == 0x20 || bytes[i] == 0x09) { i += 1 }
            guard i + 2 <= bytes.count, bytes[i] == 0x0D, bytes[i + 1] == 0x0A else {
                throw Malformed(description: "multipart boundary not followed by CRLF")
            }
            i += 2
            // The headers end at the first empty line (right away when the part has none).
            let headerEnd: Int
            if bytes[i...].starts(with: [0x0D, 0x0A]) {
                headerEnd = i - 2
            } else if let e = Self.find(Array("\r\n\r\n".utf8), in: bytes, from: i) {
                headerEnd = e
            } else {
                throw Malformed(description: "multipart part without a header end")
            }
            let headers = headerEnd > i ? String(decoding: bytes[i..<headerEnd], as: UTF8.self) : ""
            let dataStart = headerEnd + 4
            guard dataStart <= bytes.count, let end = Self.find(delimiter, in: bytes, from: dataStart) else {
                throw Malformed(description: "multipart part not closed by its boundary")
            }
            var part = Part(name: nil, filename: nil, contentType: nil,
                            data: end >= dataStart ? Data(bytes[dataStart..<end]) : Data())
            for line in headers.components(separatedBy: "\r\n") {
                let kv = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2 else {
                    if line.isEmpty { continue }
                    throw Malformed(description: "multipart header line without a colon")
                }
                switch kv[0].lowercased() {
                case "content-disposition":
                    part.name = Self.parameter("name", of: kv[1])
                    part.filename = Self.parameter("filename", of: kv[1])
                case "content-type": part.contentType = kv[1]
                default: break
                }
            }
            parts.append(part)
            i = end + delimiter.count
        }
        guard !parts.isEmpty else { throw Malformed(description: "multipart body without parts") }
        self.parts = parts
    }

    /// The value of `key` in a header's `; key="value"` parameters.
    static func parameter(_ key: String, of header: String) -> String? {
        for f in header.split(separator: ";").dropFirst() {
            let kv = f.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, kv[0].lowercased() == key else { continue }
            let v = kv[1]
            return v.count >= 2 && v.hasPrefix("\"") && v.hasSuffix("\"") ? String(v.dropFirst().dropLast()) : v
        }
        return nil
    }

    /// The first index ≥ `start` where `needle` occurs in `haystack` (memchr for the first byte,
    /// then memcmp: linear in practice, as a boundary's first bytes are rare in JPEG data).
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard start >= 0, !needle.isEmpty, haystack.count - start >= needle.count else { return nil }
        return haystack.withUnsafeBytes { h in
            needle.withUnsafeBytes { n in
                let base = h.baseAddress!
                let last = h.count - n.count
                var i = start
                while i <= last {
                    guard let p = memchr(base + i, Int32(n[0]), last - i + 1) else { return nil }
                    i = base.distance(to: UnsafeRawPointer(p))
                    if memcmp(base + i, n.baseAddress!, n.count) == 0 { return i }
                    i += 1
                }
                return nil
            }
        }
    }
}
