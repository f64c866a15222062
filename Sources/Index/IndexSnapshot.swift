import TesseraCore

/// A consistent read-only view of an `IndexStore` (one LMDB read transaction),
/// lent by `IndexStore.withSnapshot`. It sees the index as of its start even
/// while a writer commits (MVCC). Use it only inside that closure and on one
/// thread at a time; after the closure, every method throws `snapshotClosed`.
///
/// `forEachPostingBlock` is the `InvertedListsReader` view scoring uses: a word's
/// sealed blocks are lent in place (zero copy; each is one contiguous LMDB value),
/// then its tail: in place when it fits on one LMDB page, else gathered into a
/// buffer the snapshot reuses (the tail is under `postingBlockBytes`).
public final class IndexSnapshot: InvertedListsReader {
    private let txn: LMDBTransaction
    private let store: IndexStore
    private var open = true
    private var scratch = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var scratchInUse = false

    init(txn: LMDBTransaction, store: IndexStore) {
        self.txn = txn
        self.store = store
    }

    deinit { scratch.deallocate() }

    func close() { open = false }

    private func check(layer: Int? = nil) throws {
        guard open else { throw IndexError.snapshotClosed }
        if let layer, !(0..<store.layerCount).contains(layer) {
            throw IndexError.invalidInput("layer \(layer) (the index has \(store.layerCount))")
        }
    }

    public var signatureWords: Int { store.meta.signatureWords }
    public var meta: IndexMeta { store.meta }

    /// Number of indexed images (N of the IDF, MOF eq. 4).
    public func imageCount() throws -> Int {
        try check()
        return try txn.stat(store.dbs.images).entries
    }

    /// One past the largest id ever assigned: a dense score array of this size covers every image.
    public func imageIDBound() throws -> Int {
        try check()
        return Int(try store.nextImageID(txn))
    }

    public func image(id: ImageID) throws -> ImageRecord? {
        try check()
        return try txn.withValue(store.dbs.images, key: bigEndianKey(id)) { bytes in
            try bytes.map { try ImageRecord.decode(id: id, $0) }
        }
    }

    public func image(path: String) throws -> ImageRecord? {
        try check()
        let key = IndexDatabases.pathKey(path, maxKeySize: store.maxKeySize)
        guard let idBytes = try txn.value(store.dbs.paths, key: key) else { return nil }
        return try image(id: try decodeID(idBytes))
    }

    /// Every image record, by increasing id.
    public func images() throws -> [ImageRecord] {
        try check()
        return try txn.withCursor(store.dbs.images) { cursor in
            var out = [ImageRecord]()
            var entry = try cursor.get(.first)
            while let e = entry {
                guard e.key.count == 4 else { throw IndexError.corrupt("image key of \(e.key.count) bytes") }
                out.append(try ImageRecord.decode(id: readBigEndianUInt32(e.key), e.value))
                entry = try cursor.get(.next)
            }
            return out
        }
    }

    /// Number of postings of `word` in `layer` (its blocks and its tail).
    public func postingCount(layer: Int, word: UInt32) throws -> Int {
        try check(layer: layer)
        var inBlocks = 0
        try forEachBlock(layer: layer, word: word) { inBlocks += $0.count }
        return try inBlocks / store.meta.postingStride + tailCount(layer: layer, word: word)
    }

    private func tailCount(layer: Int, word: UInt32) throws -> Int {
        try txn.withCursor(store.dbs.inverted[layer]) { cursor in
            try withUnsafeBytes(of: word.bigEndian) { key in
                try cursor.get(.setKey, key: key) == nil ? 0 : try cursor.duplicateCount()
            }
        }
    }

    /// Lends `word`'s postings in `layer` block by block, in order: every sealed block in place,
    /// then the tail. All postings of one image lie in one block.
    public func forEachPostingBlock(layer: Int, word: UInt32, _ body: (PostingList) throws -> Void) throws {
        try check(layer: layer)
        let sw = signatureWords
        try forEachBlock(layer: layer, word: word) { try body(PostingList(bytes: $0, signatureWords: sw)) }
        try withTail(layer: layer, word: word, body)
    }

    /// The sealed blocks of `word`, by increasing image id (values of `blk.<layer>`, lent in place).
    private func forEachBlock(layer: Int, word: UInt32, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try txn.withCursor(store.dbs.blocks[layer]) { cursor in
            try IndexDatabases.withBlockKey(word: word, firstImage: 0) { probe in
                var entry = try cursor.get(.setRange, key: probe)
                while let e = entry, e.key.count == 8, readBigEndianUInt32(e.key) == word {
                    guard e.value.count % store.meta.postingStride == 0 else {
                        throw IndexError.corrupt("block of word \(word) in layer \(layer): \(e.value.count) bytes")
                    }
                    try body(e.value)
                    entry = try cursor.get(.next)
                }
            }
        }
    }

