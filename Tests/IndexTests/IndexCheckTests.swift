import XCTest
import Foundation
import TesseraCore
@testable import Index

/// `IndexSnapshot.consistencyCheck` finds each kind of damage, and nothing in a sound index.
final class IndexCheckTests: TemporaryDirectoryTestCase {
    /// A sound store of 20 images, 3 of them removed again, some postings sealed into blocks.
    func store() throws -> IndexStore {
        let s = try IndexStore.create(at: tempDir(), meta: Synthetic.meta())
        _ = try s.add((0..<20).map { Synthetic.image($0) })
        _ = try s.remove(paths: [3, 7, 11].map { Synthetic.image($0).path })
        return s
    }

    /// IDF 0.01 for every word of layers 0 and 1 (√(Σ idf²) over ≤ 90 postings stays below 0.1,
    /// and Synthetic's norms there are 1 and 2), 0 for layer 2 (whose norm is n, 0 for image 0).
    static let smallIDF = [[Float](repeating: 0.01, count: 64), [Float](repeating: 0.01, count: 64),
                           [Float](repeating: 0, count: 64)]

    func check(_ s: IndexStore, idf: [[Float]]? = nil) throws -> IndexCheck {
        try s.withSnapshot { try $0.consistencyCheck(idf: idf) }
    }

    func testASoundIndexIsConsistent() throws {
        let s = try store()
        let r = try check(s)
        XCTAssertTrue(r.isConsistent, "\(r.problems)")
        XCTAssertEqual(r.images, 17)
        XCTAssertEqual(r.postings, try s.stats().layers.reduce(0) { $0 + $1.postings })
        XCTAssertGreaterThan(try s.withSnapshot { try $0.blockCount(layer: 0).blocks }, 0, "blocks are walked too")
        XCTAssertTrue(try check(s, idf: Self.smallIDF).isConsistent)
    }

    func testAMissingPathEntryIsFound() throws {
        let s = try store()
        let path = Synthetic.image(5).path
        let key = IndexDatabases.pathKey(path, maxKeySize: s.maxKeySize)
        try s.env.write { txn in _ = try txn.delete(s.dbs.paths, key: key) }
        let r = try check(s)
        XCTAssertFalse(r.isConsistent)
        XCTAssertTrue(r.problems.contains { $0.contains("image 5: its path entry") }, "\(r.problems)")
    }

    func testAPostingOfAnAbsentImageIsFound() throws {
        let s = try store()
        var value = bigEndianKey(7)  // removed image
        value += [UInt8](repeating: 0xAB, count: s.meta.postingStride - 4)
        try s.env.write { txn in try txn.put(s.dbs.inverted[1], key: bigEndianKey(3), value: value) }
        let r = try check(s)
        XCTAssertTrue(r.problems.contains { $0.contains("a posting names image 7") }, "\(r.problems)")
    }

    func testAMissingWordListAndADanglingEntryAreFound() throws {
        let s = try store()
        try s.env.write { txn in
            _ = try txn.delete(s.dbs.imageWords, key: bigEndianKey(2))
            try txn.put(s.dbs.hashes, key: IndexDatabases.hashKey("stray", maxKeySize: s.maxKeySize),
                        value: bigEndianKey(11))
        }
        let r = try check(s)
        XCTAssertTrue(r.problems.contains { $0.contains("image 2: no stored word list") }, "\(r.problems)")
        XCTAssertTrue(r.problems.contains { $0.contains("content-hash entry names image 11") }, "\(r.problems)")
    }

    /// A compaction killed midway leaves its partial copy aside, never an index at the
    /// destination; the rerun replaces it with a whole, consistent copy.
    func testCompactionLandsWholeOrNotAtAll() throws {
        let s = try store()
        let destination = tempDir()
        let partial = destination.appendingPathComponent(".compacting")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        try Data(repeating: 0x5A, count: 4096).write(to: partial.appendingPathComponent("data.mdb"))
        XCTAssertThrowsError(try IndexStore.open(at: destination, expecting: nil)) {
            XCTAssertEqual($0 as? IndexError, .notFound(destination.path))
        }
        try s.compact(to: destination)
        XCTAssertFalse(FileManager.default.fileExists(atPath: partial.path))
        let copy = try IndexStore.open(at: destination, expecting: Synthetic.identity)
        XCTAssertEqual(try copy.images(), try s.images())
        XCTAssertTrue(try copy.withSnapshot { try $0.consistencyCheck() }.isConsistent)
        XCTAssertThrowsError(try s.compact(to: destination), "never over an index")
    }

    func testAWrongNormIsFoundAgainstTheIDF() throws {
        let s = try store()
        var record = try XCTUnwrap(try s.withSnapshot { try $0.image(id: 4) })
        record.norms[0] = 0.01
        try s.env.write { txn in try txn.put(s.dbs.images, key: bigEndianKey(4), value: record.encoded()) }
        XCTAssertTrue(try check(s).isConsistent, "without the IDF the norm cannot be judged")
        let r = try check(s, idf: Self.smallIDF)
        XCTAssertTrue(r.problems.contains { $0.contains("image 4, layer 0: norm") }, "\(r.problems)")
    }
}
