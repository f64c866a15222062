import XCTest
import Foundation
import TesseraCore
@testable import Index

final class IndexStoreTests: XCTestCase {
    var dirs: [URL] = []
    override func tearDown() {
        for d in dirs { try? FileManager.default.removeItem(at: d) }
        dirs = []
    }
    func tempDir() -> URL { let d = Synthetic.tempDirectory(); dirs.append(d); return d }

    func testAddReadBackAndReopen() throws {
        let dir = tempDir()
        let batch = (0..<12).map { Synthetic.image($0) }
        var ids: [ImageID] = []
        var before: [[UInt32: [UInt8]]] = []
        do {
            let store = try IndexStore.create(at: dir, meta: Synthetic.meta())
            ids = try store.add(batch).map(\.id)
            XCTAssertEqual(ids, Array(0..<12))
            before = try store.withSnapshot { try Synthetic.dump($0) }
        }
        let store = try IndexStore.open(at: dir, expecting: Synthetic.identity)
        XCTAssertEqual(store.meta, Synthetic.meta())
        let records = try store.images()
        XCTAssertEqual(records.count, 12)
        for (n, r) in records.enumerated() {
            XCTAssertEqual(r, batch[n].record(id: ImageID(n)))
            XCTAssertEqual(r.featureCounts, batch[n].layers.map(\.count))
        }
        XCTAssertEqual(try store.image(path: batch[3].path)?.id, 3)
        XCTAssertNil(try store.image(path: "/nope"))
        XCTAssertEqual(try store.contains(contentHash: batch[5].contentHash), 5)
        XCTAssertEqual(try store.withSnapshot { try Synthetic.dump($0) }, before)
        // New ids continue after reopening.
        XCTAssertEqual(try store.add([Synthetic.image(0, seed: 9)]), [.added(12)])
    }

