import TesseraCore
import Foundation
import XCTest
import Patches

final class JPEGDecoderTests: XCTestCase {
    func upright() throws -> (Data, RGBImage) {
        let url = Fixtures.photo("special/upright.jpg")
        return (try Data(contentsOf: url), try JPEGDecoder.decode(url))
    }

    func testDecodesARealPhoto() throws {
        let (_, img) = try upright()
        XCTAssertEqual(img.width, 451)
        XCTAssertEqual(img.height, 300)
        // A real photo is not flat.
        let mean = img.pixels.reduce(0) { $0 + Int($1) } / img.pixels.count
        XCTAssert(img.pixels.contains { abs(Int($0) - mean) > 60 })
    }

    func testMissingFile() {
        XCTAssertThrowsError(try JPEGDecoder.decode(URL(fileURLWithPath: "/nonexistent/x.jpg"))) {
            XCTAssertEqual($0 as? ImageDecodeError, .missing("/nonexistent/x.jpg"))
        }
    }

    func testEmptyFile() throws {
        XCTAssertThrowsError(try JPEGDecoder.decode(Data(), name: "e.jpg")) {
            XCTAssertEqual($0 as? ImageDecodeError, .empty("e.jpg"))
        }
    }

    func testTruncatedJPEG() throws {
        let (data, _) = try upright()
        XCTAssertThrowsError(try JPEGDecoder.decode(data.prefix(data.count / 2), name: "t.jpg")) { error in
            guard case .truncated = error as? ImageDecodeError else {
                return XCTFail("expected truncated, got \(error)")
            }
        }
        // Cut inside the header too.
        XCTAssertThrowsError(try JPEGDecoder.decode(data.prefix(40), name: "h.jpg"))
    }

    func testCorruptEntropyData() throws {
        let (data, _) = try upright()
        // A marker in the middle of the entropy-coded scan (0xFF followed by a non-zero,
        // non-restart byte) is corrupt data: libjpeg warns and makes pixels up, so we refuse it.
        var bad = [UInt8](data)
        let middle = bad.count / 2
        for i in 0..<32 { bad[middle + i] = i % 2 == 0 ? 0xFF : 0xC8 }
        XCTAssertThrowsError(try JPEGDecoder.decode(Data(bad), name: "c.jpg")) { error in
            switch error as? ImageDecodeError {
            case .corrupt?, .truncated?: break
            default: XCTFail("expected corrupt, got \(error)")
            }
        }
        // Random damage (seeded) is refused or decodes to the original size; it never crashes.
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<20 {
            var noisy = [UInt8](data)
            for _ in 0..<50 {
                noisy[Int.random(in: (noisy.count / 3)..<(noisy.count - 10), using: &rng)] =
                    UInt8.random(in: 0...255, using: &rng)
            }
            if let img = try? JPEGDecoder.decode(Data(noisy), name: "n.jpg") { XCTAssertEqual(img.width, 451) }
        }
    }

    func testNonJPEGFiles() throws {
        let png = try Data(contentsOf: Fixtures.photo("special/not-a-jpeg.png"))
        XCTAssertThrowsError(try JPEGDecoder.decode(png, name: "p.png")) {
            XCTAssertEqual($0 as? ImageDecodeError, .notJPEG("p.png"))
        }
        XCTAssertThrowsError(try JPEGDecoder.decode(Data("hello, world\n".utf8), name: "t.txt")) {
            XCTAssertEqual($0 as? ImageDecodeError, .notJPEG("t.txt"))
        }
    }

    func testAbsurdDimensionsAreRefusedBeforeDecoding() throws {
        // Patch the SOF0 marker of a real JPEG to claim 65000×65000 pixels.
        let (data, _) = try upright()
        var bytes = [UInt8](data)
        guard let sof = (0..<(bytes.count - 9)).first(where: {
            bytes[$0] == 0xFF && (bytes[$0 + 1] == 0xC0 || bytes[$0 + 1] == 0xC2)
        }) else {
            return XCTFail("no SOF marker")
        }
        bytes[sof + 5] = 0xFD; bytes[sof + 6] = 0xE8; bytes[sof + 7] = 0xFD; bytes[sof + 8] = 0xE8
        XCTAssertThrowsError(try JPEGDecoder.decode(Data(bytes), name: "huge.jpg")) { error in
            guard case .tooLarge = error as? ImageDecodeError else { return XCTFail("expected tooLarge, got \(error)") }
        }
    }

    func testGrayscaleBecomesRGB() throws {
        let gray = try JPEGDecoder.decode(Fixtures.photo("special/gray.jpg"))
        XCTAssertEqual(gray.width, 451)
        for i in stride(from: 0, to: gray.pixels.count, by: 3) {
            XCTAssertEqual(gray.pixels[i], gray.pixels[i + 1]); XCTAssertEqual(gray.pixels[i], gray.pixels[i + 2])
        }
    }

    func testCMYKIsConvertedToTheSameColours() throws {
        let (_, rgb) = try upright()
        let cmyk = try JPEGDecoder.decode(Fixtures.photo("special/cmyk.jpg"))
        XCTAssertLessThan(meanAbsoluteDifference(rgb, cmyk), 8)
    }

    func testEXIFOrientationIsApplied() throws {
        let (_, rgb) = try upright()
        let rotated = try JPEGDecoder.decode(Fixtures.photo("special/exif6.jpg"))
        XCTAssertEqual(rotated.width, rgb.width)
        XCTAssertEqual(rotated.height, rgb.height)
        XCTAssertLessThan(meanAbsoluteDifference(rgb, rotated), 6)
    }

    func testOrientationTransformsAreInverses() {
        let img = RGBImage(width: 3, height: 2, pixels: (0..<18).map { UInt8($0) })
        XCTAssertEqual(img.oriented(6).oriented(8), img)
        XCTAssertEqual(img.oriented(3).oriented(3), img)
        XCTAssertEqual(img.oriented(5).oriented(5), img)
        XCTAssertEqual(img.oriented(6).width, 2)
        // Orientation 6 (rotate 90° CW): the old bottom-left pixel becomes the top-left one.
        XCTAssertEqual(Array(img.oriented(6).pixels[0..<3]), Array(img.pixels[9..<12]))
    }

    func testDCTDownscaleKeepsTheRequestedSide() throws {
        let url = Fixtures.photo("originals/coffee.jpg")   // 640×427
        let full = try JPEGDecoder.decode(url)
        let small = try JPEGDecoder.decode(url, minLongSide: 300)
        XCTAssertEqual(full.width, 640)
        XCTAssertEqual(small.width, 320)                  // 1/2 keeps ≥ 300, 1/4 would not
        let big = try JPEGDecoder.decode(url, minLongSide: 500)
        XCTAssertEqual(big.width, 640)
    }
}
