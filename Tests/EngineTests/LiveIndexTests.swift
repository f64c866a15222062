import Foundation
import XCTest
import TesseraCore
import TesseraEngine

/// The warm index behind `tessera serve`: the same rankings as `tessera query`, writes from
/// another process seen without a restart, uploads added and removed whole.
final class LiveIndexTests: XCTestCase {
    func fixture() throws -> EngineFixture { try EngineFixture.shared.get() }

    /// A fresh copy of the collection's index, closed again, for a LiveIndex to open.
    func indexDirectory(_ name: String) throws -> URL {
        try fixture().freshIndex(name).directory
    }

    func testRankingsEqualTheCommandLinesAndSeeAnotherProcesssAdd() throws {
        let f = try fixture()
        let dir = try indexDirectory("live-rankings")
        let query = try XCTUnwrap(ImageFiles.collect([f.queries.path]).first)
        let cli = try EngineFixture.runCLI(["query", "--index", dir.path, "--json", "--top", "8", query])
        XCTAssertEqual(cli.status, 0)
        let listed = try JSONSerialization.jsonObject(with: Data(cli.output.utf8)) as? [[String: Any]]
        let expected = try XCTUnwrap(listed?.first)
        let live = try LiveIndex(directory: dir, modelPath: nil)
        var o = QueryOptions()
        o.top = 8
        let data = try Data(contentsOf: URL(fileURLWithPath: query))
        let got = try live.search(try live.extract(data, name: query), options: o)
        let expectedResults = try XCTUnwrap(expected["results"] as? [[String: Any]])
        XCTAssertEqual(got.results.map(\.path), expectedResults.map { $0["path"] as? String })
        for (g, e) in zip(got.results, expectedResults) {
            XCTAssertEqual(Double(g.score), e["score"] as? Double ?? .nan, accuracy: 1e-6)
        }

        // Another process adds while this one holds the index open: the next query sees it.
        let before = try live.generation()
        let newPhoto = try XCTUnwrap(ImageFiles.collect([f.photos.appendingPathComponent("train").path]).first)
        let add = try EngineFixture.runCLIWithErrors(["index", "add", "--index", dir.path, newPhoto])
        XCTAssertEqual(add.status, 0, add.errors)
        XCTAssertGreaterThan(try live.generation(), before)
        let x = try live.extract(try Data(contentsOf: URL(fileURLWithPath: newPhoto)), name: newPhoto)
        let after = try live.search(x, options: o)
        XCTAssertEqual(after.results.first?.path, URL(fileURLWithPath: newPhoto).standardizedFileURL.path)
        XCTAssertEqual(try live.stats().images, 49)
    }

    func testUploadsAreAddedOnceAndRemovedWithTheirFile() throws {
        let f = try fixture()
        let dir = try indexDirectory("live-uploads")
        let live = try LiveIndex(directory: dir, modelPath: nil)
        let photo = try XCTUnwrap(ImageFiles.collect([f.photos.appendingPathComponent("train").path]).last)
        let data = try Data(contentsOf: URL(fileURLWithPath: photo))
        guard case .added(let id) = try live.add(upload: data) else { return XCTFail("not added") }
        XCTAssertEqual(try live.add(upload: data), .alreadyIndexed(id))
        let record = try XCTUnwrap(try live.image(id: id))
        XCTAssertEqual(record.path, live.uploads.appendingPathComponent("\(SHA256.hex(data)).jpg").path)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: record.path)), data)
        let thumb = try XCTUnwrap(try live.thumbnail(id: id, longSide: 64))
        XCTAssertEqual(Array(thumb.prefix(2)), [0xFF, 0xD8])
        XCTAssertLessThan(thumb.count, data.count)

        // The same content already indexed under its own path is not added twice.
        let collected = try XCTUnwrap(ImageFiles.collect([f.collection.path]).first)
        XCTAssertEqual(try live.add(upload: try Data(contentsOf: URL(fileURLWithPath: collected))), .alreadyIndexed(0))

        // A corrupt upload throws, and leaves no file and no image behind.
        let files = try FileManager.default.contentsOfDirectory(atPath: live.uploads.path).count
        let images = try live.stats().images
        XCTAssertThrowsError(try live.add(upload: data.prefix(data.count / 3)))
        XCTAssertThrowsError(try live.add(upload: Data("not a jpeg".utf8)))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: live.uploads.path).count, files)
        XCTAssertEqual(try live.stats().images, images)

        XCTAssertTrue(try live.remove(id: id))
        XCTAssertFalse(FileManager.default.fileExists(atPath: record.path))
        XCTAssertFalse(try live.remove(id: id))
        XCTAssertNil(try live.image(id: id))
        XCTAssertNil(try live.thumbnail(id: id))
        // A removed image never ranks.
        let x = try live.extract(data, name: "q")
        XCTAssertFalse(try live.search(x, options: QueryOptions()).results.contains { $0.id == id })
    }

    func testImagePagesCoverTheTableOnce() throws {
        let live = try LiveIndex(directory: try indexDirectory("live-pages"), modelPath: nil)
        var seen: [ImageID] = []
        var from: ImageID = 0
        while true {
            let page = try live.images(from: from, limit: 7)
            seen += page.map(\.id)
            guard let last = page.last, page.count == 7 else { break }
            from = last.id + 1
        }
        XCTAssertEqual(seen, Array(0..<48))
    }
}
