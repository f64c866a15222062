import CLMDB
import Foundation

/// One LMDB environment (a directory holding `data.mdb` and `lock.mdb`), opened
/// with `MDB_NOTLS` so read transactions are not tied to threads.
///
/// Transactions are lent to closures only: `read` aborts its transaction on
/// return, `write` commits on return and aborts on throw. A write that runs out
/// of map space (`MDB_MAP_FULL`) is aborted, the map size doubled with
/// `mdb_env_set_mapsize` and the closure run again, so the closure must be
/// re-runnable (it only touches the transaction it is given).
final class LMDBEnvironment: @unchecked Sendable {
    let handle: OpaquePointer
    let readOnly: Bool
    /// Upper bound for map growth, in bytes.
    let maxMapSize: Int
    /// Guards `activeReaders`, `growing` and `mapSize`; readers wait on it while the map grows.
    private let state = NSCondition()
    private var activeReaders = 0
    private var growing = false
    /// How long a write that must grow the map waits for this process's open snapshots to close.
    static let growWaitSeconds = 30.0
    private(set) var mapSize: Int
    /// This environment's map of `data.mdb` (`MapBounds`), found again after every remap.
    private var map: (base: UInt, end: UInt) = (0, 0)
    private let dataFile: String

    init(directory: URL, maxDatabases: Int, mapSize: Int, maxMapSize: Int, readOnly: Bool) throws {
        var env: OpaquePointer?
        try lmdbCheck(mdb_env_create(&env), "env_create")
        guard let env else { throw IndexStorageError(code: ENOMEM, operation: "env_create") }
        do {
            try lmdbCheck(mdb_env_set_maxdbs(env, MDB_dbi(maxDatabases)), "env_set_maxdbs")
            try lmdbCheck(mdb_env_set_mapsize(env, mapSize), "env_set_mapsize(\(mapSize))")
            var flags = UInt32(MDB_NOTLS)
            if readOnly { flags |= UInt32(MDB_RDONLY) }
            try lmdbCheck(mdb_env_open(env, directory.path, flags, 0o644), "env_open(\(directory.path))")
            try Self.checkLength(env, file: directory.appendingPathComponent("data.mdb"))
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.handle = env
        self.readOnly = readOnly
        self.dataFile = directory.appendingPathComponent("data.mdb").resolvingSymlinksInPath().path
        self.maxMapSize = max(maxMapSize, mapSize)
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        self.mapSize = info.me_mapsize
        map = locateMap()
    }

    /// The address range of this process's one mapping of `data.mdb` (/proc/self/maps), or
    /// (0, 0) where there is no such file or the file is mapped twice (LMDB forbids opening an
    /// environment twice in one process, but nothing enforces it): then values go unchecked.
    private func locateMap() -> (base: UInt, end: UInt) {
        // Read to the end: /proc files report a size of 0.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/maps"),
              let data = try? handle.readToEnd(), (try? handle.close()) != nil else { return (0, 0) }
        let maps = String(decoding: data, as: UTF8.self)
        let ranges = maps.split(separator: "\n").compactMap { line -> (UInt, UInt)? in
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, fields[5].trimmingCharacters(in: .whitespaces) == dataFile else { return nil }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let lo = UInt(bounds[0], radix: 16), let hi = UInt(bounds[1], radix: 16)
            else { return nil }
            return (lo, hi)
        }
        return ranges.count == 1 ? (ranges[0].0, ranges[0].1) : (0, 0)
    }

    deinit { mdb_env_close(handle) }

    /// Where values read now may lie (`MapBounds`).
    func mapBounds() -> MapBounds {
        let (base, end) = state.withLock { map }
        return MapBounds(base: base, end: end, committedEnd: base &+ UInt(Self.committedBytes(handle)))
    }

    /// Bytes from the start of `data.mdb` to the end of its last committed page.
    private static func committedBytes(_ env: OpaquePointer) -> Int {
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        var st = MDB_stat()
        mdb_env_stat(env, &st)
        return (info.me_last_pgno + 1) * Int(st.ms_psize)
    }

    /// Refuses a data file shorter than its last committed page: LMDB maps the file and would
    /// fault (SIGBUS) on the first page past its end, so a copy cut short must be an error.
    private static func checkLength(_ env: OpaquePointer, file: URL) throws {
        let needed = committedBytes(env)
        let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? nil
        if let size, size < needed {
            throw IndexError.corrupt("\(file.path) is \(size) bytes, but its last committed page ends at byte "
                                     + "\(needed): the file was cut short (restore it or rebuild the index)")
        }
    }

    var pageSize: Int {
        var st = MDB_stat()
        mdb_env_stat(handle, &st)
        return Int(st.ms_psize)
    }

    /// Largest key LMDB accepts in this build (511 by default).
    var maxKeySize: Int { Int(mdb_env_get_maxkeysize(handle)) }

    /// Pages ever used (the high-water mark of the data file), in pages.
    var lastPageNumber: Int {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return info.me_last_pgno
    }

    /// Runs `body` in a read-only transaction (a consistent MVCC snapshot),
    /// aborted on return. With `commit`, it is committed instead, which keeps
    /// database handles opened in it (needed when the environment is read-only).
    func read<R>(commit: Bool = false, _ body: (LMDBTransaction) throws -> R) throws -> R {
        state.withLock {
            while growing { state.wait() }
            activeReaders += 1
        }
        defer {
            state.withLock {
                activeReaders -= 1
                if activeReaders == 0 { state.broadcast() }
            }
        }
        return try transaction(flags: UInt32(MDB_RDONLY), body) { txn in
            if commit { try lmdbCheck(mdb_txn_commit(txn), "txn_commit(read)") } else { mdb_txn_abort(txn) }
        }
    }

    /// Begins a transaction, runs `body` in it, aborts on throw, else hands it to `finish`
    /// (commit or abort).
    private func transaction<R>(flags: UInt32, _ body: (LMDBTransaction) throws -> R,
                                finish: (OpaquePointer) throws -> Void) throws -> R {
        let txn = try begin(flags: flags)
        let result: R
        do {
            // Read transactions check what they read; a write may read back its own pages that
            // LMDB spilled to the file past the last committed page, so it is not checked.
            let bounds = flags & UInt32(MDB_RDONLY) != 0 ? mapBounds() : MapBounds.unchecked
            result = try body(LMDBTransaction(handle: txn, environment: self, bounds: bounds))
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        try finish(txn)
        return result
    }

    /// Runs `body` in a write transaction: commit on return, abort on throw.
    /// On `MDB_MAP_FULL` the map is doubled and `body` runs again.
    func write<R>(_ body: (LMDBTransaction) throws -> R) throws -> R {
        while true {
            do {
                return try transaction(flags: 0, body) { txn in try lmdbCheck(mdb_txn_commit(txn), "txn_commit") }
            } catch let error as IndexStorageError where error.isMapFull {
                try grow(after: error)
            }
        }
    }

    /// Doubles the map size (call only with no write transaction open). LMDB allows it only with
    /// no read transaction open in this process, so new snapshots wait and open ones are given
    /// `growWaitSeconds` to close (a snapshot held by the caller itself never closes: that fails).
    private func grow(after error: IndexStorageError) throws {
        try state.withLock {
            growing = true
            defer { growing = false; state.broadcast() }
            let deadline = Date(timeIntervalSinceNow: Self.growWaitSeconds)
            while activeReaders > 0 && state.wait(until: deadline) {}
            guard activeReaders == 0 else {
                throw IndexStorageError(code: error.code,
                                operation: "grow map (\(activeReaders) read snapshot(s) open in this process)")
            }
            guard mapSize < maxMapSize else {
                throw IndexStorageError(code: error.code, operation: "grow map beyond the limit of \(maxMapSize) bytes")
            }
            let newSize = min(mapSize * 2, maxMapSize)
            try lmdbCheck(mdb_env_set_mapsize(handle, newSize), "env_set_mapsize(\(newSize))")
            mapSize = newSize
            map = locateMap()
        }
    }

    private func begin(flags: UInt32) throws -> OpaquePointer {
        var txn: OpaquePointer?
        var rc = mdb_txn_begin(handle, nil, flags, &txn)
        if rc == MDB_MAP_RESIZED {
            // Another process grew the map: adopt its size (0 = use the size in the file).
            try state.withLock {
                try lmdbCheck(mdb_env_set_mapsize(handle, 0), "env_set_mapsize(0)")
                var info = MDB_envinfo()
                mdb_env_info(handle, &info)
                mapSize = info.me_mapsize
                map = locateMap()
            }
            rc = mdb_txn_begin(handle, nil, flags, &txn)
        }
        try lmdbCheck(rc, "txn_begin")
        guard let txn else { throw IndexStorageError(code: EINVAL, operation: "txn_begin") }
        return txn
    }

    /// Copies the environment to the empty directory `destination`; `compact`
    /// omits free pages and renumbers pages sequentially (`MDB_CP_COMPACT`).
    func copy(to destination: URL, compact: Bool) throws {
        try lmdbCheck(mdb_env_copy2(handle, destination.path, compact ? UInt32(MDB_CP_COMPACT) : 0),
                      "env_copy2(\(destination.path))")
    }
}

/// The memory LMDB's map spans, and the end of its last committed page (which the file holds).
/// A value LMDB returns inside the map must end by then: a damaged page (a flipped size or page
/// number) could otherwise send a read past the end of the file, which faults (SIGBUS) instead
/// of failing. Outside the map (a write transaction's own new pages) nothing is checked.
struct MapBounds {
    let base: UInt, end: UInt, committedEnd: UInt
    /// Checks nothing.
    static let unchecked = MapBounds(base: 0, end: 0, committedEnd: 0)

    func check(_ v: MDB_val) throws {
        guard let p = v.mv_data else { return }
        let start = UInt(bitPattern: p)
        guard start >= base && start < end else { return }
        let (last, overflow) = start.addingReportingOverflow(UInt(v.mv_size))
        guard !overflow, last <= committedEnd else {
            throw IndexError.corrupt("a stored value of \(v.mv_size) bytes runs past the last committed page of "
                                     + "data.mdb (a damaged page)")
        }
    }
}
