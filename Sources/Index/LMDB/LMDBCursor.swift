import CLMDB

/// A key and value returned by a cursor, valid until the next operation on
/// the cursor or the end of its transaction.
struct LMDBEntry {
    let key: UnsafeRawBufferPointer
    let value: UnsafeRawBufferPointer
}

/// A cursor lent to a closure by `LMDBTransaction.withCursor`; never store it.
struct LMDBCursor {
    let handle: OpaquePointer
    /// Every key and value read is checked against it.
    let bounds: MapBounds

    /// Positioning operations used by the index (a subset of `MDB_cursor_op`).
    enum Op {
        /// First key/value of the database.
        case first
        /// Next value (next duplicate or next key).
        case next
        /// First value of the next key.
        case nextKey
        /// Previous value (previous duplicate or previous key).
        case prev
        /// Last key/value of the database.
        case last
        /// Exactly `key`, at its first duplicate.
        case setKey
        /// The first key `>= key` (`MDB_SET_RANGE`).
        case setRange
        /// `key` and the first duplicate `>= value` (`MDB_GET_BOTH_RANGE`).
        case bothRange
        /// All duplicates of the current key on the current page (`MDB_GET_MULTIPLE`, DUPFIXED only).
        case multiple
        /// The next page of duplicates of the current key (`MDB_NEXT_MULTIPLE`).
        case nextMultiple

        var c: MDB_cursor_op {
            switch self {
            case .first: return MDB_FIRST
            case .next: return MDB_NEXT
            case .nextKey: return MDB_NEXT_NODUP
            case .prev: return MDB_PREV
            case .last: return MDB_LAST
            case .setKey: return MDB_SET_KEY
            case .setRange: return MDB_SET_RANGE
            case .bothRange: return MDB_GET_BOTH_RANGE
            case .multiple: return MDB_GET_MULTIPLE
            case .nextMultiple: return MDB_NEXT_MULTIPLE
            }
        }
    }

    /// Runs a positioning operation; nil at `MDB_NOTFOUND`.
    ///
    /// `key`/`value` are inputs for `.setKey`, `.setRange` and `.bothRange`. For `.multiple`
    /// pass the value returned by the preceding `.setKey`: LMDB leaves it
    /// untouched when the key has a single (inline) duplicate.
    func get(_ op: Op, key: UnsafeRawBufferPointer? = nil, value: UnsafeRawBufferPointer? = nil) throws -> LMDBEntry? {
        var kv = MDB_val(mv_size: key?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: key?.baseAddress))
        var dv = MDB_val(mv_size: value?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: value?.baseAddress))
        let rc = mdb_cursor_get(handle, &kv, &dv, op.c)
        if rc == MDB_NOTFOUND { return nil }
        try lmdbCheck(rc, "cursor_get(\(op))")
        try bounds.check(kv)
        try bounds.check(dv)
        return LMDBEntry(key: UnsafeRawBufferPointer(start: kv.mv_data, count: kv.mv_size),
                         value: UnsafeRawBufferPointer(start: dv.mv_data, count: dv.mv_size))
    }

    /// The last entry whose key is `<= key`, nil when there is none (`MDB_SET_RANGE`, then
    /// `MDB_PREV` or `MDB_LAST`; databases without duplicates).
    func lastAtOrBefore(_ key: UnsafeRawBufferPointer) throws -> LMDBEntry? {
        guard let atOrAfter = try get(.setRange, key: key) else { return try get(.last) }
        return atOrAfter.key.elementsEqual(key) ? atOrAfter : try get(.prev)
    }

    /// Copies the current key's duplicates into `buffer`, page by page: `firstPage` (what
    /// `.multiple` returned), then every `.nextMultiple` page. Returns the bytes copied, or nil
    /// when the pages do not fit in `buffer`.
    func copyDuplicates(from firstPage: LMDBEntry, into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        var filled = 0
        var page: LMDBEntry? = firstPage
        while let p = page {
            guard filled + p.value.count <= buffer.count else { return nil }
            UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<(filled + p.value.count)]).copyMemory(from: p.value)
            filled += p.value.count
            page = try get(.nextMultiple)
        }
        return filled
    }

    /// Number of duplicates of the current key.
    func duplicateCount() throws -> Int {
        var n = 0
        try lmdbCheck(mdb_cursor_count(handle, &n), "cursor_count")
        return n
    }

    /// Deletes the current key/value pair; with `allDuplicates`, every duplicate of the current key
    /// (`MDB_NODUPDATA`).
    func deleteCurrent(allDuplicates: Bool = false) throws {
        try lmdbCheck(mdb_cursor_del(handle, allDuplicates ? UInt32(MDB_NODUPDATA) : 0), "cursor_del")
    }

    /// Stores `value` under `key`, replacing the value of an existing key (databases without duplicates).
    func put(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws {
        var kv = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var dv = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try lmdbCheck(mdb_cursor_put(handle, &kv, &dv, 0), "cursor_put(\(value.count) bytes)")
    }

    /// Stores `count` fixed-size records of `stride` bytes each, contiguous at
    /// `records` and sorted, as duplicates of `key` in one call (`MDB_MULTIPLE`).
    ///
    /// When the records all sort after the key's existing duplicates (the usual
    /// case: new images get larger ids) they are appended with `MDB_APPENDDUP`,
    /// which splits full pages at the end instead of in the middle, so pages
    /// stay full rather than half full. Otherwise they are inserted normally.
    func putMultiple(key: UnsafeRawBufferPointer, records: UnsafeRawPointer, stride: Int, count: Int) throws {
        func put(_ flags: UInt32) -> Int32 {
            var kv = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
            var vals = (MDB_val(mv_size: stride, mv_data: UnsafeMutableRawPointer(mutating: records)),
                        MDB_val(mv_size: count, mv_data: nil))
            return withUnsafeMutablePointer(to: &vals) { p in
                p.withMemoryRebound(to: MDB_val.self, capacity: 2) { mdb_cursor_put(handle, &kv, $0, flags) }
            }
        }
        var rc = put(UInt32(MDB_MULTIPLE) | UInt32(MDB_APPENDDUP))
        // MDB_KEYEXIST: the first record does not sort after the last stored one (nothing was written).
        if rc == MDB_KEYEXIST { rc = put(UInt32(MDB_MULTIPLE)) }
        try lmdbCheck(rc, "cursor_put(multiple, \(count) records)")
    }
}
