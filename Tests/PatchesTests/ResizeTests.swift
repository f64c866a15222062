import TesseraCore
import XCTest
import Patches

final class ResizeTests: XCTestCase {
    func testConstantImageStaysConstant() {
        let img = RGBImage(width: 37, height: 23, pixels: [UInt8](repeating: 77, count: 37 * 23 * 3))
        for (w, h) in [(10, 7), (80, 50), (37, 23)] {
            let r = img.resized(width: w, height: h)
            XCTAssertEqual(r.width, w); XCTAssertEqual(r.height, h)
            XCTAssert(r.pixels.allSatisfy { $0 == 77 })
        }
    }

    func testShrinkingAntiAliases() {
        // A one-pixel checkerboard shrunk 8× must become flat grey, not an alias pattern.
        var px = [UInt8]()
        for y in 0..<64 { for x in 0..<64 { let v: UInt8 = (x + y) % 2 == 0 ? 255 : 0; px += [v, v, v] } }
        let r = RGBImage(width: 64, height: 64, pixels: px).resized(width: 8, height: 8)
        XCTAssert(r.pixels.allSatisfy { abs(Int($0) - 128) <= 3 }, "\(r.pixels)")
    }

    func testUpscalingInterpolates() {
        let img = RGBImage(width: 2, height: 1, pixels: [0, 0, 0, 200, 200, 200])
        let r = img.resized(width: 4, height: 1)
        XCTAssertEqual(r.pixels[0], 0)
        XCTAssertEqual(r.pixels[9], 200)
        XCTAssert(r.pixels[3] > 0 && r.pixels[3] < r.pixels[6] && r.pixels[6] < 200)
    }
}
