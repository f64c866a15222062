import Foundation
import XCTest
import Patches
import TesseraCore

/// The Swift forward pass against the independent NumPy implementation in
/// Tests/reference/efficientnet_ref.py (own pickle reader, BatchNorm not folded, im2col).
final class ReferenceForwardTests: XCTestCase {
    func testActivationsMatchTheNumPyReference() throws {
        let net = try Fixtures.network()
        let image = try JPEGDecoder.decode(Fixtures.photo("originals/chelsea.jpg")).resized(width: 261, height: 174)
        let input = FeatureMap(networkInputFrom: image)
        let maps = net.forward(input, taps: [.blockExpand(11), .blockOutput(10), .head])
        let logits = net.logits(pooledHead: maps[.head]!.globalAverage())

        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try NpyFile.write(input.data, shape: [3, input.height, input.width],
                          to: dir.appendingPathComponent("input.npy"))
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("reference/efficientnet_ref.py")
        let status = try Fixtures.run(Fixtures.python, [script.path, try Fixtures.modelURL().path,
                                                        dir.appendingPathComponent("input.npy").path, dir.path,
                                                        "block11.expand", "block10", "head", "logits"])
        XCTAssertEqual(status, 0, "reference script failed")

        func compare(_ name: String, _ ours: [Float], shape: [Int]) throws {
            let (ref, refShape) = try NpyFile.read(dir.appendingPathComponent("\(name).npy"))
            XCTAssertEqual(refShape, shape, name)
            guard ref.count == ours.count else { return XCTFail("\(name): sizes differ") }
            let scale = ref.map(abs).max()!
            var worst: Float = 0
            for i in ref.indices { worst = max(worst, abs(ref[i] - ours[i])) }
            XCTAssertLessThan(worst / scale, 1e-4, "\(name): max |diff| \(worst) of scale \(scale)")
        }
        for (tap, name) in [(Tap.blockExpand(11), "block11.expand"), (.blockOutput(10), "block10"), (.head, "head")] {
            let m = maps[tap]!
            try compare(name, m.data, shape: [m.channels, m.height, m.width])
        }
        try compare("logits", logits, shape: [1000])
    }

    func testACatIsACat() throws {
        let net = try Fixtures.network()
        let cat = try JPEGDecoder.decode(Fixtures.photo("originals/chelsea.jpg")).resized(width: 337, height: 224)
        let p = net.classify(cat)
        let top = p.indices.max { p[$0] < p[$1] }!
        XCTAssert((281...287).contains(top), "top-1 class \(top) is not a cat")   // ImageNet's domestic and wild cats
        let cup = try JPEGDecoder.decode(Fixtures.photo("originals/coffee.jpg")).resized(width: 336, height: 224)
        let q = net.classify(cup)
        XCTAssertEqual(q.indices.max { q[$0] < q[$1] }, 967)                     // espresso
    }
}
