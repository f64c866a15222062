import Foundation
import XCTest
import Patches
import TesseraCore

/// The Swift forward pass against the independent NumPy implementation in
/// Tests/reference/efficientnet_ref.py (own pickle reader, BatchNorm not folded, im2col).
final class ReferenceForwardTests: XCTestCase {
    func testActivationsMatchTheNumPyReference() throws {
        try compareWithReference(try Fixtures.network(), width: 261, height: 174,
                                 taps: [.blockExpand(11), .blockOutput(10), .head], logits: true)
    }

    /// Lite1 and Lite2 (more blocks, wider maps) and sizes whose maps are odd, square or a thin
    /// strip at every stride: every tapped layer of the method's defaults (block 11's expand
    /// map, block 15's output, the head) stays within 1e-4 of the reference.
    func testLite0To2MatchTheReferenceAtOddSizes() throws {
        let models = [("efficientnet-lite0-57934424.pth", 333, 251), ("efficientnet-lite1-77cc7160.pth", 224, 224),
                      ("efficientnet-lite2-9656183e.pth", 1024, 77)]
        for (file, width, height) in models {
            let url = AssetCache.file(file)
            guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("\(file) missing") }
            try compareWithReference(try EfficientNetLite(contentsOf: url), model: url, width: width, height: height,
                                     taps: [.blockExpand(11), .blockOutput(15), .head], logits: false)
        }
    }

    /// Runs `net` and Tests/reference/efficientnet_ref.py on the chelsea photo resized to
    /// width × height and compares every tap (and the logits) within 1e-4 of the reference's
    /// maximum magnitude.
    private func compareWithReference(_ net: EfficientNetLite, model: URL? = nil, width: Int, height: Int,
                                      taps: [Tap], logits withLogits: Bool) throws {
        let image = try JPEGDecoder.decode(Fixtures.photo("originals/chelsea.jpg"))
            .resized(width: width, height: height)
        let input = FeatureMap(networkInputFrom: image)
        let maps = net.forward(input, taps: Set(taps))
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try NpyFile.write(input.data, shape: [3, input.height, input.width],
                          to: dir.appendingPathComponent("input.npy"))
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("reference/efficientnet_ref.py")
        let names = taps.map(\.description) + (withLogits ? ["logits"] : [])
        let modelURL = try model ?? Fixtures.modelURL()
        let status = try Fixtures.run(Fixtures.python, [script.path, modelURL.path,
                                                        dir.appendingPathComponent("input.npy").path, dir.path] + names)
        XCTAssertEqual(status, 0, "reference script failed")
        let label = "\(modelURL.lastPathComponent) \(width)×\(height)"

        func compare(_ name: String, _ ours: [Float], shape: [Int]) throws {
            let (ref, refShape) = try NpyFile.read(dir.appendingPathComponent("\(name).npy"))
            XCTAssertEqual(refShape, shape, "\(label) \(name)")
            guard ref.count == ours.count else { return XCTFail("\(label) \(name): sizes differ") }
            let scale = ref.map(abs).max()!
            var worst: Float = 0
            for i in ref.indices { worst = max(worst, abs(ref[i] - ours[i])) }
            XCTAssertLessThan(worst / scale, 1e-4, "\(label) \(name): max |diff| \(worst) of scale \(scale)")
        }
        for tap in taps {
            let m = maps[tap]!
            try compare(tap.description, m.data, shape: [m.channels, m.height, m.width])
        }
        if withLogits { try compare("logits", net.logits(pooledHead: maps[.head]!.globalAverage()), shape: [1000]) }
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
