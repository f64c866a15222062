import CLMDB

/// A failed storage call: the operation that failed, LMDB's C return code and LMDB's own
/// message for it (a full disk, a full map, an I/O error). Kept apart from the errors about
/// images: a failed write is never reported as an unreadable image.
public struct IndexStorageError: Error, CustomStringConvertible {
    /// LMDB's (or the system's) error code.
    public let code: Int32
    /// The LMDB call or step that failed.
    public let operation: String

    public var description: String {
        "LMDB \(operation) failed: \(String(cString: mdb_strerror(code))) (code \(code))"
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
