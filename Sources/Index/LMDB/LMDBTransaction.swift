import CLMDB
import Foundation

/// Handle of a named database inside an environment (valid for the environment's life).
struct LMDBDatabase: Sendable {
    let dbi: MDB_dbi
    /// Records of this database are fixed-size sorted duplicates (`MDB_DUPSORT | MDB_DUPFIXED`).
    let dupFixed: Bool
}

/// Per-database page counts and entries (`mdb_stat`).
struct LMDBStat {
    var entries: Int
    var depth: Int
    var pages: Int
}

/// A transaction lent to a closure by `LMDBEnvironment`; never store it.
struct LMDBTransaction {
    let handle: OpaquePointer
    unowned let environment: LMDBEnvironment
    /// Every value read is checked against it.
    let bounds: MapBounds

    /// The transaction's id: for a read transaction, the id of the last committed write it sees.
    var id: Int { Int(mdb_txn_id(handle)) }

    /// Opens (and with `create`, creates) the named database.
    func openDatabase(_ name: String, dupFixed: Bool = false, create: Bool) throws -> LMDBDatabase {
        var flags: UInt32 = 0
        if create { flags |= UInt32(MDB_CREATE) }
        if dupFixed { flags |= UInt32(MDB_DUPSORT) | UInt32(MDB_DUPFIXED) }
        var dbi = MDB_dbi()
        try lmdbCheck(mdb_dbi_open(handle, name, flags, &dbi), "dbi_open(\(name))")
        return LMDBDatabase(dbi: dbi, dupFixed: dupFixed)
    }

    /// Lends the value stored under `key` to `body` (nil when absent).
    func withValue<R>(_ db: LMDBDatabase, key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try key.withUnsafeBytes { k in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            var dv = MDB_val()
            let rc = mdb_get(handle, db.dbi, &kv, &dv)
            if rc == MDB_NOTFOUND { return try body(nil) }
            try lmdbCheck(rc, "get")
            try bounds.check(dv)
            return try body(UnsafeRawBufferPointer(start: dv.mv_data, count: dv.mv_size))
        }
    }

    /// A copy of the value under `key`.
    func value(_ db: LMDBDatabase, key: [UInt8]) throws -> [UInt8]? {
        try withValue(db, key: key) { $0.map { Array($0) } }
    }

    /// Stores `value` under `key`. With `append`, a key that sorts after every
    /// stored key is appended (`MDB_APPEND`: full pages instead of half-full
    /// ones on ascending inserts); any other key is inserted normally.
    func put(_ db: LMDBDatabase, key: [UInt8], value: [UInt8], append: Bool = false) throws {
        try key.withUnsafeBytes { k in
            try value.withUnsafeBytes { v in
                var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                var dv = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                var rc = mdb_put(handle, db.dbi, &kv, &dv, append ? UInt32(MDB_APPEND) : 0)
                if append && rc == MDB_KEYEXIST { rc = mdb_put(handle, db.dbi, &kv, &dv, 0) }
                try lmdbCheck(rc, "put")
            }
        }
    }

    /// Deletes `key` (all its duplicates); false when it was absent.
    @discardableResult
    func delete(_ db: LMDBDatabase, key: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { k in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            let rc = mdb_del(handle, db.dbi, &kv, nil)
            if rc == MDB_NOTFOUND { return false }
            try lmdbCheck(rc, "del")
            return true
        }
    }

    func stat(_ db: LMDBDatabase) throws -> LMDBStat {
        var st = MDB_stat()
        try lmdbCheck(mdb_stat(handle, db.dbi, &st), "stat")
        return LMDBStat(entries: st.ms_entries, depth: Int(st.ms_depth),
                        pages: st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages)
    }

    /// Number of pages on LMDB's free list (reusable space inside the data file).
    func freePages() throws -> Int {
        var cursor: OpaquePointer?
        try lmdbCheck(mdb_cursor_open(handle, 0, &cursor), "cursor_open(free)")
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val(), v = MDB_val()
        var total = 0
        var rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
        while rc == MDB_SUCCESS {
            // Each value is an ID list: a count followed by that many page numbers.
            try bounds.check(v)
            if v.mv_size >= MemoryLayout<Int>.size {
                total += v.mv_data.loadUnaligned(as: Int.self)
            }
            rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try lmdbCheck(rc, "cursor_get(free)") }
        return total
    }

    /// Lends a cursor on `db` to `body`; closed on return.
    func withCursor<R>(_ db: LMDBDatabase, _ body: (LMDBCursor) throws -> R) throws -> R {
        var cursor: OpaquePointer?
        try lmdbCheck(mdb_cursor_open(handle, db.dbi, &cursor), "cursor_open")
        guard let cursor else { throw IndexStorageError(code: EINVAL, operation: "cursor_open") }
        defer { mdb_cursor_close(cursor) }
        return try body(LMDBCursor(handle: cursor, bounds: bounds))
    }
}
