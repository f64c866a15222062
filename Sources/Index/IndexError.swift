import TesseraCore

/// Why an index operation failed.
public enum IndexError: Error, Equatable, CustomStringConvertible {
    /// Another process (or another open `IndexStore`) holds the index's writer lock.
    case busy(String)
    /// No index exists at this directory.
    case notFound(String)
    /// `create` found an index already there.
    case alreadyExists(String)
    /// The index was built with another vocabulary or model than the caller expects.
    case identityMismatch(expected: IndexIdentity, found: IndexIdentity)
    /// The index's format version is not one this code reads.
    case unsupportedFormat(found: Int, supported: Int)
    /// A stored record could not be decoded.
    case corrupt(String)
    /// An input does not fit the index (layer count, signature size, ...).
    case invalidInput(String)
    /// The path is already indexed with different content; remove it first.
    case pathAlreadyIndexed(String)
    /// A write on an index opened read-only.
    case readOnly
    /// The index's directory cannot be written (a read-only file system, or no permission):
    /// it can be queried, not changed.
    case directoryNotWritable(String)
    /// A snapshot used after its `withSnapshot` closure returned.
    case snapshotClosed

    public var description: String {
        switch self {
        case .busy(let m): return "index busy: \(m)"
        case .notFound(let p): return "no index at \(p)"
        case .alreadyExists(let p): return "an index already exists at \(p)"
        case let .identityMismatch(e, f):
            return "index identity mismatch: expected vocabulary \(e.vocabularyID) and model \(e.modelSHA256), "
                 + "but the index was built with vocabulary \(f.vocabularyID) and model \(f.modelSHA256)"
        case let .unsupportedFormat(f, s):
            return "index format version \(f) is not supported (this build reads \(s)); re-index the images"
        case .corrupt(let m): return "corrupt index record: \(m)"
        case .invalidInput(let m): return "invalid input: \(m)"
        case .pathAlreadyIndexed(let p): return "path already indexed with different content: \(p)"
        case .readOnly: return "the index was opened read-only"
        case .directoryNotWritable(let m): return "the index cannot be written (queries still work): \(m)"
        case .snapshotClosed: return "index snapshot used after its closure returned"
        }
    }
}
