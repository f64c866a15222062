import TesseraCore

/// A consistent read-only view of an `IndexStore` (one LMDB read transaction),
/// lent by `IndexStore.withSnapshot`. It sees the index as of its start even
/// while a writer commits (MVCC). Use it only inside that closure and on one
/// thread at a time; after the closure, every method throws `snapshotClosed`.
///
/// `forEachPostingBlock` is the `InvertedListsReader` view scoring uses: a word's
/// sealed blocks are lent in place (zero copy; each is one contiguous LMDB value),
/// then its tail, page by page in place, or gathered into one buffer where an
/// image's run crosses pages. Over many words it finds all the blocks first and
/// lends each with the start of the next, so a scan can prefetch across blocks.
public final class IndexSnapshot: InvertedListsReader, GeometryReader {
    let txn: LMDBTransaction
    let store: IndexStore
    private var open = true

    init(txn: LMDBTransaction, store: IndexStore) {
        self.txn = txn
        self.store = store
    }

    func close() { open = false }

    private func check(layer: Int? = nil) throws {
        guard open else { throw IndexError.snapshotClosed }
        if let layer, !(0..<store.layerCount).contains(layer) {
            throw IndexError.invalidInput("layer \(layer) (the index has \(store.layerCount))")
        }
    }

    /// The committed state this snapshot sees (LMDB's transaction id): two snapshots with the
    /// same generation see the same index, and a later commit makes it larger.
    public var generation: Int { txn.id }

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

    /// The patch frames, words and signatures stored for image `id` (nil: absent, or added without frames).
    public func geometry(of id: ImageID) throws -> ImageGeometry? {
        try check()
        return try txn.withValue(store.dbs.geometry, key: bigEndianKey(id)) { bytes in
            try bytes.map {
                try GeometryCoding.decode($0, layers: store.layerCount, signatureWords: store.meta.signatureWords,
                                          id: id)
            }
        }
    }

    public func image(path: String) throws -> ImageRecord? {
        try check()
        let key = IndexDatabases.pathKey(path, maxKeySize: store.maxKeySize)
        guard let idBytes = try txn.value(store.dbs.paths, key: key) else { return nil }
        return try image(id: try decodeID(idBytes))
    }

    /// Every image record, by increasing id.
    public func images() throws -> [ImageRecord] { try images(from: 0, limit: .max) }

    /// At most `limit` image records with ids ≥ `first`, by increasing id (a page of the table:
    /// the next page starts one past the last id returned).
    public func images(from first: ImageID, limit: Int) throws -> [ImageRecord] {
        try check()
        return try txn.withCursor(store.dbs.images) { cursor in
            var out = [ImageRecord]()
            var entry = try bigEndianKey(first).withUnsafeBytes { try cursor.get(.setRange, key: $0) }
            while let e = entry, out.count < limit {
                guard e.key.count == 4 else { throw IndexError.corrupt("image key of \(e.key.count) bytes") }
                out.append(try ImageRecord.decode(id: readBigEndianUInt32(e.key), e.value))
                entry = try cursor.get(.next)
            }
            return out
        }
    }

    /// Number of postings of `word` in `layer` (its blocks and its tail), counted from the block
    /// sizes and the tail's duplicate count, without reading the tail's pages.
    public func postingCount(layer: Int, word: UInt32) throws -> Int {
        try check(layer: layer)
        var inBlocks = 0
        try txn.withCursor(store.dbs.blocks[layer]) { cursor in
            try forEachBlock(cursor, layer: layer, word: word) { inBlocks += $0.count }
        }
        return try inBlocks / store.meta.postingStride + tailCount(layer: layer, word: word)
    }

    /// The sealed blocks of `word` (values of `blk.<layer>`, in place), by increasing image id,
    /// each checked to hold whole postings.
    private func forEachBlock(_ cursor: LMDBCursor, layer: Int, word: UInt32,
                              _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var entry = try IndexDatabases.withBlockKey(word: word, firstImage: 0) { try cursor.get(.setRange, key: $0) }
        while let e = entry, e.key.count == 8, readBigEndianUInt32(e.key) == word {
            guard e.value.count % store.meta.postingStride == 0 else {
                throw IndexError.corrupt("block of word \(word) in layer \(layer): \(e.value.count) bytes")
            }
            try body(e.value)
            entry = try cursor.get(.next)
        }
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
        try forEachPostingBlock(layer: layer, words: [word]) { _, block, _ in try body(block) }
    }

