import Foundation
import TesseraCore

/// One index directory: an LMDB environment holding the image table and one
/// inverted file per layer (MOF §3). See LAYOUT.md for every byte.
///
/// Writes are all-or-nothing per call (`add`, `remove`: one LMDB write
/// transaction each), so a killed process leaves only whole images. Readers use
/// `withSnapshot`, a read transaction that sees one consistent state while a
/// writer works (MVCC). An index open for writing holds `writer.lock`; a second
/// writer fails with `IndexError.busy`. Within one process, open a directory
/// once and share the `IndexStore` (LMDB forbids opening an environment twice
/// in one process).
public final class IndexStore: @unchecked Sendable {
    public let directory: URL
    public let meta: IndexMeta
    public let options: IndexStoreOptions
    let env: LMDBEnvironment
    let dbs: IndexDatabases
    private let writerLock: WriterLock?
    private let writeMutex = NSLock()
    let maxKeySize: Int

    private init(directory: URL, meta: IndexMeta, options: IndexStoreOptions, env: LMDBEnvironment,
                 dbs: IndexDatabases, writerLock: WriterLock?) {
        self.directory = directory; self.meta = meta; self.options = options
        self.env = env; self.dbs = dbs; self.writerLock = writerLock
        self.maxKeySize = env.maxKeySize
    }

    static let maxDatabases = 64
    /// The most inverted files one environment has room for.
    static let maxLayers = (maxDatabases - IndexDatabases.fixedCount) / IndexDatabases.perLayerCount

    private static func dataFile(_ dir: URL) -> URL { dir.appendingPathComponent("data.mdb") }

    /// Creates a new, empty index in `directory` (created if missing; must not hold an index).
    public static func create(at directory: URL, meta: IndexMeta,
                              options: IndexStoreOptions = IndexStoreOptions()) throws -> IndexStore {
        guard !options.readOnly else { throw IndexError.readOnly }
        if let problem = meta.problem(maxLayers: maxLayers) { throw IndexError.invalidInput(problem) }
        let fm = FileManager.default
        if fm.fileExists(atPath: dataFile(directory).path) { throw IndexError.alreadyExists(directory.path) }
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let lock = try WriterLock(directory: directory)
        let env = try LMDBEnvironment(directory: directory, maxDatabases: maxDatabases,
                                      mapSize: options.initialMapSize, maxMapSize: options.maxMapSize,
                                      readOnly: false)
        let json = try JSONEncoder().encode(meta)
        let dbs = try env.write { txn -> IndexDatabases in
            let dbs = try IndexDatabases(txn, layers: meta.layerKeys.count, create: true)
            try txn.put(dbs.meta, key: Array("meta".utf8), value: Array(json))
            try txn.put(dbs.meta, key: Array("nextImageID".utf8), value: ByteWriter.u32Bytes(0))
            return dbs
        }
        return IndexStore(directory: directory, meta: meta, options: options, env: env, dbs: dbs,
                          writerLock: options.writerLocking == .perWrite ? nil : lock)
    }

