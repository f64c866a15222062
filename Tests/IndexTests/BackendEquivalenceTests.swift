import XCTest
import TesseraCore
@testable import Index

/// The same images on LMDB and in memory give byte-identical postings (faiss-style backend test).
final class BackendEquivalenceTests: XCTestCase {
    var dirs: [URL] = []
    override func tearDown() {
        for d in dirs { try? FileManager.default.removeItem(at: d) }
        dirs = []
    }
    func tempDir() -> URL { let d = Synthetic.tempDirectory(); dirs.append(d); return d }

    private func memory(_ images: [(ImageID, NewImage)]) throws -> MemoryInvertedLists {
        let m = MemoryInvertedLists(layerCount: 3, signatureWords: 2)
        for (id, img) in images { try m.add(id: id, layers: img.layers) }
        return m
    }

    func testLMDBAndMemoryAgreeAfterAddReopenAndRemove() throws {
        // Small blocks (lists split into sealed blocks and a tail) and the default (tails only here).
        for blockBytes in [Synthetic.smallBlockBytes, IndexMeta.defaultPostingBlockBytes] {
            try checkLMDBAndMemoryAgree(blockBytes: blockBytes)
        }
    }

    private func checkLMDBAndMemoryAgree(blockBytes: Int) throws {
        let dir = tempDir()
        let images = (0..<40).map { Synthetic.image($0, seed: 3) }
        let mem = try memory(images.enumerated().map { (ImageID($0.offset), $0.element) })
        do {
            let store = try IndexStore.create(at: dir, meta: Synthetic.meta(postingBlockBytes: blockBytes))
            _ = try store.add(Array(images[0..<15]))
            _ = try store.add(Array(images[15...]))
            XCTAssertEqual(try store.withSnapshot { try Synthetic.dump($0) }, try Synthetic.dump(mem))
        }
        let store = try IndexStore.open(at: dir, expecting: Synthetic.identity)
        let reopened = try store.withSnapshot { try Synthetic.dump($0) }
        XCTAssertEqual(reopened, try Synthetic.dump(mem))
        XCTAssertFalse(reopened[0].isEmpty)
        let sealed = try store.stats().layers.map(\.sealedBlocks)
        if blockBytes == Synthetic.smallBlockBytes { XCTAssert(sealed.allSatisfy { $0 > 0 }, "\(sealed)") }

        // Removal reaches sealed blocks (first, middle and last images of the collection) and tails.
        let gone: [ImageID] = [0, 7, 8, 39, 20]
        XCTAssertEqual(try store.remove(paths: gone.map { images[Int($0)].path }), gone.count)
        for id in gone { XCTAssertTrue(mem.remove(id: id)) }
        XCTAssertFalse(mem.remove(id: 7))
        XCTAssertEqual(try store.withSnapshot { try Synthetic.dump($0) }, try Synthetic.dump(mem))
        let stats = try store.stats()
        for l in 0..<3 {
            XCTAssertEqual(stats.layers[l].nonEmptyWords, mem.words(layer: l).count)
            let memPostings = try mem.words(layer: l).reduce(0) { n, w in
                try n + mem.postingBytes(layer: l, word: w).count / 20
            }
            XCTAssertEqual(stats.layers[l].postings, memPostings)
            try store.withSnapshot { s in
                for w in mem.words(layer: l) {
                    XCTAssertEqual(try s.postingCount(layer: l, word: w),
                                   try mem.postingBytes(layer: l, word: w).count / 20)
                }
            }
        }
        // Removing every image empties every tail and every block.
        XCTAssertEqual(try store.remove(paths: images.map(\.path)), images.count - gone.count)
        let empty = try store.stats()
        XCTAssertEqual(empty.layers.map(\.postings), [0, 0, 0])
        XCTAssertEqual(empty.layers.map(\.sealedBlocks), [0, 0, 0])
        XCTAssertEqual(empty.layers.map(\.nonEmptyWords), [0, 0, 0])
    }

