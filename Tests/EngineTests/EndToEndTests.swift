import Foundation
import XCTest
import Index
import TesseraCore
import TesseraEngine

final class EndToEndTests: XCTestCase {
    /// Each untouched photo finds its four transformed copies (crop, scale, rotation, light) first.
    func testTransformedCopiesRankFirst() throws {
        let f = try EngineFixture.shared.get()
        let idx = try f.freshIndex("e2e")
        for rerank in [false, true] {
            var o = QueryOptions(); o.top = 4; o.rerank = rerank
            let results = try idx.query(ImageFiles.collect([f.queries.path]), options: o)
            XCTAssertEqual(results.count, 12)
            for r in results {
                let name = stem(r.query)
                XCTAssertEqual(r.results.filter { stem($0.path).hasPrefix(name + "_") }.count, 4,
                               "rerank \(rerank): \(name) → \(r.results.map { stem($0.path) })")
                XCTAssertEqual(r.results.map(\.rank), [1, 2, 3, 4])
                XCTAssert(zip(r.results, r.results.dropFirst()).allSatisfy { $0.score >= $1.score })
            }
        }
    }

    /// IDF is frozen in the vocabulary and image norms are per image, so an image's per-layer
    /// scores (and the equal-weight fused score) do not depend on the insertion order or on
    /// which index of a split collection holds it.
    func testScoresDoNotDependOnInsertionOrderOrSplit() throws {
        let f = try EngineFixture.shared.get()
        let whole = try f.freshIndex("split-whole")
        let files = ImageFiles.collect([f.collection.path])
        let (partA, partB) = (files.enumerated().filter { $0.offset % 2 == 0 }.map(\.element),
                              files.enumerated().filter { $0.offset % 2 == 1 }.map(\.element))
        func part(_ name: String, _ paths: [String]) throws -> SearchIndex {
            let dir = f.root.appendingPathComponent(name)
            try? FileManager.default.removeItem(at: dir)
            let idx = try SearchIndex(directory: dir, vocabulary: f.vocabulary, modelPath: nil, create: true)
            // One image per transaction, in the given order (reversed below).
            for p in paths { XCTAssertEqual(try idx.add([p], showProgress: false).added.count, 1) }
            return idx
        }
        let a = try part("split-a", partA), b = try part("split-b", partB.reversed())
        var o = QueryOptions(); o.top = 48; o.rerank = false; o.fusion = nil
        let query = [f.queries.appendingPathComponent("astronaut.jpg").path]
        func byPath(_ idx: SearchIndex) throws -> [String: (Float, [Float])] {
            Dictionary(uniqueKeysWithValues: try idx.query(query, options: o)[0].results.map {
                ($0.path, ($0.score, $0.layerScores))
            })
        }
        let all = try byPath(whole), fromA = try byPath(a), fromB = try byPath(b)
        XCTAssertEqual(all.count, 48)
        XCTAssertEqual(fromA.count + fromB.count, 48)
        XCTAssertTrue(all.values.contains { $0.0 > 0 })
        for (path, (score, layers)) in all {
            guard let split = fromA[path] ?? fromB[path] else {
                XCTFail("\(path) missing from the split indexes")
                continue
            }
            XCTAssertEqual(split.1, layers, path)
            XCTAssertEqual(split.0, score, path)
        }
    }

    /// The LMDB index and the in-memory inverted lists give identical postings-driven scores.
    func testLMDBAndMemoryListsScoreIdentically() throws {
        let f = try EngineFixture.shared.get()
        let idx = try f.freshIndex("backends")
        let memory = MemoryInvertedLists(layerCount: idx.vocabulary.layers.count,
                                         signatureWords: idx.store.meta.signatureWords)
        var images: [DatabaseImage] = []
        for r in try idx.store.images() {
            let x = try idx.extractor.extract(r.path)
            let entry = try idx.databaseEntry(x)
            try memory.add(id: r.id, layers: entry.layers)
            images.append(DatabaseImage(id: r.id, path: r.path, norms: entry.norms, global: entry.globalDescriptor))
        }
        let query = try idx.extractor.extract(f.queries.appendingPathComponent("chelsea.jpg").path)
        var o = QueryOptions(); o.top = 48; o.rerank = false; o.whiten = false
        let fromMemory = try SearchPipeline(vocabulary: idx.vocabulary, extractor: nil, whitening: nil, lists: memory,
                                            images: images, options: o).search(query)
        let fromLMDB = try idx.withPipeline(o) { try $0.search(query) }
        XCTAssertEqual(fromMemory.results.map(\.path), fromLMDB.results.map(\.path))
        XCTAssertEqual(fromMemory.results.map(\.score), fromLMDB.results.map(\.score))
        XCTAssertEqual(fromMemory.postingsScanned, fromLMDB.postingsScanned)
    }

