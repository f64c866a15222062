import XCTest
import Foundation
import TesseraCore
@testable import Index

/// Storage that refuses writes. A file system that fills up: a clear error that says so, the
/// index exactly as it was before the failed transaction, and a later add on a roomier disk
/// completes. A read-only file system: queries work, writes fail with a clear error. Both mount
/// (a 768 KiB tmpfs, a read-only bind mount), so they need root and a machine that allows
/// mounts (these do; elsewhere they skip).
final class StorageFaultTests: XCTestCase {
    func testAFullDiskFailsCleanlyAndTheIndexGoesOnElsewhere() throws {
        guard getuid() == 0 else { throw XCTSkip("mounting a tmpfs needs root") }
        let mount = Synthetic.tempDirectory()
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
        guard Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=768k", "tmpfs", mount.path]) == 0 else {
            try? FileManager.default.removeItem(at: mount)
            throw XCTSkip("this machine does not let the test mount a tmpfs")
        }
        defer {
            _ = Self.run("/bin/umount", [mount.path])
            try? FileManager.default.removeItem(at: mount)
        }
        let dir = mount.appendingPathComponent("index")
        var committed = 0
        var rng = SeededGenerator(seed: 9)
        let batches = (0..<200).map { b in
            (0..<8).map { i -> NewImage in
                let n = b * 8 + i
                return NewImage(path: "/full/\(n)", contentHash: "full-\(n)", width: 1, height: 1, norms: [1, 1, 1],
                                layers: (0..<3).map { _ in Synthetic.layer(&rng, count: 60, vocabulary: 400) })
            }
        }
        var failure: IndexStorageError?
        var before: [ImageRecord] = []
        do {
            let store = try IndexStore.create(at: dir, meta: Synthetic.meta(),
                                              options: IndexStoreOptions(initialMapSize: 4 << 20))
            for batch in batches {
                before = try store.images()
                do {
                    _ = try store.add(batch)
                    committed += batch.count
                } catch let e as IndexStorageError {
                    failure = e
                    break
                }
            }
        }
        let error = try XCTUnwrap(failure, "768 KiB cannot hold 1,600 images")
        XCTAssertNotNil(error.diskFull, "\(error)")
        XCTAssertTrue(error.description.contains("is full"), error.description)
        XCTAssertGreaterThan(committed, 0)

        // Exactly the state before the failed transaction, and consistent.
        let reopened = try IndexStore.open(at: dir, expecting: Synthetic.identity)
        XCTAssertEqual(try reopened.images(), before)
        XCTAssertEqual(before.count, committed)
        XCTAssertTrue(try reopened.withSnapshot { try $0.consistencyCheck() }.isConsistent)

        // Moved to a disk with room, the same index takes the rest.
        let roomy = Synthetic.tempDirectory()
        defer { try? FileManager.default.removeItem(at: roomy) }
        try FileManager.default.createDirectory(at: roomy, withIntermediateDirectories: true)
        try reopened.compact(to: roomy.appendingPathComponent("index"))
        let moved = try IndexStore.open(at: roomy.appendingPathComponent("index"), expecting: Synthetic.identity)
        for batch in batches[(committed / 8)..<(committed / 8 + 10)] { _ = try moved.add(batch) }
        XCTAssertEqual(try moved.images().count, committed + 80)
        XCTAssertTrue(try moved.withSnapshot { try $0.consistencyCheck() }.isConsistent)
    }

    func testAReadOnlyDirectoryAnswersQueriesAndRefusesWrites() throws {
        guard getuid() == 0 else { throw XCTSkip("a read-only bind mount needs root") }
        let dir = Synthetic.tempDirectory()
        let view = Synthetic.tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir); try? FileManager.default.removeItem(at: view) }
        do {
            let store = try IndexStore.create(at: dir, meta: Synthetic.meta())
            _ = try store.add((0..<6).map { Synthetic.image($0) })
        }
        try FileManager.default.createDirectory(at: view, withIntermediateDirectories: true)
        guard Self.run("/bin/mount", ["--bind", dir.path, view.path]) == 0 else {
            throw XCTSkip("this machine does not let the test mount")
        }
        defer { _ = Self.run("/bin/umount", [view.path]) }
        XCTAssertEqual(Self.run("/bin/mount", ["-o", "remount,ro,bind", view.path]), 0)
        let reader = try IndexStore.open(at: view, expecting: Synthetic.identity,
                                         options: IndexStoreOptions(readOnly: true))
        XCTAssertEqual(try reader.images().count, 6)
        XCTAssertTrue(try reader.withSnapshot { try $0.consistencyCheck() }.isConsistent)
        XCTAssertThrowsError(try IndexStore.open(at: view, expecting: Synthetic.identity)) {
            guard case .directoryNotWritable(let why)? = $0 as? IndexError else { return XCTFail("\($0)") }
            XCTAssertTrue(why.contains("Read-only file system"), why)
        }
        XCTAssertThrowsError(try reader.add([Synthetic.image(9)])) { XCTAssertEqual($0 as? IndexError, .readOnly) }
    }

    static func run(_ tool: String, _ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