    /// Lends the tail of `word` (its unsealed postings, `inv.<layer>`) as one buffer, unless it is
    /// empty: in place when it fits on one LMDB page, else gathered page by page into a buffer
    /// the snapshot reuses. Gathering measured faster than scanning the scattered pages in
    /// place (Bench/RESULTS.md), and the tail is bounded by `postingBlockBytes`.
    private func withTail(layer: Int, word: UInt32, _ body: (PostingList) throws -> Void) throws {
        let sw = signatureWords, stride = store.meta.postingStride
        try txn.withCursor(store.dbs.inverted[layer]) { cursor in
            try withUnsafeBytes(of: word.bigEndian) { key in
                guard let first = try cursor.get(.setKey, key: key) else { return }
                let total = try cursor.duplicateCount() * stride
                guard let chunk = try cursor.get(.multiple, value: first.value) else {
                    throw IndexError.corrupt("word \(word) of layer \(layer): no postings page")
                }
                if chunk.value.count == total {
                    return try body(PostingList(bytes: chunk.value, signatureWords: sw))
                }
                // Several pages: gather them into the reusable buffer (a fresh one when nested).
                let nested = scratchInUse
                var buffer = scratch
                if nested || buffer.count < total {
                    let fresh = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, nested ? 0 : 2 * buffer.count),
                                                                       alignment: 16)
                    if !nested { scratch.deallocate(); scratch = fresh }
                    buffer = fresh
                }
                defer { if nested { buffer.deallocate() } else { scratchInUse = false } }
                if !nested { scratchInUse = true }
                let target = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<total])
                guard try cursor.copyDuplicates(from: chunk, into: target) == total else {
                    throw IndexError.corrupt("word \(word) of layer \(layer): posting pages do not hold the \(total) bytes counted")
                }
                try body(PostingList(bytes: UnsafeRawBufferPointer(target), signatureWords: sw))
            }
        }
    }

    /// Calls `body` with every non-empty word of `layer` and its posting count, by increasing word.
    public func forEachWord(layer: Int, _ body: (UInt32, Int) throws -> Void) throws {
        try check(layer: layer)
        // Blocks (word, bytes) in word order, merged with the tails' (word, count) in word order.
        var blocked = [(word: UInt32, postings: Int)]()
        try txn.withCursor(store.dbs.blocks[layer]) { cursor in
            var entry = try cursor.get(.first)
            while let e = entry {
                guard e.key.count == 8 else { throw IndexError.corrupt("block key of \(e.key.count) bytes") }
                let word = readBigEndianUInt32(e.key), n = e.value.count / store.meta.postingStride
                if blocked.last?.word == word { blocked[blocked.count - 1].postings += n } else { blocked.append((word, n)) }
                entry = try cursor.get(.next)
            }
        }
        var b = 0
        try txn.withCursor(store.dbs.inverted[layer]) { cursor in
            var entry = try cursor.get(.first)
            while let e = entry {
                guard e.key.count == 4 else { throw IndexError.corrupt("word key of \(e.key.count) bytes") }
                let word = readBigEndianUInt32(e.key)
                while b < blocked.count && blocked[b].word < word { try body(blocked[b].word, blocked[b].postings); b += 1 }
                var n = try cursor.duplicateCount()
                if b < blocked.count && blocked[b].word == word { n += blocked[b].postings; b += 1 }
                try body(word, n)
                entry = try cursor.get(.nextKey)
            }
        }
        while b < blocked.count { try body(blocked[b].word, blocked[b].postings); b += 1 }
    }

    /// Sealed blocks of `layer` and the postings they hold.
    public func blockCount(layer: Int) throws -> (blocks: Int, postings: Int) {
        try check(layer: layer)
        return try txn.withCursor(store.dbs.blocks[layer]) { cursor in
            var blocks = 0, bytes = 0
            var entry = try cursor.get(.first)
            while let e = entry { blocks += 1; bytes += e.value.count; entry = try cursor.get(.next) }
            return (blocks, bytes / store.meta.postingStride)
        }
    }

    /// Total postings of `layer` (its tails' and its blocks').
    public func postingCount(layer: Int) throws -> Int {
        try check(layer: layer)
        return try txn.stat(store.dbs.inverted[layer]).entries + blockCount(layer: layer).postings
    }

    /// Pages in use and page size, for `IndexStats`.
    func spaceInUse() throws -> (usedPages: Int, pageSize: Int, lastPage: Int) {
        try check()
        let last = store.env.lastPageNumber
        return (last + 1 - (try txn.freePages()), store.env.pageSize, last)
    }
}
