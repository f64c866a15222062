import CLMDB
import Foundation

/// A failed storage call: the operation that failed, LMDB's C return code and LMDB's own
/// message for it (a full disk, a full map, an I/O error). Kept apart from the errors about
/// images: a failed write is never reported as an unreadable image.
public struct IndexStorageError: Error, CustomStringConvertible {
    /// LMDB's (or the system's) error code.
    public let code: Int32
    /// The LMDB call or step that failed.
    public let operation: String

    /// What the file system holding the index said, when the failure looks like a full disk.
    public var diskFull: String?

    public init(code: Int32, operation: String, diskFull: String? = nil) {
        self.code = code; self.operation = operation; self.diskFull = diskFull
    }

    public var description: String {
        "LMDB \(operation) failed: \(String(cString: mdb_strerror(code))) (code \(code))"
            + (diskFull.map { ": \($0)" } ?? "")
    }

    /// This error with the disk's state added when a write failed for want of space: LMDB
    /// reports a short write as EIO, and ENOSPC as itself. Nothing was committed either way.
    func notingFullDisk(at directory: URL) -> IndexStorageError {
        guard code == EIO || code == ENOSPC || code == EDQUOT else { return self }
        var fs = statvfs()
        guard statvfs(directory.path, &fs) == 0 else { return self }
        let free = Int(fs.f_bavail) * Int(fs.f_frsize)
        guard free < 64 << 20 else { return self }
        return IndexStorageError(code: code, operation: operation,
                                 diskFull: "the disk holding \(directory.path) is full (\(free / 1024) KiB free); "
                                     + "nothing of this write was committed")
    }

    /// The map (the environment's size limit) is full: grow it and retry.
    public var isMapFull: Bool { code == MDB_MAP_FULL }
    /// Another process grew the map: adopt the new size and retry.
    var isMapResized: Bool { code == MDB_MAP_RESIZED }
    var isNotFound: Bool { code == MDB_NOTFOUND }
}

/// The one place where LMDB return codes become Swift errors.
@inline(__always)
func lmdbCheck(_ rc: Int32, _ operation: @autoclosure () -> String) throws {
    if rc != MDB_SUCCESS { throw IndexStorageError(code: rc, operation: operation()) }
}