    /// Opens an existing index. With `expecting`, the stored vocabulary id and
    /// model hash must match it (`IndexError.identityMismatch` names both).
    public static func open(at directory: URL, expecting identity: IndexIdentity?,
                            options: IndexStoreOptions = IndexStoreOptions()) throws -> IndexStore {
        guard FileManager.default.fileExists(atPath: dataFile(directory).path) else {
            throw IndexError.notFound(directory.path)
        }
        let lock = options.readOnly || options.writerLocking == .perWrite ? nil : try WriterLock(directory: directory)
        let env = try LMDBEnvironment(directory: directory, maxDatabases: maxDatabases,
                                      mapSize: options.initialMapSize, maxMapSize: options.maxMapSize,
                                      readOnly: options.readOnly)
        let meta = try env.read { txn -> IndexMeta in
            let db = try IndexDatabases.metaOnly(txn)
            guard let json = try txn.value(db, key: Array("meta".utf8)) else {
                throw IndexError.corrupt("meta record missing in \(directory.path)")
            }
            do { return try JSONDecoder().decode(IndexMeta.self, from: Data(json)) } catch {
                throw IndexError.corrupt("meta record: \(error)")
            }
        }
        guard meta.formatVersion == IndexMeta.currentFormatVersion else {
            throw IndexError.unsupportedFormat(found: meta.formatVersion, supported: IndexMeta.currentFormatVersion)
        }
        if let problem = meta.problem(maxLayers: maxLayers) { throw IndexError.corrupt("meta record: \(problem)") }
        if let identity, identity != meta.identity {
            throw IndexError.identityMismatch(expected: identity, found: meta.identity)
        }
        // Named-database handles must be opened in a transaction that commits (or a read txn when read-only).
        let dbs = options.readOnly
            ? try env.read(commit: true) { try IndexDatabases($0, layers: meta.layerKeys.count, create: false) }
            : try env.write { try IndexDatabases($0, layers: meta.layerKeys.count, create: false) }
        return IndexStore(directory: directory, meta: meta, options: options, env: env, dbs: dbs, writerLock: lock)
    }

    var layerCount: Int { meta.layerKeys.count }

    /// Runs one write: one at a time in this process, and with `writerLocking == .perWrite`
    /// under `writer.lock`, taken for this write only (`IndexError.busy` while another
    /// process holds it). A storage failure on a full disk says so.
    private func exclusiveWrite<R>(_ body: () throws -> R) throws -> R {
        try writeMutex.withLock {
            let held = options.writerLocking == .perWrite ? try WriterLock(directory: directory) : nil
            do {
                return try withExtendedLifetime(held) { try body() }
            } catch let e as IndexStorageError {
                throw e.notingFullDisk(at: directory)
            }
        }
    }

    // MARK: Writing

    /// Adds a batch of images in ONE write transaction (records, paths, hashes,
    /// word lists and postings together).
    ///
    /// An image whose content hash is already indexed (or appears earlier in the
    /// batch) is skipped and reported as `.duplicate(of:)`. A path already
    /// indexed with another content hash throws `pathAlreadyIndexed` and nothing
    /// of the batch is written. Ids are assigned in batch order and never reused.
    public func add(_ batch: [NewImage]) throws -> [AddOutcome] {
        guard !options.readOnly else { throw IndexError.readOnly }
        for image in batch { try image.validate(layerCount: layerCount, signatureWords: meta.signatureWords) }
        // Canonical postings per image and layer, computed once outside the transaction.
        let postings = batch.map { image in image.layers.map(ImagePostings.init) }
        return try exclusiveWrite { try env.write { txn in try add(batch, postings: postings, txn) } }
    }

