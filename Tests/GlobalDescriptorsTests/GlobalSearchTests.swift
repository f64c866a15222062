import XCTest
import TesseraCore
@testable import GlobalDescriptors

final class GlobalSearchTests: XCTestCase {
    func testGlobalSearchAndExpansion() throws {
        let db = Matrix(rows: 3, cols: 2, data: [1, 0, 0, 1, 0.6, 0.8])
        let c = try GlobalSearch.cosines(query: [0.6, 0.8], database: db)
        XCTAssertEqual(c[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(c[1], 0.8, accuracy: 1e-6)
        XCTAssertEqual(c[2], 1, accuracy: 1e-6)
        // The cosines of listed ids, in their order; an id with no row gets 0.
        XCTAssertEqual(try GlobalSearch.cosines(query: [0, 1], database: db, ids: [2, 0, 7]), [0.8, 0, 0])
        // αQE with α = 1, n = 1 over neighbour (1, 0.5): q + 0.5·(0, 1) = (1, 0.5) → /√1.25.
        let q = try GlobalSearch.alphaQueryExpansion(query: [1, 0], neighbours: [(1, 0.5), (2, 0.9)],
                                                     database: db, n: 1, alpha: 1)
        XCTAssertEqual(q[0], 1 / Float(1.25).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(q[1], 0.5 / Float(1.25).squareRoot(), accuracy: 1e-6)
        // DBA n = 1, α = 1: row 0's nearest other row is 2 (cos .6): (1,0) + .6·(.6,.8) = (1.36, .48).
        let a = GlobalSearch.databaseAugmentation(db, n: 1, alpha: 1)
        let n0 = (1.36 * 1.36 + 0.48 * 0.48 as Float).squareRoot()
        XCTAssertEqual(a[0, 0], 1.36 / n0, accuracy: 1e-5)
        XCTAssertEqual(a[0, 1], 0.48 / n0, accuracy: 1e-5)
        XCTAssertThrowsError(try GlobalSearch.cosines(query: [1], database: db))
    }

    /// A space places each image's (whitened) descriptor at its id, leaves absent ids zero,
    /// and embeds a query the same way as the database.
    func testSpacePlacesRowsByIdAndEmbedsLikeTheDatabase() throws {
        var rng = SeededGenerator(seed: 5)
        let train = Matrix(rows: 40, cols: 6, data: (0..<240).map { _ in Float.random(in: -1...1, using: &rng) })
        let w = try PCAWhitening.learn(from: train, options: WhiteningOptions(outputDimension: 4))
        let a: [Float] = [1, 0, 0, 0, 0, 0], b: [Float] = [0, 0.6, 0.8, 0, 0, 0]
        let space = try GlobalSpace(rows: [(3, a), (1, b)], bound: 5, whitening: w)
        XCTAssertEqual(space.database.rows, 5)
        XCTAssertEqual(space.database.cols, 4)
        let ea = try space.embed(a), eb = try space.embed(b)
        for c in 0..<4 {
            XCTAssertEqual(space.database[3, c], ea[c], accuracy: 1e-5)
            XCTAssertEqual(space.database[1, c], eb[c], accuracy: 1e-5)
            XCTAssertEqual(space.database[0, c], 0)
        }
        XCTAssertEqual(try space.cosines(ea)[3], 1, accuracy: 1e-5)
        XCTAssertThrowsError(try GlobalSpace(rows: [(0, a), (1, [1, 0])], bound: 2, whitening: nil))
        let plain = try GlobalSpace(rows: [(0, a)], bound: 1, whitening: nil)
        XCTAssertThrowsError(try plain.embed([1, 0]))
    }
}
