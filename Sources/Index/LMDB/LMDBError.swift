import CLMDB

/// A failed LMDB call: the C return code, LMDB's own message for it and the
/// operation that failed.
struct LMDBError: Error, CustomStringConvertible {
    let code: Int32
    let operation: String

    var description: String {
        "LMDB \(operation) failed: \(String(cString: mdb_strerror(code))) (code \(code))"
    }

    /// The map (the environment's size limit) is full: grow it and retry.
    var isMapFull: Bool { code == MDB_MAP_FULL }
    /// Another process grew the map: adopt the new size and retry.
    var isMapResized: Bool { code == MDB_MAP_RESIZED }
    var isNotFound: Bool { code == MDB_NOTFOUND }
}

/// The one place where LMDB return codes become Swift errors.
@inline(__always)
func lmdbCheck(_ rc: Int32, _ operation: @autoclosure () -> String) throws {
    if rc != MDB_SUCCESS { throw LMDBError(code: rc, operation: operation()) }
}