    private func add(_ batch: [NewImage], postings: [[ImagePostings]], _ txn: LMDBTransaction) throws -> [AddOutcome] {
        var next = try nextImageID(txn)
        var outcomes = [AddOutcome]()
        var inBatch = [String: ImageID]()
        var added = [(index: Int, id: ImageID)]()
        for (n, image) in batch.enumerated() {
            let hashKey = IndexDatabases.hashKey(image.contentHash, maxKeySize: maxKeySize)
            if let existing = try txn.value(dbs.hashes, key: hashKey) {
                outcomes.append(.duplicate(of: try decodeID(existing))); continue
            }
            if let existing = inBatch[image.contentHash] { outcomes.append(.duplicate(of: existing)); continue }
            let pathKey = IndexDatabases.pathKey(image.path, maxKeySize: maxKeySize)
            if try txn.value(dbs.paths, key: pathKey) != nil { throw IndexError.pathAlreadyIndexed(image.path) }
            guard next < ImageID.max else { throw IndexError.invalidInput("image id space exhausted") }
            let id = next
            next += 1
            let idKey = bigEndianKey(id)
            try txn.put(dbs.images, key: idKey, value: image.record(id: id).encoded(), append: true)
            try txn.put(dbs.paths, key: pathKey, value: idKey)
            try txn.put(dbs.hashes, key: hashKey, value: idKey)
            try txn.put(dbs.imageWords, key: idKey,
                        value: IndexDatabases.encodeWords(postings[n].map(\.distinctWords)), append: true)
            if let geometry = image.geometry {
                try txn.put(dbs.geometry, key: idKey, value: GeometryCoding.encode(geometry), append: true)
            }
            inBatch[image.contentHash] = id
            added.append((n, id))
            outcomes.append(.added(id))
        }
        for layer in 0..<layerCount {
            let runs = PostingRuns(added.map { (id: $0.id, postings: postings[$0.index][layer]) },
                                   signatureWords: meta.signatureWords)
            try txn.withCursor(dbs.inverted[layer]) { tail in
                try txn.withCursor(dbs.blocks[layer]) { blocks in
                    try runs.records.withUnsafeBytes { rec in
                        for run in runs.runs {
                            let records = UnsafeRawBufferPointer(
                                rebasing: rec[(run.start * runs.stride)..<((run.start + run.count) * runs.stride)])
                            try append(records, word: run.word, tail: tail, blocks: blocks)
                        }
                    }
                }
            }
        }
        try txn.put(dbs.meta, key: Array("nextImageID".utf8), value: ByteWriter.u32Bytes(next))
        return outcomes
    }

    /// Appends sorted `records` (image ids above every stored one) to `word`'s list: into its
    /// tail, or, when tail + records reach `postingBlockBytes`, tail and records together
    /// become one sealed block and the tail is emptied. The new block then absorbs the word's
    /// last block while that one is no larger and the sum stays within `maxPostingBlockBytes`
    /// (a binary-counter merge: each merge at least doubles the block a posting sits in, so
    /// without removals a posting is rewritten at most log2(max / block) times after sealing).
    /// A word's tail and blocks thus hold whole images: all postings of one image on one word
    /// sit in one place.
    private func append(_ records: UnsafeRawBufferPointer, word: UInt32, tail: LMDBCursor, blocks: LMDBCursor) throws {
        let stride = meta.postingStride
        let sealed = try withUnsafeBytes(of: word.bigEndian) { key -> [UInt8]? in
            let first = try tail.get(.setKey, key: key)
            let tailBytes = first == nil ? 0 : try tail.duplicateCount() * stride
            guard tailBytes + records.count >= meta.postingBlockBytes else {
                try tail.putMultiple(key: key, records: records.baseAddress!, stride: stride,
                                     count: records.count / stride)
                return nil
            }
            var block = [UInt8](repeating: 0, count: tailBytes + records.count)
            try block.withUnsafeMutableBytes { out in
                if let first {
                    guard let page = try tail.get(.multiple, value: first.value),
                          try tail.copyDuplicates(from: page,
                                                  into: UnsafeMutableRawBufferPointer(rebasing: out[0..<tailBytes]))
                            == tailBytes else {
                        throw IndexError.corrupt("word \(word): tail pages do not hold the \(tailBytes) bytes counted")
                    }
                    _ = try tail.get(.setKey, key: key)
                    try tail.deleteCurrent(allDuplicates: true)
                }
                UnsafeMutableRawBufferPointer(rebasing: out[tailBytes...]).copyMemory(from: records)
            }
            return block
        }
        guard var block = sealed else { return }
        // Merge with the word's last blocks: the last key at or before (word, ImageID.max),
        // a key no block has, since ids stay below it.
        try IndexDatabases.withBlockKey(word: word, firstImage: .max) { end in
            while let last = try blocks.lastAtOrBefore(end), last.key.count == 8, readBigEndianUInt32(last.key) == word,
                  last.value.count <= block.count, last.value.count + block.count <= meta.maxPostingBlockBytes {
                block = Array(last.value) + block
                try blocks.deleteCurrent()
            }
        }
        try IndexDatabases.withBlockKey(word: word, firstImage: block.withUnsafeBytes(readBigEndianUInt32)) { key in
            try block.withUnsafeBytes { try blocks.put(key: key, value: $0) }
        }
    }