    func testAddingTwiceDoesNotDuplicateAndRemovalHidesTheImage() throws {
        let f = try EngineFixture.shared.get()
        let idx = try f.freshIndex("twice")
        let again = try idx.add([f.collection.path], showProgress: false)
        XCTAssertEqual(again.added.count, 0)
        XCTAssertEqual(again.alreadyIndexed.count, 48)
        XCTAssertEqual(try idx.store.images().count, 48)
        // The same content under another path is recognised by its hash.
        let copy = f.root.appendingPathComponent("copy-of-chelsea.jpg")
        try? FileManager.default.removeItem(at: copy)
        try FileManager.default.copyItem(at: f.collection.appendingPathComponent("chelsea_crop.jpg"), to: copy)
        XCTAssertEqual(try idx.add([copy.path], showProgress: false).alreadyIndexed, [copy.path])

        let removed = f.collection.appendingPathComponent("chelsea_light.jpg").path
        XCTAssertEqual(try idx.remove([removed]), 1)
        var o = QueryOptions(); o.top = 47
        let r = try idx.query([f.queries.appendingPathComponent("chelsea.jpg").path], options: o)[0]
        XCTAssertFalse(r.results.contains { $0.path == removed })
        XCTAssertEqual(r.results.count, 47)
    }

    func testAnIndexRefusesAnotherVocabulary() throws {
        let f = try EngineFixture.shared.get()
        _ = try f.freshIndex("identity")
        XCTAssertThrowsError(try SearchIndex(directory: f.root.appendingPathComponent("identity"),
                                             vocabulary: f.otherVocabulary, modelPath: nil, readOnly: true)) { error in
            guard case IndexError.identityMismatch = error else {
                return XCTFail("expected identityMismatch, got \(error)")
            }
        }
    }

    func testUnreadableImagesAreSkippedAndReported() throws {
        let f = try EngineFixture.shared.get()
        let dir = f.root.appendingPathComponent("mixed")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let good = try Data(contentsOf: f.collection.appendingPathComponent("coffee_crop.jpg"))
        try good.write(to: dir.appendingPathComponent("good.jpg"))
        try good.prefix(good.count / 3).write(to: dir.appendingPathComponent("truncated.jpg"))
        try Data("not an image".utf8).write(to: dir.appendingPathComponent("text.jpg"))
        try Data().write(to: dir.appendingPathComponent("empty.jpg"))
        try FileManager.default.copyItem(at: f.photos.appendingPathComponent("special/cmyk.jpg"),
                                         to: dir.appendingPathComponent("cmyk.jpg"))
        try FileManager.default.copyItem(at: f.photos.appendingPathComponent("special/gray.jpg"),
                                         to: dir.appendingPathComponent("gray.jpg"))
        let idx = try SearchIndex(directory: f.root.appendingPathComponent("mixed-index"), vocabulary: f.vocabulary,
                                  modelPath: nil, create: true)
        let report = try idx.add([dir.path], showProgress: false)
        XCTAssertEqual(Set(report.added.map(stem)), ["good", "cmyk", "gray"])
        XCTAssertEqual(Set(report.failed.map { stem($0.path) }), ["truncated", "text", "empty"])
        XCTAssertEqual(try idx.store.images().count, 3)
    }
}

final class ReplacementTests: XCTestCase {
    /// A path re-added with new content replaces its entry; with unreadable content the old
    /// entry stays and the failure is reported.
    func testChangedFileReplacesAndBrokenFileKeepsTheOldEntry() throws {
        let f = try EngineFixture.shared.get()
        let file = f.root.appendingPathComponent("changing.jpg")
        try? FileManager.default.removeItem(at: file)
        try FileManager.default.copyItem(at: f.collection.appendingPathComponent("moon_crop.jpg"), to: file)
        let idx = try SearchIndex(directory: f.root.appendingPathComponent("replace"), vocabulary: f.vocabulary,
                                  modelPath: nil, create: true)
        XCTAssertEqual(try idx.add([file.path], showProgress: false).added.count, 1)
        let first = try idx.store.image(path: file.path)!.contentHash

        try Data("broken".utf8).write(to: file)
        let broken = try idx.add([file.path], showProgress: false)
        XCTAssertEqual(broken.failed.count, 1)
        XCTAssertEqual(try idx.store.image(path: file.path)?.contentHash, first)

        try FileManager.default.removeItem(at: file)
        try FileManager.default.copyItem(at: f.collection.appendingPathComponent("coins_crop.jpg"), to: file)
        XCTAssertEqual(try idx.add([file.path], showProgress: false).added, [file.path])
        let second = try idx.store.image(path: file.path)!.contentHash
        XCTAssertNotEqual(second, first)
        XCTAssertEqual(try idx.store.images().count, 1)
    }
}
