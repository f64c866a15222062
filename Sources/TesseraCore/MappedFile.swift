#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a file could not be memory-mapped.
public enum MappedFileError: Error, CustomStringConvertible, Equatable {
    /// `open(2)` failed (e.g. `ENOENT`: no such file).
    case open(path: String, errno: Int32)
    /// `fstat(2)` failed, or the path is not a regular file.
    case notRegularFile(path: String)
    /// `mmap(2)` failed.
    case map(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .open(let p, let e): return "cannot open \(p): \(String(cString: strerror(e)))"
        case .notRegularFile(let p): return "cannot map \(p): not a regular file"
        case .map(let p, let e): return "cannot memory-map \(p): \(String(cString: strerror(e)))"
        }
    }
}

/// A whole file mapped read-only into memory (`mmap` with `PROT_READ`, `MAP_PRIVATE`).
///
/// The mapping lives as long as this object: views into ``bytes`` (for example a mapped
/// ``Matrix``) keep a reference to it. The file descriptor is closed right after mapping
/// (the mapping does not need it). Pages are read from the page cache on first touch and are
/// shared with other processes that map the same file; nothing can write through the
/// mapping. Replace a mapped file by renaming a new one over it (as atomic writes do), never
/// by truncating it in place: touching a page past a shortened end raises SIGBUS.
/// An empty file gives an empty ``bytes`` (no mapping).
public final class MappedFile: @unchecked Sendable {
    /// The path given to ``init(path:)``.
    public let path: String
    /// The file's bytes (read-only; `baseAddress` is page-aligned, nil for an empty file).
    public let bytes: UnsafeRawBufferPointer

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw MappedFileError.open(path: path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw MappedFileError.notRegularFile(path: path)
        }
        let size = Int(st.st_size)
        guard size > 0 else { bytes = UnsafeRawBufferPointer(start: nil, count: 0); return }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0),
              p != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw MappedFileError.map(path: path, errno: errno)
        }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    deinit {
        if let p = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: p), bytes.count) }
    }

    /// Whether `pointer` lies inside the mapping.
    public func contains(_ pointer: UnsafeRawPointer) -> Bool {
        guard let b = bytes.baseAddress else { return false }
        return pointer >= b && pointer < b + bytes.count
    }
}