    /// Removes the images at `paths` (all in one write transaction): their
    /// records, path and hash entries, and every posting in every list they
    /// touched (found through the image's stored word list). Unknown paths are
    /// ignored; returns how many images were removed.
    @discardableResult
    public func remove(paths: [String]) throws -> Int {
        guard !options.readOnly else { throw IndexError.readOnly }
        return try exclusiveWrite {
            try env.write { txn in
                var removed = 0
                for path in paths {
                    let pathKey = IndexDatabases.pathKey(path, maxKeySize: maxKeySize)
                    guard let idBytes = try txn.value(dbs.paths, key: pathKey) else { continue }
                    let id = try decodeID(idBytes)
                    let record = try txn.withValue(dbs.images, key: idBytes) { bytes -> ImageRecord in
                        guard let bytes else { throw IndexError.corrupt("path \(path) points to missing image \(id)") }
                        return try ImageRecord.decode(id: id, bytes)
                    }
                    let words = try txn.withValue(dbs.imageWords, key: idBytes) { bytes -> [[UInt32]] in
                        guard let bytes else { throw IndexError.corrupt("word list of image \(id) missing") }
                        return try IndexDatabases.decodeWords(bytes, layers: layerCount, id: id)
                    }
                    for layer in 0..<layerCount {
                        try removePostings(of: id, words: words[layer], layer: layer, txn)
                    }
                    try txn.delete(dbs.images, key: idBytes)
                    try txn.delete(dbs.imageWords, key: idBytes)
                    try txn.delete(dbs.geometry, key: idBytes)
                    try txn.delete(dbs.paths, key: pathKey)
                    try txn.delete(dbs.hashes, key: IndexDatabases.hashKey(record.contentHash, maxKeySize: maxKeySize))
                    removed += 1
                }
                return removed
            }
        }
    }

    /// Deletes image `id`'s postings from each of `words`' lists. An image's postings on a word
    /// lie either in the word's tail or in one sealed block (see `append`), so for each word:
    /// in the tail, position at the first duplicate >= (id, zero signature) with
    /// `MDB_GET_BOTH_RANGE` and delete while the posting's image is `id`; among the blocks, the
    /// only candidate is the last block whose key is <= (word, id), rewritten without the image
    /// (deleted when nothing is left).
    private func removePostings(of id: ImageID, words: [UInt32], layer: Int, _ txn: LMDBTransaction) throws {
        var probe = [UInt8](repeating: 0, count: meta.postingStride)
        probe.replaceSubrange(0..<4, with: bigEndianKey(id))
        try txn.withCursor(dbs.inverted[layer]) { cursor in
            try probe.withUnsafeBytes { value in
                for word in words {
                    try bigEndianKey(word).withUnsafeBytes { key in
                        while let entry = try cursor.get(.bothRange, key: key, value: value),
                              readBigEndianUInt32(entry.value) == id {
                            try cursor.deleteCurrent()
                        }
                    }
                }
            }
        }
        try txn.withCursor(dbs.blocks[layer]) { cursor in
            for word in words {
                // The only candidate block, its key and its postings without the image's (nil: image not there).
                let change = try IndexDatabases.withBlockKey(
                    word: word, firstImage: id
                ) { probe -> (key: [UInt8], kept: [UInt8])? in
                    guard let block = try cursor.lastAtOrBefore(probe), block.key.count == 8,
                          readBigEndianUInt32(block.key) == word,
                          let kept = try postings(block.value, without: id, word: word) else { return nil }
                    return (Array(block.key), kept)
                }
                guard let change else { continue }
                if change.kept.isEmpty {
                    try cursor.deleteCurrent()
                } else {
                    try change.key.withUnsafeBytes { k in
                        try change.kept.withUnsafeBytes { try cursor.put(key: k, value: $0) }
                    }
                }
            }
        }
    }