    func testPostingsMatchHandCount() throws {
        // Layer 0: descriptors on words 3, 3 (distinct signatures), 3 (exact repeat, collapses), 1, none.
        let q = QuantizedLayer(count: 5, k: 1, signatureWords: 1, words: [3, 3, 3, 1, QuantizedLayer.none],
                               distances: [0, 0, 0, 0, 0], signatures: [0x0200, 0x0100, 0x0200, 7, 9])
        let empty = QuantizedLayer(count: 0, k: 1, signatureWords: 1, words: [], distances: [], signatures: [])
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta(signatureWords: 1))
        _ = try store.add([NewImage(path: "p0", contentHash: "h0", width: 1, height: 1, norms: [0, 0, 0],
                                    layers: [empty, empty, empty]),
                           NewImage(path: "p1", contentHash: "h1", width: 1, height: 1, norms: [0, 0, 0],
                                    layers: [q, empty, empty])])
        try store.withSnapshot { s in
            // memcmp order of little-endian bytes: 0x0100 = [00 01 ..] sorts before 0x0200 = [00 02 ..].
            let expected = PostingLayout.encode(images: [1, 1], signatures: [0x0100, 0x0200], signatureWords: 1)
            XCTAssertEqual(try s.postingBytes(layer: 0, word: 3), expected)
            XCTAssertEqual(try s.postingBytes(layer: 0, word: 1),
                           PostingLayout.encode(images: [1], signatures: [7], signatureWords: 1))
            XCTAssertEqual(try s.postingBytes(layer: 0, word: 2), [])
            XCTAssertEqual(try s.postingCount(layer: 0), 3)
            XCTAssertEqual(try s.imageCount(), 2)
        }
    }

    func testWrongIdentityIsNamedInError() throws {
        let dir = tempDir()
        _ = try IndexStore.create(at: dir, meta: Synthetic.meta())
        let other = IndexIdentity(vocabularyID: "vocab-2", modelSHA256: Synthetic.identity.modelSHA256)
        XCTAssertThrowsError(try IndexStore.open(at: dir, expecting: other)) { error in
            XCTAssertEqual(error as? IndexError, .identityMismatch(expected: other, found: Synthetic.identity))
            XCTAssertTrue("\(error)".contains("vocab-1") && "\(error)".contains("vocab-2"))
        }
        XCTAssertThrowsError(try IndexStore.open(at: tempDir(), expecting: nil)) {
            guard case .notFound = $0 as? IndexError else { return XCTFail("\($0)") }
        }
    }

    func testFormatOneIndexAndBadBlockSizesAreRefused() throws {
        let dir = tempDir()
        do {
            let store = try IndexStore.create(at: dir, meta: Synthetic.meta())
            var old = Synthetic.meta()
            old.formatVersion = 2
            let json = try JSONEncoder().encode(old)
            try store.env.write { try $0.put(store.dbs.meta, key: Array("meta".utf8), value: Array(json)) }
        }
        XCTAssertThrowsError(try IndexStore.open(at: dir, expecting: nil)) {
            XCTAssertEqual($0 as? IndexError, .unsupportedFormat(found: 2, supported: 3))
            XCTAssertTrue("\($0)".contains("re-index"), "\($0)")
        }
        var bad = Synthetic.meta(postingBlockBytes: 4096)
        bad.maxPostingBlockBytes = 1024
        XCTAssertThrowsError(try IndexStore.create(at: tempDir(), meta: bad)) {
            guard case .invalidInput = $0 as? IndexError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try IndexStore.create(at: tempDir(), meta: Synthetic.meta(postingBlockBytes: 0))) {
            guard case .invalidInput = $0 as? IndexError else { return XCTFail("\($0)") }
        }
    }

    /// A `data.mdb` cut short (a copy interrupted, a disk that lost its tail) is refused on open
    /// with the reason; LMDB alone would fault on the first read past the end.
    func testATruncatedDataFileIsRefusedOnOpen() throws {
        let dir = tempDir()
        do {
            let store = try IndexStore.create(at: dir, meta: Synthetic.meta())
            _ = try store.add((0..<200).map { Synthetic.image($0) })
        }
        let file = dir.appendingPathComponent("data.mdb")
        XCTAssertNoThrow(try IndexStore.open(at: dir, expecting: nil))
        let used = try IndexStore.open(at: dir, expecting: nil).withSnapshot { try $0.spaceInUse() }
        let h = try FileHandle(forWritingTo: file)
        try h.truncate(atOffset: UInt64(used.lastPage * used.pageSize / 2))
        try h.close()
        for readOnly in [false, true] {
            let options = IndexStoreOptions(readOnly: readOnly)
            XCTAssertThrowsError(try IndexStore.open(at: dir, expecting: nil, options: options)) {
                guard case .corrupt(let why) = $0 as? IndexError else { return XCTFail("\($0)") }
                XCTAssertTrue(why.contains("cut short"), why)
            }
        }
    }

    /// A meta record damaged on disk (a signature size whose posting stride would overflow, no
    /// layers, blocks of a terabyte) is refused on open as corrupt, before anything uses it.
    func testADamagedMetaRecordIsRefusedOnOpen() throws {
        for (what, damage) in [("signature words", { (m: inout IndexMeta) in m.signatureWords = 1 << 61 }),
                               ("no layers", { (m: inout IndexMeta) in m.layerKeys = [] }),
                               ("huge blocks", { (m: inout IndexMeta) in m.maxPostingBlockBytes = 1 << 40 })] {
            let dir = tempDir()
            do {
                let store = try IndexStore.create(at: dir, meta: Synthetic.meta())
                var meta = Synthetic.meta()
                damage(&meta)
                let json = try JSONEncoder().encode(meta)
                try store.env.write { try $0.put(store.dbs.meta, key: Array("meta".utf8), value: Array(json)) }
            }
            XCTAssertThrowsError(try IndexStore.open(at: dir, expecting: nil), what) {
                guard case .corrupt(let why) = $0 as? IndexError else { return XCTFail("\(what): \($0)") }
                XCTAssertTrue(why.contains("meta record"), why)
            }
        }
    }

    func testSecondWriterIsBusy() throws {
        let dir = tempDir()
        let first = try IndexStore.create(at: dir, meta: Synthetic.meta())
        XCTAssertThrowsError(try IndexStore.open(at: dir, expecting: nil)) {
            XCTAssertEqual($0 as? IndexError, .busy("another process is writing to this index"))
        }
        _ = try first.add([Synthetic.image(1)])
        withExtendedLifetime(first) {}
    }

    func testSnapshotIsolation() throws {
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta())
        _ = try store.add((0..<5).map { Synthetic.image($0) })
        try store.withSnapshot { s in
            let before = try Synthetic.dump(s)
            _ = try store.add((5..<10).map { Synthetic.image($0) })
            XCTAssertEqual(try s.imageCount(), 5)
            XCTAssertNil(try s.image(path: Synthetic.image(7).path))
            XCTAssertEqual(try Synthetic.dump(s), before)
        }
        XCTAssertEqual(try store.withSnapshot { try $0.imageCount() }, 10)
    }

    func testSnapshotUnusableAfterClosure() throws {
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta())
        let escaped = try store.withSnapshot { $0 }
        XCTAssertThrowsError(try escaped.imageCount()) { XCTAssertEqual($0 as? IndexError, .snapshotClosed) }
    }

    func testDuplicatesAreSkipped() throws {
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta())
        var copy = Synthetic.image(1)
        copy.path = "/elsewhere.jpg"
        XCTAssertEqual(try store.add([Synthetic.image(0), Synthetic.image(1), copy]),
                       [.added(0), .added(1), .duplicate(of: 1)])
        XCTAssertEqual(try store.add([copy, Synthetic.image(2)]), [.duplicate(of: 1), .added(2)])
        XCTAssertNil(try store.image(path: "/elsewhere.jpg"))
        XCTAssertEqual(try store.stats().images, 3)
        // Same path, other content: the whole batch is refused.
        var changed = Synthetic.image(0)
        changed.contentHash = "new"
        XCTAssertThrowsError(try store.add([Synthetic.image(3), changed])) {
            XCTAssertEqual($0 as? IndexError, .pathAlreadyIndexed(changed.path))
        }
        XCTAssertEqual(try store.stats().images, 3)
        XCTAssertNil(try store.contains(contentHash: Synthetic.image(3).contentHash))
    }

    func testInvalidInputThrows() throws {
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta())
        var bad = Synthetic.image(0)
        bad.layers.removeLast()
        XCTAssertThrowsError(try store.add([bad])) {
            guard case .invalidInput = $0 as? IndexError else { return XCTFail() }
        }
        XCTAssertThrowsError(try store.add([Synthetic.image(0, signatureWords: 1)]))
        XCTAssertThrowsError(try store.withSnapshot { try $0.forEachPostingBlock(layer: 3, word: 0) { _ in } })
    }

    func testRemoveUnknownPathIsNoOp() throws {
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta())
        _ = try store.add([Synthetic.image(0), Synthetic.image(1)])
        let before = try store.stats()
        XCTAssertEqual(try store.remove(paths: ["/not/indexed.jpg"]), 0)
        XCTAssertEqual(try store.stats(), before)
        XCTAssertEqual(try store.remove(paths: [Synthetic.image(0).path, "/x", Synthetic.image(0).path]), 1)
        XCTAssertEqual(try store.stats().images, 1)
    }

    func testLongPathsUseHashedKeys() throws {
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta())
        var img = Synthetic.image(0)
        img.path = "/" + String(repeating: "long/", count: 200) + "x.jpg"
        _ = try store.add([img])
        XCTAssertEqual(try store.image(path: img.path)?.path, img.path)
        XCTAssertEqual(try store.remove(paths: [img.path]), 1)
    }

    func testCompactCopyOpensWithSameContent() throws {
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta())
        _ = try store.add((0..<20).map { Synthetic.image($0) })
        _ = try store.remove(paths: (0..<10).map { Synthetic.image($0).path })
        let dest = tempDir()
        try store.compact(to: dest)
        let copy = try IndexStore.open(at: dest, expecting: Synthetic.identity, options: .init(readOnly: true))
        XCTAssertEqual(try copy.images(), try store.images())
        XCTAssertEqual(try copy.withSnapshot { try Synthetic.dump($0) },
                       try store.withSnapshot { try Synthetic.dump($0) })
        XCTAssertLessThanOrEqual(try copy.stats().fileBytes, try store.stats().fileBytes)
        XCTAssertThrowsError(try copy.add([Synthetic.image(30)])) { XCTAssertEqual($0 as? IndexError, .readOnly) }
    }

    /// An image added with patch frames reads back its frames and the first word and signature
    /// of every patch per layer; without frames it has none; removal deletes it.
    func testGeometryRoundTripAndRemoval() throws {
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta())
        var withFrames = Synthetic.image(1)
        let n = withFrames.layers[0].count
        var rng = SeededGenerator(seed: 4)
        withFrames.layers = (0..<3).map { _ in Synthetic.layer(&rng, count: n, k: 2) }
        withFrames.frames = (0..<n).map { PatchFrame(x: Float($0) * 32 + 112, y: 112, side: $0 % 2 == 0 ? 224 : 316.8) }
        let without = Synthetic.image(2)
        let ids = try store.add([withFrames, without]).map(\.id)
        try store.withSnapshot { snap in
            let g = try XCTUnwrap(try snap.geometry(of: ids[0]))
            XCTAssertEqual(g.frames, withFrames.frames)
            XCTAssertEqual(g.layers, withFrames.layers.map { $0.truncated(to: 1) }.map {
                QuantizedLayer(count: $0.count, k: 1, signatureWords: 2, words: $0.words,
                               distances: [Float](repeating: 0, count: $0.count), signatures: $0.signatures)
            })
            XCTAssertNil(try snap.geometry(of: ids[1]))
        }
        XCTAssertEqual(try store.remove(paths: [withFrames.path]), 1)
        try store.withSnapshot { XCTAssertNil(try $0.geometry(of: ids[0])) }
        var mismatched = Synthetic.image(3)
        mismatched.frames = [PatchFrame(x: 0, y: 0, side: 224)]
        XCTAssertThrowsError(try store.add([mismatched]))
    }
}