    /// The blocks of every word of `words` in turn (each word's sealed blocks, then its tail).
    /// All of them are found first, so that each block is lent with the next one's start as
    /// `next`, and the scan that follows is not interrupted by LMDB's B-tree descents.
    public func forEachPostingBlock(layer: Int, words: [UInt32],
                                    _ body: (Int, PostingList, UnsafeRawPointer?) throws -> Void) throws {
        try check(layer: layer)
        var found: [(word: Int, bytes: UnsafeRawBufferPointer)] = []
        var pages: [UnsafeRawBufferPointer] = []
        var gathered: [UnsafeMutableRawBufferPointer] = []
        defer { gathered.forEach { $0.deallocate() } }
        try txn.withCursor(store.dbs.blocks[layer]) { blocks in
            try txn.withCursor(store.dbs.inverted[layer]) { tails in
                for (k, word) in words.enumerated() {
                    try forEachBlock(blocks, layer: layer, word: word) { found.append((k, $0)) }
                    try tail(tails, layer: layer, word: word, pages: &pages, gathered: &gathered) {
                        found.append((k, $0))
                    }
                }
            }
        }
        // Values stay valid until the read transaction ends, after the cursors close.
        let sw = signatureWords
        for (i, piece) in found.enumerated() {
            try body(piece.word, PostingList(bytes: piece.bytes, signatureWords: sw),
                     i + 1 < found.count ? found[i + 1].bytes.baseAddress : nil)
        }
    }

    /// Calls `piece` with the tail of `word` (its unsealed postings, `inv.<layer>`; nothing when
    /// it is empty): its LMDB pages in place, one by one, unless an image's run crosses from one
    /// page to the next; then once, with the pages gathered into a buffer appended to `gathered`.
    /// `pages` is the caller's scratch list, reused from tail to tail.
    private func tail(_ cursor: LMDBCursor, layer: Int, word: UInt32, pages: inout [UnsafeRawBufferPointer],
                      gathered: inout [UnsafeMutableRawBufferPointer],
                      _ piece: (UnsafeRawBufferPointer) -> Void) throws {
        let stride = store.meta.postingStride
        try withUnsafeBytes(of: word.bigEndian) { key in
            guard let first = try cursor.get(.setKey, key: key) else { return }
            let total = try cursor.duplicateCount() * stride
            guard let firstPage = try cursor.get(.multiple, value: first.value) else {
                throw IndexError.corrupt("word \(word) of layer \(layer): no postings page")
            }
            pages.removeAll(keepingCapacity: true)
            var bytes = 0, split = false
            var page: LMDBEntry? = firstPage
            while let p = page {
                guard p.value.count >= stride, p.value.count % stride == 0 else {
                    throw IndexError.corrupt(
                        "word \(word) of layer \(layer): a postings page of \(p.value.count) bytes")
                }
                if let last = pages.last,
                   readBigEndianUInt32(UnsafeRawBufferPointer(rebasing: last[(last.count - stride)...]))
                       == readBigEndianUInt32(p.value) {
                    split = true
                }
                pages.append(p.value)
                bytes += p.value.count
                page = try cursor.get(.nextMultiple)
            }
            guard bytes == total else {
                throw IndexError.corrupt(
                    "word \(word) of layer \(layer): posting pages hold \(bytes) bytes, \(total) counted")
            }
            guard split else { return pages.forEach(piece) }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: total, alignment: 16)
            gathered.append(buffer)
            var filled = 0
            for p in pages {
                UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<(filled + p.count)]).copyMemory(from: p)
                filled += p.count
            }
            piece(UnsafeRawBufferPointer(buffer))
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
                if blocked.last?.word == word {
                    blocked[blocked.count - 1].postings += n
                } else {
                    blocked.append((word, n))
                }
                entry = try cursor.get(.next)
            }
        }
        var b = 0
        try txn.withCursor(store.dbs.inverted[layer]) { cursor in
            var entry = try cursor.get(.first)
            while let e = entry {
                guard e.key.count == 4 else { throw IndexError.corrupt("word key of \(e.key.count) bytes") }
                let word = readBigEndianUInt32(e.key)
                while b < blocked.count && blocked[b].word < word {
                    try body(blocked[b].word, blocked[b].postings)
                    b += 1
                }
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
