import TesseraCore

/// Why a vocabulary file could not be read (or written).
public enum VocabularyFileError: Error, CustomStringConvertible, Equatable {
    /// The file is shorter than its fixed header or than the length it declares.
    case truncated(expectedBytes: Int, actualBytes: Int)
    /// The first 8 bytes are not "TSRVOCAB".
    case badMagic
    /// The stored FNV-1a-64 checksum does not match the bytes.
    case checksumMismatch(stored: UInt64, computed: UInt64)
    /// The format version is not one this build reads.
    case unsupportedVersion(found: UInt32, supported: UInt32)
    /// The vocabulary was trained on descriptors of another CNN.
    case modelMismatch(expected: String, found: String)
    /// The vocabulary's layers are not the ones required.
    case layerMismatch(expected: [LayerKey], found: [LayerKey])
    /// The JSON header or a section table entry is inconsistent.
    case malformedHeader(String)
    /// Reading or writing the file failed.
    case io(path: String, message: String)

    public var description: String {
        switch self {
        case .truncated(let e, let a): return "vocabulary file truncated: \(a) bytes, expected \(e)"
        case .badMagic: return "not a vocabulary file (magic is not \"TSRVOCAB\")"
        case .checksumMismatch(let s, let c):
            return "vocabulary file corrupt: stored checksum \(String(s, radix: 16)), computed \(String(c, radix: 16))"
        case .unsupportedVersion(let f, let s):
            return "vocabulary file format version \(f) is not supported (this build reads version \(s))"
        case .modelMismatch(let e, let f): return "vocabulary was trained for model \(f), but the model in use is \(e)"
        case .layerMismatch(let e, let f):
            return "vocabulary has layers [\(f.map(\.description).joined(separator: ", "))], "
                + "expected [\(e.map(\.description).joined(separator: ", "))]"
        case .malformedHeader(let m): return "vocabulary file header malformed: \(m)"
        case .io(let p, let m): return "vocabulary file \(p): \(m)"
        }
    }
}
