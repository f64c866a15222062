import Foundation
import XCTest
import Patches
import TesseraCore

final class PatchExtractorTests: XCTestCase {
    func extractor(_ mode: PatchMode = .shared, maxSide: Int = 640) throws -> PatchExtractor {
        var o = PatchOptions()
        o.mode = mode
        o.maxSide = maxSide
        return try PatchExtractor(network: try Fixtures.network(), options: o)
    }

    func testGridOfA640x480Image() throws {
        let e = try extractor()
        let g = e.grid(width: 640, height: 480)
        XCTAssertEqual(g.count, 14 * 9)
        XCTAssertEqual(g.last!.x, 640 - 224)
        XCTAssertEqual(g.last!.y, 480 - 224)
    }

    func testResizePolicy() throws {
        let e = try extractor()
        XCTAssert(e.targetSize(width: 325, height: 243) == (640, 479))
        XCTAssert(e.targetSize(width: 1280, height: 960) == (640, 480))
        XCTAssert(e.targetSize(width: 90, height: 60) == (640, 427))
        let native = try extractor(maxSide: 0)
        XCTAssert(native.targetSize(width: 325, height: 243) == (325, 243))
        XCTAssert(native.targetSize(width: 90, height: 60) == (336, 224))   // small: at least one patch
    }

    func testDescriptorsAreNormalisedAndShaped() throws {
        let e = try extractor()
        let img = try e.loadImage(Fixtures.photo("originals/coffee.jpg"))
        XCTAssertEqual(img.width, 640)
        let d = e.describe(img)
        XCTAssertEqual(d.headMap.channels, 1280)
        let dims: [LayerKey: Int] = [PatchOptions.defaultLayers[0]: 672, PatchOptions.defaultLayers[1]: 1280,
                                     PatchOptions.defaultLayers[2]: 1000]
        for (key, m) in d.layers {
            XCTAssertEqual(m.rows, d.patchCount)
            XCTAssertEqual(m.cols, dims[key])
            for r in 0..<m.rows {
                let n = m.row(r).reduce(0) { $0 + $1 * $1 }
                XCTAssertEqual(n, 1, accuracy: 1e-4)
            }
        }
    }

    func testTinyImageYieldsOnePatch() throws {
        let e = try extractor()
        let img = try e.loadImage(Fixtures.photo("special/tiny.jpg"))
        XCTAssertGreaterThanOrEqual(min(img.width, img.height), 224)
        XCTAssertGreaterThanOrEqual(e.describe(img).patchCount, 1)
    }

    /// The shared pass approximates the per-patch reference (context leaks in across patch
    /// borders, so agreement is high but not exact); Bench/RESULTS.md reports the means.
    func testSharedAgreesWithPerPatch() throws {
        let shared = try extractor(.shared, maxSide: 288)
        let perPatch = try extractor(.perPatch, maxSide: 288)
        let img = try shared.loadImage(Fixtures.photo("originals/chelsea.jpg"))
        let a = shared.describe(img), b = perPatch.describe(img)
        XCTAssertEqual(a.patchCount, b.patchCount)
        for key in PatchOptions.defaultLayers {
            let x = a.layers[key]!, y = b.layers[key]!
            var mean: Float = 0
            for r in 0..<x.rows { mean += zip(x.row(r), y.row(r)).reduce(0) { $0 + $1.0 * $1.1 } }
            mean /= Float(x.rows)
            XCTAssertGreaterThan(mean, 0.6, "\(key): mean cosine \(mean)")
        }
    }
}
