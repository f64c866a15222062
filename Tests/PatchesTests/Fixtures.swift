import Foundation
import XCTest
import Patches
import TesseraCore

/// Test assets fetched from the registries by `scripts/setup.sh` (which the test command runs).
enum Fixtures {
    static var photos: URL { AssetCache.file("photos") }
    static func photo(_ relative: String) -> URL { photos.appendingPathComponent(relative) }
    static var python: URL { AssetCache.file("venv/bin/python") }

    static func modelURL() throws -> URL {
        let url = AssetCache.file("efficientnet-lite0-57934424.pth")
        guard FileManager.default.fileExists(atPath: url.path) else {
            XCTFail("model weights missing at \(url.path): run scripts/setup.sh (the test command does)")
            throw XCTSkip("no model")
        }
        return url
    }

    nonisolated(unsafe) private static var cachedNetwork: EfficientNetLite?
    static func network() throws -> EfficientNetLite {
        if let n = cachedNetwork { return n }
        let n = try EfficientNetLite(contentsOf: try modelURL())
        cachedNetwork = n
        return n
    }

    static func temporaryDirectory() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    /// Runs a process and returns its exit status (stderr passed through).
    @discardableResult
    static func run(_ executable: URL, _ arguments: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }
}

/// Mean absolute difference of two RGB images of the same size.
func meanAbsoluteDifference(_ a: RGBImage, _ b: RGBImage) -> Double {
    precondition(a.width == b.width && a.height == b.height)
    var s = 0
    for i in a.pixels.indices { s += abs(Int(a.pixels[i]) - Int(b.pixels[i])) }
    return Double(s) / Double(a.pixels.count)
}