    func testMemoryListsDoNotDependOnInsertionOrder() throws {
        let images = (0..<12).map { Synthetic.image($0, seed: 21) }
        let inOrder = try memory(images.enumerated().map { (ImageID($0.offset), $0.element) })
        let shuffled = try memory([5, 0, 11, 3, 1, 2, 10, 4, 9, 6, 8, 7].map { (ImageID($0), images[$0]) })
        XCTAssertEqual(try Synthetic.dump(shuffled), try Synthetic.dump(inOrder))
        XCTAssertThrowsError(try shuffled.add(id: 3, layers: images[3].layers))
    }

    func testPostingListsAreSortedAndCountDistinctSignatures() throws {
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta())
        let images = (0..<10).map { Synthetic.image($0, seed: 5) }
        _ = try store.add(images)
        try store.withSnapshot { s in
            for l in 0..<3 {
                var total = 0
                for w in UInt32(0)..<40 {
                    let bytes = try s.postingBytes(layer: l, word: w)
                    for i in Swift.stride(from: 20, to: bytes.count, by: 20) {
                        XCTAssertTrue(bytes[(i - 20)..<i].lexicographicallyPrecedes(bytes[i..<(i + 20)]),
                                      "layer \(l) word \(w) not strictly sorted")
                    }
                    total += bytes.count / 20
                }
                // Expected: distinct (image, word, signature) triples among non-cut assignments.
                var expected = 0
                for img in images {
                    let q = img.layers[l]
                    var seen = Set<[UInt64]>()
                    for i in 0..<q.words.count where q.words[i] != QuantizedLayer.none {
                        seen.insert([UInt64(q.words[i])] + q.signatures[(2 * i)..<(2 * i + 2)])
                    }
                    expected += seen.count
                }
                XCTAssertEqual(total, expected)
                XCTAssertEqual(try s.postingCount(layer: l), expected)
            }
        }
    }

    func testAddThenRemoveRestoresExactState() throws {
        let a = (0..<15).map { Synthetic.image($0, seed: 11) }
        let b = (0..<10).map { Synthetic.image($0, seed: 12) }
        let alone = try IndexStore.create(at: tempDir(), meta: Synthetic.meta())
        _ = try alone.add(a)
        let both = try IndexStore.create(at: tempDir(), meta: Synthetic.meta())
        _ = try both.add(a)
        _ = try both.add(b)
        XCTAssertEqual(try both.remove(paths: b.map(\.path)), b.count)

        XCTAssertEqual(try both.withSnapshot { try Synthetic.dump($0) },
                       try alone.withSnapshot { try Synthetic.dump($0) })
        XCTAssertEqual(try both.images(), try alone.images())
        let sa = try alone.stats(), sb = try both.stats()
        XCTAssertEqual(sb.images, sa.images)
        // Statistics agree; only where postings are stored (sealed block or tail) may differ.
        func counts(_ s: IndexStats) -> [IndexStats.Layer] {
            s.layers.map { var l = $0; l.sealedBlocks = 0; l.postingsInBlocks = 0; return l }
        }
        XCTAssertEqual(counts(sb), counts(sa))
        XCTAssertEqual(sb.nextImageID, 25)  // ids are never reused
        for img in b {
            XCTAssertNil(try both.contains(contentHash: img.contentHash))
            XCTAssertNil(try both.image(path: img.path))
        }
        // Re-adding B gets fresh ids.
        XCTAssertEqual(try both.add([b[0]]), [.added(25)])
    }

    func testMapGrowsTransparently() throws {
        let initial = 128 << 10
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta(),
                                          options: IndexStoreOptions(initialMapSize: initial))
        let start = store.env.mapSize
        var rng = SeededGenerator(seed: 77)
        var images = [NewImage]()
        for n in 0..<150 {
            let layers = (0..<3).map { _ in Synthetic.layer(&rng, count: 200, vocabulary: 500) }
            images.append(NewImage(path: "/m/\(n)", contentHash: "m\(n)", width: 1, height: 1, norms: [0, 0, 0],
                                   layers: layers))
        }
        _ = try store.add(Array(images[0..<100]))   // one big batch that cannot fit
        _ = try store.add(Array(images[100...]))
        XCTAssertGreaterThan(store.env.mapSize, start)
        let stats = try store.stats()
        XCTAssertEqual(stats.images, 150)
        XCTAssertGreaterThan(stats.bytesInUse, initial)
        let mem = MemoryInvertedLists(layerCount: 3, signatureWords: 2)
        for (n, img) in images.enumerated() { try mem.add(id: ImageID(n), layers: img.layers) }
        XCTAssertEqual(try store.withSnapshot { try Synthetic.dump($0, vocabulary: 500) },
                       try Synthetic.dump(mem, vocabulary: 500))
    }

    func testBlocksHoldWholeImagesInOrder() throws {
        var rng = SeededGenerator(seed: 8)
        // Few words, many images: lists span several sealed blocks (small blocks) or a tail over
        // several LMDB pages (default blocks).
        // Image 100 puts ~500 postings on word 0: its run covers more than a whole LMDB page.
        let images = (0..<200).map { n in
            NewImage(path: "/c/\(n)", contentHash: "c\(n)", width: 1, height: 1, norms: [0, 0, 0],
                     layers: (0..<3).map { _ in
                         Synthetic.layer(&rng, count: n == 100 ? 600 : 20, vocabulary: n == 100 ? 1 : 3)
                     })
        }
        let mem = try memory(images.enumerated().map { (ImageID($0.offset), $0.element) })
        // Small blocks merged up to 800 bytes; the defaults; blocks too large to seal here (tails only).
        let tailsOnly = 1 << 20
        for blockBytes in [Synthetic.smallBlockBytes, IndexMeta.defaultPostingBlockBytes, tailsOnly] {
            let meta = blockBytes == IndexMeta.defaultPostingBlockBytes
                ? IndexMeta(identity: Synthetic.identity, patchSettings: "", layerKeys: Synthetic.layers,
                            signatureWords: 2)
                : Synthetic.meta(postingBlockBytes: blockBytes)
            let store = try IndexStore.create(at: tempDir(), meta: meta)
            for batch in Swift.stride(from: 0, to: images.count, by: 7) {
                _ = try store.add(Array(images[batch..<min(batch + 7, images.count)]))
            }
            try store.withSnapshot { s in
                XCTAssertEqual(try s.blockCount(layer: 1).blocks == 0, blockBytes == tailsOnly)
                for w in UInt32(0)..<3 {
                    var joined = [UInt8](), blocks = 0, largest = 0, lastImage: ImageID? = nil
                    try s.forEachPostingBlock(layer: 1, word: w) { block in
                        XCTAssertGreaterThan(block.count, 0)
                        // Whole images: the block's first image differs from the previous block's last.
                        XCTAssertNotEqual(block.image(at: 0), lastImage, "an image spans two blocks")
                        lastImage = block.image(at: block.count - 1)
                        joined += Array(block.bytes); blocks += 1; largest = max(largest, block.bytes.count)
                    }
                    XCTAssertEqual(joined, try mem.postingBytes(layer: 1, word: w))
                    XCTAssertEqual(joined.count / 20, try s.postingCount(layer: 1, word: w))
                    XCTAssertGreaterThan(joined.count, 3 * 4096)
                    switch blockBytes {
                    case Synthetic.smallBlockBytes:
                        XCTAssertGreaterThan(blocks, 10)
                        if w > 0 { XCTAssertGreaterThan(largest, 2 * blockBytes, "sealed blocks were never merged") }
                    case tailsOnly:
                        // One tail over several pages: lent page by page in place, except where an
                        // image's run crosses pages, as image 100's does on word 0: then gathered
                        // whole. Nested lending uses its own buffer.
                        if w == 0 { XCTAssertEqual(blocks, 1) } else { XCTAssertGreaterThanOrEqual(blocks, 1) }
                        try s.forEachPostingBlock(layer: 1, word: w) { outer in
                            let copy = Array(outer.bytes)
                            _ = try s.postingBytes(layer: 1, word: (w + 1) % 3)
                            XCTAssertEqual(Array(outer.bytes), copy)
                        }
                    default:
                        XCTAssertGreaterThan(blocks, 1)
                    }
                }
            }
        }
    }

    func testWalkOverManyWordsNamesEachNextBlock() throws {
        // Words in any order, one of them absent, over sealed blocks and tails: each word's blocks
        // in turn, and each block lent with the start of the one lent after it (nil for the last).
        let images = (0..<60).map { Synthetic.image($0, seed: 11) }
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta())
        for batch in Swift.stride(from: 0, to: images.count, by: 9) {
            _ = try store.add(Array(images[batch..<min(batch + 9, images.count)]))
        }
        let mem = try memory(images.enumerated().map { (ImageID($0.offset), $0.element) })
        let words: [UInt32] = [7, 2, 39, 1000, 0, 21]
        /// `split`: whether some word comes in several blocks (LMDB's sealed blocks and tail).
        func check(_ reader: some InvertedListsReader, split: Bool) throws {
            for layer in 0..<3 {
                var lent = [(word: Int, bytes: [UInt8], start: UnsafeRawPointer?, next: UnsafeRawPointer?)]()
                try reader.forEachPostingBlock(layer: layer, words: words) { k, block, next in
                    lent.append((k, Array(block.bytes), block.bytes.baseAddress, next))
                }
                XCTAssertEqual(lent.map(\.word), lent.map(\.word).sorted(), "words out of order")
                for (k, word) in words.enumerated() {
                    let mine = lent.filter { $0.word == k }
                    XCTAssertEqual(Array(mine.map(\.bytes).joined()), try mem.postingBytes(layer: layer, word: word),
                                   "word \(word)")
                    XCTAssertEqual(mine.isEmpty, word == 1000, "word \(word)")
                }
                if split {
                    XCTAssertGreaterThan(lent.count, words.count - 1)
                } else {
                    XCTAssertEqual(lent.count, words.count - 1)
                }
                for (i, block) in lent.enumerated() {
                    XCTAssertEqual(block.next, i + 1 < lent.count ? lent[i + 1].start : nil,
                                   "block \(i) of layer \(layer)")
                }
            }
        }
        try store.withSnapshot { try check($0, split: true) }
        try check(mem, split: false)
    }

    func testTailPagesAreLentInPlaceWhenNoRunCrossesThem() throws {
        // 600 images with one posting each on word 0: a tail of 12,000 bytes over several
        // LMDB pages (under 4 KiB each), where no image's run can cross a page. The pages are
        // lent one by one, in place, and hold the list in order.
        var rng = SeededGenerator(seed: 5)
        let images = (0..<600).map { n in
            NewImage(path: "/p/\(n)", contentHash: "p\(n)", width: 1, height: 1, norms: [1, 1, 1],
                     layers: (0..<3).map { _ in
                         QuantizedLayer(count: 1, k: 1, signatureWords: 2, words: [0], distances: [0],
                                        signatures: [rng.next(), rng.next()])
                     })
        }
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta(postingBlockBytes: 1 << 20))
        for batch in Swift.stride(from: 0, to: images.count, by: 50) {
            _ = try store.add(Array(images[batch..<(batch + 50)]))
        }
        let mem = try memory(images.enumerated().map { (ImageID($0.offset), $0.element) })
        try store.withSnapshot { s in
            var pages = [[UInt8]]()
            try s.forEachPostingBlock(layer: 2, word: 0) { pages.append(Array($0.bytes)) }
            XCTAssertGreaterThanOrEqual(pages.count, 3, "a 12,000-byte tail was gathered, not lent page by page")
            for page in pages { XCTAssertLessThanOrEqual(page.count, 4096) }
            XCTAssertEqual(Array(pages.joined()), try mem.postingBytes(layer: 2, word: 0))
        }
    }
}
