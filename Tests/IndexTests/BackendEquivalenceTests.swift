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
        let dir = tempDir()
        let images = (0..<40).map { Synthetic.image($0, seed: 3) }
        let mem = try memory(images.enumerated().map { (ImageID($0.offset), $0.element) })
        do {
            let store = try IndexStore.create(at: dir, meta: Synthetic.meta())
            _ = try store.add(Array(images[0..<15]))
            _ = try store.add(Array(images[15...]))
            XCTAssertEqual(try store.withSnapshot { try Synthetic.dump($0) }, try Synthetic.dump(mem))
        }
        let store = try IndexStore.open(at: dir, expecting: Synthetic.identity)
        let reopened = try store.withSnapshot { try Synthetic.dump($0) }
        XCTAssertEqual(reopened, try Synthetic.dump(mem))
        XCTAssertFalse(reopened[0].isEmpty)

        let gone: [ImageID] = [0, 7, 8, 39, 20]
        XCTAssertEqual(try store.remove(paths: gone.map { images[Int($0)].path }), gone.count)
        for id in gone { XCTAssertTrue(mem.remove(id: id)) }
        XCTAssertFalse(mem.remove(id: 7))
        XCTAssertEqual(try store.withSnapshot { try Synthetic.dump($0) }, try Synthetic.dump(mem))
        let stats = try store.stats()
        for l in 0..<3 {
            XCTAssertEqual(stats.layers[l].nonEmptyWords, mem.words(layer: l).count)
            let memPostings = try mem.words(layer: l).reduce(0) { n, w in try n + mem.withPostings(layer: l, word: w) { $0.count } }
            XCTAssertEqual(stats.layers[l].postings, memPostings)
        }
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
                    total += try s.withPostings(layer: l, word: w) { list -> Int in
                        for i in 1..<max(list.count, 1) {
                            let a = Array(list.bytes[((i - 1) * list.stride)..<(i * list.stride)])
                            let b = Array(list.bytes[(i * list.stride)..<((i + 1) * list.stride)])
                            XCTAssertTrue(a.lexicographicallyPrecedes(b), "layer \(l) word \(w) not strictly sorted")
                        }
                        return list.count
                    }
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

        XCTAssertEqual(try both.withSnapshot { try Synthetic.dump($0) }, try alone.withSnapshot { try Synthetic.dump($0) })
        XCTAssertEqual(try both.images(), try alone.images())
        let sa = try alone.stats(), sb = try both.stats()
        XCTAssertEqual(sb.images, sa.images)
        XCTAssertEqual(sb.layers, sa.layers)
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
            images.append(NewImage(path: "/m/\(n)", contentHash: "m\(n)", width: 1, height: 1, norms: [0, 0, 0], layers: layers))
        }
        _ = try store.add(Array(images[0..<100]))   // one big batch that cannot fit
        _ = try store.add(Array(images[100...]))
        XCTAssertGreaterThan(store.env.mapSize, start)
        let stats = try store.stats()
        XCTAssertEqual(stats.images, 150)
        XCTAssertGreaterThan(stats.bytesInUse, initial)
        let mem = MemoryInvertedLists(layerCount: 3, signatureWords: 2)
        for (n, img) in images.enumerated() { try mem.add(id: ImageID(n), layers: img.layers) }
        XCTAssertEqual(try store.withSnapshot { try Synthetic.dump($0, vocabulary: 500) }, try Synthetic.dump(mem, vocabulary: 500))
    }

    func testChunkedScanMatchesGatheredList() throws {
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta())
        var rng = SeededGenerator(seed: 8)
        // Few words, many images: lists span several LMDB pages.
        let images = (0..<200).map { n in
            NewImage(path: "/c/\(n)", contentHash: "c\(n)", width: 1, height: 1, norms: [0, 0, 0],
                     layers: (0..<3).map { _ in Synthetic.layer(&rng, count: 20, vocabulary: 3) })
        }
        _ = try store.add(images)
        try store.withSnapshot { s in
            for w in UInt32(0)..<3 {
                var chunks = [UInt8](), pages = 0
                try s.forEachPostingChunk(layer: 1, word: w) { chunks += Array($0.bytes); pages += 1 }
                let whole = try s.withPostings(layer: 1, word: w) { Array($0.bytes) }
                XCTAssertEqual(chunks, whole)
                XCTAssertGreaterThan(pages, 1)
                XCTAssertEqual(whole.count / 20, try s.postingCount(layer: 1, word: w))
                // Nested lending uses its own buffer.
                try s.withPostings(layer: 1, word: w) { outer in
                    let copy = Array(outer.bytes)
                    _ = try s.withPostings(layer: 1, word: (w + 1) % 3) { $0.count }
                    XCTAssertEqual(Array(outer.bytes), copy)
                }
            }
        }
    }
}
