import Foundation
import XCTest
import Index
import TesseraCore
import TesseraEngine

/// The `tessera` executable driven as a user would, including SIGKILL mid-indexing and
/// concurrent readers and writers across processes.
final class CommandLineTests: XCTestCase {
    func snapshot(_ dir: URL) throws -> (images: Int, postings: [Int]) {
        let store = try IndexStore.open(at: dir, expecting: nil, options: IndexStoreOptions(readOnly: true))
        let s = try store.stats()
        return (s.images, s.layers.map(\.postings))
    }

    /// Polls (read-only) until the index at `dir` holds `n` images, for at most 120 s.
    func waitForImages(_ dir: URL, atLeast n: Int, while process: Process) throws {
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && process.isRunning {
            if let count = try? snapshot(dir).images, count >= n { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssert(process.isRunning, "the writer finished before the index held \(n) images")
    }

    /// A killed `index add` leaves an index that opens and holds only whole images; rerunning
    /// the same command completes it to exactly what an uninterrupted run builds.
    func testKilledIndexingRunIsRecoverable() throws {
        let f = try EngineFixture.shared.get()
        let clean = f.root.appendingPathComponent("cli-clean")
        try? FileManager.default.removeItem(at: clean)
        XCTAssertEqual(try EngineFixture.runCLI(["index", "add", "--index", clean.path, "--vocab", f.vocabulary.path,
                                                 f.collection.path]).status, 0)
        let expected = try snapshot(clean)
        XCTAssertEqual(expected.images, 48)

        let dir = f.root.appendingPathComponent("cli-killed")
        try? FileManager.default.removeItem(at: dir)
        var sawPartial = false
        // Kill once the index holds at least `threshold` images (a batch or more is committed,
        // others are in flight), polling so the test does not depend on the machine's speed.
        for threshold in [4, 20] {
            let p = Process()
            p.executableURL = EngineFixture.cli
            // Small posting blocks, so kills also land while tails are sealed into blocks and merged.
            p.arguments = ["index", "add", "--index", dir.path, "--vocab", f.vocabulary.path, "--batch", "4",
                           "--posting-block-bytes", "256", f.collection.path]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            try waitForImages(dir, atLeast: threshold, while: p)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("data.mdb").path) else { continue }
            let partial = try snapshot(dir)   // opens after the kill
            if partial.images < 48 { sawPartial = true }
            let check = try EngineFixture.runCLI(["index", "check", "--index", dir.path])
            XCTAssertEqual(check.status, 0, check.output)
            XCTAssertTrue(check.output.contains("consistent: \(partial.images) images"), check.output)
            // Whole images only: every stored image carries all its postings, so the postings of
            // the partial index are exactly those of its images in the clean index.
            let store = try IndexStore.open(at: dir, expecting: nil, options: IndexStoreOptions(readOnly: true))
            let cleanStore = try IndexStore.open(at: clean, expecting: nil, options: IndexStoreOptions(readOnly: true))
            let cleanByPath = Dictionary(uniqueKeysWithValues: try cleanStore.images().map { ($0.path, $0) })
            for r in try store.images() { XCTAssertEqual(r.featureCounts, cleanByPath[r.path]?.featureCounts) }
            let perLayer = try store.withSnapshot { s in try (0..<3).map { try s.postingCount(layer: $0) } }
            let wanted = try cleanStore.withSnapshot { s -> [Int] in
                var sums = [0, 0, 0]
                for r in try store.images() {
                    let id = cleanByPath[r.path]!.id
                    for l in 0..<3 {
                        try s.forEachWord(layer: l) { word, _ in
                            try s.forEachPostingBlock(layer: l, word: word) { list in
                                for i in 0..<list.count where list.image(at: i) == id { sums[l] += 1 }
                            }
                        }
                    }
                }
                return sums
            }
            XCTAssertEqual(perLayer, wanted)
        }
        XCTAssertTrue(sawPartial, "the kill never landed mid-run; adjust the delays")
        let rerun = try EngineFixture.runCLI(["index", "add", "--index", dir.path, f.collection.path])
        XCTAssertEqual(rerun.status, 0)
        let done = try snapshot(dir)
        XCTAssertEqual(done.images, expected.images)
        XCTAssertEqual(done.postings, expected.postings)
        let sealed = try IndexStore.open(at: dir, expecting: nil, options: IndexStoreOptions(readOnly: true))
            .stats().layers
        XCTAssert(sealed.allSatisfy { $0.sealedBlocks > 0 },
                  "no posting block was sealed: \(sealed.map(\.sealedBlocks))")
    }

    /// Readers query while a writer adds; a second writer is refused with a clear error.
    func testReadersDuringAWriteAndASecondWriter() throws {
        let f = try EngineFixture.shared.get()
        let dir = f.root.appendingPathComponent("cli-concurrent")
        try? FileManager.default.removeItem(at: dir)
        let first = ImageFiles.collect([f.collection.path])
        XCTAssertEqual(try EngineFixture.runCLI(["index", "add", "--index", dir.path, "--vocab", f.vocabulary.path]
                                                + Array(first.prefix(8))).status, 0)
        let writer = Process()
        writer.executableURL = EngineFixture.cli
        writer.arguments = ["index", "add", "--index", dir.path, "--batch", "2", f.collection.path]
        writer.standardOutput = FileHandle.nullDevice
        writer.standardError = FileHandle.nullDevice
        try writer.run()
        try waitForImages(dir, atLeast: 10, while: writer)   // the writer is running and has committed
        // A second writer fails at once, naming the problem.
        XCTAssertThrowsError(try IndexStore.open(at: dir, expecting: nil)) { error in
            guard case IndexError.busy = error else { return XCTFail("expected busy, got \(error)") }
        }
        // A reader sees one consistent snapshot while the writer commits batches.
        let reader = try IndexStore.open(at: dir, expecting: nil, options: IndexStoreOptions(readOnly: true))
        var observed: [Int] = []
        try reader.withSnapshot { s in
            let n = try s.imageCount()
            let p = try s.postingCount(layer: 0)
            Thread.sleep(forTimeInterval: 1.5)
            XCTAssertEqual(try s.imageCount(), n)
            XCTAssertEqual(try s.postingCount(layer: 0), p)
            observed.append(n)
        }
        let q = try EngineFixture.runCLI(["query", "--index", dir.path, "--top", "3", "--json",
                                          f.queries.appendingPathComponent("coffee.jpg").path])
        XCTAssertEqual(q.status, 0)
        writer.waitUntilExit()
        XCTAssertEqual(writer.terminationStatus, 0)
        XCTAssertEqual(try snapshot(dir).images, 48)
        XCTAssertGreaterThanOrEqual(observed.first ?? 0, 8)
    }

    func testQueryOutputs() throws {
        let f = try EngineFixture.shared.get()
        let dir = f.root.appendingPathComponent("cli-query")
        try? FileManager.default.removeItem(at: dir)
        XCTAssertEqual(try EngineFixture.runCLI(["index", "add", "--index", dir.path, "--vocab", f.vocabulary.path,
                                                 f.collection.path]).status, 0)
        let q = f.queries.appendingPathComponent("rocket.jpg").path
        let html = f.root.appendingPathComponent("q.html")
        let json = try EngineFixture.runCLI(["query", "--index", dir.path, "--top", "4", "--json", "--html",
                                             html.path, q])
        XCTAssertEqual(json.status, 0)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as! [[String: Any]]
        let results = parsed[0]["results"] as! [[String: Any]]
        XCTAssertEqual(results.count, 4)
        XCTAssertEqual(results.map { $0["rank"] as! Int }, [1, 2, 3, 4])
        XCTAssert(results.allSatisfy { stem($0["path"] as! String).hasPrefix("rocket_") })
        XCTAssertEqual((results[0]["layerScores"] as! [Double]).count, 3)
        XCTAssertNotNil((parsed[0]["timings"] as! [String: Double])["scan"])
        let page = try String(contentsOf: html, encoding: .utf8)
        XCTAssertEqual(page.components(separatedBy: "data:image/jpeg;base64,").count - 1, 5)   // query + 4 results
        XCTAssert(page.contains("rocket_"))

        let table = try EngineFixture.runCLI(["query", "--index", dir.path, "--top", "2", q])
        XCTAssert(table.output.contains("rank\tscore\tpath"))
        // A broken query image is reported, with a failing exit status.
        let bad = try EngineFixture.runCLI(["query", "--index", dir.path, "/nonexistent.jpg"])
        XCTAssertEqual(bad.status, 1)

        let list = try EngineFixture.runCLI(["index", "list", "--index", dir.path])
        XCTAssertEqual(list.output.split(separator: "\n").count, 48)
        let stats = try EngineFixture.runCLI(["vocab", "stats", f.vocabulary.path])
        XCTAssertEqual(stats.status, 0)
        XCTAssert(stats.output.contains("head/max"))
    }

    func testAddExitsNonZeroWhenAnImageCannotBeRead() throws {
        let f = try EngineFixture.shared.get()
        let bad = f.root.appendingPathComponent("broken.jpg")
        try Data("garbage".utf8).write(to: bad)
        let dir = f.root.appendingPathComponent("cli-bad")
        try? FileManager.default.removeItem(at: dir)
        let r = try EngineFixture.runCLI(["index", "add", "--index", dir.path, "--vocab", f.vocabulary.path, bad.path,
                                          f.collection.appendingPathComponent("moon_crop.jpg").path])
        XCTAssertEqual(r.status, 1)
        XCTAssert(r.output.contains("failed 1"))
        XCTAssertEqual(try snapshot(dir).images, 1)
    }

    /// Options typed as people type them, and errors that name the real cause.
    func testSeveralValuesAfterOneFlagAndErrorsNameTheCause() throws {
        let f = try EngineFixture.shared.get()
        let train = ImageFiles.collect([f.photos.appendingPathComponent("train").path])
        let out = f.root.appendingPathComponent("two-images.vocab")
        let trained = try EngineFixture.runCLIWithErrors(["vocab", "train", "--images", train[0], train[1],
                                                          "--words", "8", "--min-per-word", "1", "--iterations", "1",
                                                          "--out", out.path])
        XCTAssertEqual(trained.status, 0, trained.errors)
        XCTAssertTrue(trained.output.contains("trained on 2 images"), trained.output)

        let missing = f.root.appendingPathComponent("no-such-index")
        let query = try EngineFixture.runCLIWithErrors(["query", "--index", missing.path, train[0]])
        XCTAssertNotEqual(query.status, 0)
        XCTAssertTrue(query.errors.contains("no index at \(missing.path)"), query.errors)
        XCTAssertFalse(query.errors.contains("vocab"), query.errors)

        let create = try EngineFixture.runCLIWithErrors(["index", "add", "--index", missing.path, train[0]])
        XCTAssertNotEqual(create.status, 0)
        XCTAssertTrue(create.errors.contains("pass --vocab FILE"), create.errors)
    }
}
