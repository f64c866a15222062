import CLMDB
import XCTest
@testable import Index

final class LMDBLayerTests: XCTestCase {
    func testWriteAbortsOnThrowAndErrorsCarryLMDBText() throws {
        let dir = Synthetic.tempDirectory()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = try LMDBEnvironment(directory: dir, maxDatabases: 4, mapSize: 1 << 20, maxMapSize: 1 << 20,
                                      readOnly: false)
        let db = try env.write { try $0.openDatabase("t", create: true) }
        struct Boom: Error {}
        XCTAssertThrowsError(try env.write { txn in
            try txn.put(db, key: [1], value: [2])
            throw Boom()
        })
        XCTAssertNil(try env.read { try $0.value(db, key: [1]) })
        try env.write { try $0.put(db, key: [1], value: [3]) }
        XCTAssertEqual(try env.read { try $0.value(db, key: [1]) }, [3])
        // Oversized key: LMDB's own message comes through.
        XCTAssertThrowsError(try env.write { try $0.put(db, key: [UInt8](repeating: 0, count: 4096), value: [1]) }) {
            XCTAssertTrue("\($0)".contains("MDB_BAD_VALSIZE"), "\($0)")
        }
        // A map that may not grow reports MDB_MAP_FULL.
        XCTAssertThrowsError(try env.write { txn in
            for i in 0..<2000 { try txn.put(db, key: Array("k\(i)".utf8), value: [UInt8](repeating: 1, count: 1000)) }
        }) { XCTAssertTrue(($0 as? IndexStorageError)?.isMapFull == true, "\($0)") }
    }
}

/// Read transactions know where this environment's map of `data.mdb` lies, and refuse a value
/// that would run past the last committed page (what a damaged size in a page claims) instead
/// of reading past the end of the file.
final class MapBoundsTests: XCTestCase {
    func testValuesArePinnedToTheCommittedPages() throws {
        let dir = Synthetic.tempDirectory()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = try LMDBEnvironment(directory: dir, maxDatabases: 4, mapSize: 1 << 20, maxMapSize: 1 << 22,
                                      readOnly: false)
        let db = try env.write { try $0.openDatabase("t", create: true) }
        let big = [UInt8](repeating: 7, count: 20_000)  // overflow pages
        try env.write { try $0.put(db, key: [1], value: big) }
        let bounds = env.mapBounds()
        guard bounds.base != 0 else { return XCTFail("the map of data.mdb is not found in /proc/self/maps") }
        let (start, size) = try env.read { txn in
            try txn.withValue(db, key: [1]) { v in (UInt(bitPattern: v!.baseAddress!), v!.count) }
        }
        XCTAssertEqual(size, big.count)
        XCTAssertTrue(start >= bounds.base && start + UInt(size) <= bounds.committedEnd)
        // The same value claiming to run past the committed pages: refused.
        var claim = MDB_val(mv_size: Int(bounds.committedEnd - start) + 1,
                            mv_data: UnsafeMutableRawPointer(bitPattern: start))
        XCTAssertThrowsError(try bounds.check(claim)) {
            guard case .corrupt = $0 as? IndexError else { return XCTFail("\($0)") }
        }
        claim.mv_size = Int.max  // start + size overflows
        XCTAssertThrowsError(try bounds.check(claim))
        // Outside the map (a write transaction's own pages) nothing is checked.
        let heap = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
        defer { heap.deallocate() }
        XCTAssertNoThrow(try bounds.check(MDB_val(mv_size: 1 << 40, mv_data: heap)))
        // After the map grows (and moves), reads still find it.
        try env.write { txn in
            for i in 0..<100 { try txn.put(db, key: [2, UInt8(i)], value: [UInt8](repeating: 1, count: 20_000)) }
        }
        XCTAssertGreaterThan(env.mapSize, 1 << 20)
        XCTAssertEqual(try env.read { try $0.value(db, key: [2, 99]) }?.count, 20_000)
        XCTAssertNotEqual(env.mapBounds().base, 0)
    }
}

final class WordListCodingTests: XCTestCase {
    func testWordListsRoundTripAndRejectTruncation() throws {
        let lists: [[UInt32]] = [[0, 1, 127, 128, 16_383, 16_384, UInt32.max], [], [5]]
        let bytes = IndexDatabases.encodeWords(lists)
        // Hand count: layer 0 = 1 (count) + 1+1+1+1+2+1+5 (deltas 0,1,126,1,16255,1,4294950911); layers 1, 2 = 1, 2.
        XCTAssertEqual(bytes.count, 1 + 12 + 1 + 2)
        XCTAssertEqual(try bytes.withUnsafeBytes { try IndexDatabases.decodeWords($0, layers: 3, id: 0) }, lists)
        XCTAssertThrowsError(
            try bytes.dropLast().withUnsafeBytes { try IndexDatabases.decodeWords($0, layers: 3, id: 0) }
        ) {
            guard case .corrupt = $0 as? IndexError else { return XCTFail("\($0)") }
        }
    }
}
