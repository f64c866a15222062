import XCTest
import Foundation
import TesseraCore
@testable import Index

/// What a long-running reader and writer (the query server) needs of the store: per-write
/// locking, snapshot generations, paged image reads, and map growth while snapshots are open.
final class ServingStoreTests: TemporaryDirectoryTestCase {
    func testPerWriteLockingLetsAnotherWriterInBetweenWrites() throws {
        let dir = tempDir()
        _ = try IndexStore.create(at: dir, meta: Synthetic.meta())
        let store = try IndexStore.open(at: dir, expecting: Synthetic.identity,
                                        options: IndexStoreOptions(writerLocking: .perWrite))
        XCTAssertEqual(try store.add([Synthetic.image(0)]), [.added(0)])
        // Between its writes the lock is free: another writer (a WriterLock stands for
        // `tessera index add` in another process) takes it...
        try withExtendedLifetime(try WriterLock(directory: dir)) {
            // ...and while it holds the lock, this store's writes fail at once, writing nothing.
            XCTAssertThrowsError(try store.add([Synthetic.image(1)])) {
                XCTAssertEqual($0 as? IndexError, .busy("another process is writing to this index"))
            }
            XCTAssertThrowsError(try store.remove(paths: [Synthetic.image(0).path]))
            XCTAssertEqual(try store.images().count, 1)
        }
        XCTAssertEqual(try store.add([Synthetic.image(1)]), [.added(1)])
    }

    func testWhileOpenLockingStillRefusesASecondWriter() throws {
        let dir = tempDir()
        let store = try IndexStore.create(at: dir, meta: Synthetic.meta())
        XCTAssertThrowsError(try WriterLock(directory: dir))
        withExtendedLifetime(store) {}
    }

    func testGenerationGrowsWithEveryCommitOnly() throws {
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta())
        let g0 = try store.withSnapshot { $0.generation }
        XCTAssertEqual(try store.withSnapshot { $0.generation }, g0, "no commit, same generation")
        _ = try store.add([Synthetic.image(0)])
        let g1 = try store.withSnapshot { $0.generation }
        XCTAssertGreaterThan(g1, g0)
        try store.withSnapshot { old in
            _ = try store.add([Synthetic.image(1)])
            XCTAssertEqual(old.generation, g1, "an open snapshot keeps its generation")
            XCTAssertEqual(try old.imageCount(), 1)
        }
        XCTAssertGreaterThan(try store.withSnapshot { $0.generation }, g1)
    }

    func testImagesArePagedByID() throws {
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta())
        _ = try store.add((0..<10).map { Synthetic.image($0) })
        _ = try store.remove(paths: [Synthetic.image(4).path])
        try store.withSnapshot { snap in
            XCTAssertEqual(try snap.images(from: 0, limit: 3).map(\.id), [0, 1, 2])
            XCTAssertEqual(try snap.images(from: 3, limit: 3).map(\.id), [3, 5, 6])
            XCTAssertEqual(try snap.images(from: 8, limit: 5).map(\.id), [8, 9])
            XCTAssertEqual(try snap.images(from: 10, limit: 5).map(\.id), [])
            XCTAssertEqual(try snap.images().map(\.id), [0, 1, 2, 3, 5, 6, 7, 8, 9])
        }
    }

    /// A write that must grow the map waits for this process's open snapshots to close instead
    /// of failing (LMDB resizes only with no read transaction open in the process).
    func testMapGrowthWaitsForOpenSnapshots() throws {
        let store = try IndexStore.create(at: tempDir(), meta: Synthetic.meta(),
                                          options: IndexStoreOptions(initialMapSize: 128 << 10))
        let start = store.env.mapSize
        var rng = SeededGenerator(seed: 5)
        let images = (0..<100).map { n in
            NewImage(path: "/g/\(n)", contentHash: "g\(n)", width: 1, height: 1, norms: [0, 0, 0],
                     layers: (0..<3).map { _ in Synthetic.layer(&rng, count: 200, vocabulary: 500) })
        }
        let opened = DispatchSemaphore(value: 0)
        let reader = Thread {
            try? store.withSnapshot { _ in
                opened.signal()
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        reader.start()
        opened.wait()
        XCTAssertEqual(try store.add(images).count, 100)
        XCTAssertGreaterThan(store.env.mapSize, start)
        XCTAssertEqual(try store.images().count, 100)
    }
}