    /// `block`'s postings without image `id`'s run (found by binary search on the sorted ids);
    /// nil when the block has no posting of `id`.
    private func postings(_ block: UnsafeRawBufferPointer, without id: ImageID, word: UInt32) throws -> [UInt8]? {
        let stride = meta.postingStride
        guard block.count % stride == 0 else {
            throw IndexError.corrupt("block of word \(word): \(block.count) bytes, not a multiple of \(stride)")
        }
        let n = block.count / stride
        func image(_ i: Int) -> ImageID {
            readBigEndianUInt32(UnsafeRawBufferPointer(rebasing: block[(i * stride)...]))
        }
        var lo = 0, hi = n
        while lo < hi { let mid = (lo + hi) / 2; if image(mid) < id { lo = mid + 1 } else { hi = mid } }
        var end = lo
        while end < n && image(end) == id { end += 1 }
        guard end > lo else { return nil }
        return Array(block[0..<(lo * stride)]) + Array(block[(end * stride)...])
    }

    // MARK: Reading

    /// The id of the image with this content hash, if indexed.
    public func contains(contentHash: String) throws -> ImageID? {
        try env.read { txn in
            try txn.value(dbs.hashes, key: IndexDatabases.hashKey(contentHash, maxKeySize: maxKeySize)).map(decodeID)
        }
    }

    /// The record of the image indexed at `path`, if any.
    public func image(path: String) throws -> ImageRecord? {
        try withSnapshot { try $0.image(path: path) }
    }

    /// Every image record, by increasing id.
    public func images() throws -> [ImageRecord] {
        try withSnapshot { try $0.images() }
    }

    /// Runs `body` on a consistent read-only view of the index (an LMDB read
    /// transaction). The snapshot must not be used after `body` returns.
    public func withSnapshot<R>(_ body: (IndexSnapshot) throws -> R) throws -> R {
        try env.read { txn in
            let snapshot = IndexSnapshot(txn: txn, store: self)
            defer { snapshot.close() }
            return try body(snapshot)
        }
    }

    /// Writes a compacted copy of the index (free pages dropped, `MDB_CP_COMPACT`)
    /// into `destination`, which is created if missing and must not hold an index.
    ///
    /// The copy is written into `destination/.compacting/` and its `data.mdb` renamed into place
    /// only when complete, so a killed compaction leaves no index at `destination` (and a rerun
    /// starts afresh), never a half-written one.
    public func compact(to destination: URL) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: Self.dataFile(destination).path) { throw IndexError.alreadyExists(destination.path) }
        let partial = destination.appendingPathComponent(".compacting", isDirectory: true)
        try? fm.removeItem(at: partial)
        try fm.createDirectory(at: partial, withIntermediateDirectories: true)
        try env.copy(to: partial, compact: true)
        guard rename(Self.dataFile(partial).path, Self.dataFile(destination).path) == 0 else {
            throw IndexStorageError(code: errno, operation: "rename the compacted copy into \(destination.path)")
        }
        try? fm.removeItem(at: partial)
    }

    func nextImageID(_ txn: LMDBTransaction) throws -> ImageID {
        guard let bytes = try txn.value(dbs.meta, key: Array("nextImageID".utf8)), bytes.count == 4 else {
            throw IndexError.corrupt("nextImageID missing")
        }
        return bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
    }
}

func decodeID(_ bytes: [UInt8]) throws -> ImageID {
    guard bytes.count == 4 else { throw IndexError.corrupt("image id of \(bytes.count) bytes") }
    return bytes.withUnsafeBytes(readBigEndianUInt32)
}

extension ByteWriter {
    static func u32Bytes(_ v: UInt32) -> [UInt8] {
        var w = ByteWriter()
        w.u32(v)
        return w.bytes
    }
}
