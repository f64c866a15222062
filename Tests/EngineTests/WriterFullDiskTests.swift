import Foundation
import GlobalDescriptors
import Quantizer
import TesseraCore
@testable import TesseraEngine
import XCTest

/// The vocabulary and feature-cache writers on a full disk (an 8 MiB tmpfs the test mounts and fills; it
/// needs root and a machine that allows mounts, and skips elsewhere): a vocabulary that cannot
/// be written fails with the cause and leaves the pair that was there whole; a feature-cache
/// entry that cannot be written costs only time and leaves no partial entry.
final class WriterFullDiskTests: XCTestCase {
    private var mount: URL!

    override func setUpWithError() throws {
        guard getuid() == 0 else { throw XCTSkip("mounting a tmpfs needs root") }
        mount = FileManager.default.temporaryDirectory.appendingPathComponent("full-disk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
        guard try Self.tool("/bin/mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mount.path) == 0 else {
            try? FileManager.default.removeItem(at: mount)
            throw XCTSkip("this machine does not let the test mount a tmpfs")
        }
    }

    override func tearDownWithError() throws {
        guard let mount else { return }
        _ = try Self.tool("/bin/umount", mount.path)
        try? FileManager.default.removeItem(at: mount)
    }

    private static func tool(_ path: String, _ args: String...) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// Fills the file system with a file of zeros until a write fails; returns the file.
    private func fill() throws -> URL {
        let filler = mount.appendingPathComponent("filler")
        FileManager.default.createFile(atPath: filler.path, contents: nil)
        let h = try FileHandle(forWritingTo: filler)
        defer { try? h.close() }
        let chunk = Data(count: 4096)
        while (try? h.write(contentsOf: chunk)) != nil {}
        return filler
    }

    func testAVocabularyThatDoesNotFitLeavesTheOldPair() throws {
        let url = mount.appendingPathComponent("v.vocab")
        let old = try VocabularyPairTests.built(whiteningSeed: 1)
        try old.write(to: url)
        let filler = try fill()
        XCTAssertThrowsError(try VocabularyPairTests.built(whiteningSeed: 2).write(to: url)) {
            XCTAssertTrue("\($0)".contains("space"), "the error names the cause: \($0)")
        }
        XCTAssertEqual(try VocabularyPairTests.load(url), old.whitening)
        let left = try FileManager.default.contentsOfDirectory(atPath: mount.path).sorted()
        XCTAssertEqual(left, ["filler", "v.vocab", "v.vocab.whiten"], "nothing half-written stays")
        // With room again, the new pair replaces the old one.
        try FileManager.default.removeItem(at: filler)
        let new = try VocabularyPairTests.built(whiteningSeed: 2)
        try new.write(to: url)
        XCTAssertEqual(try VocabularyPairTests.load(url), new.whitening)
    }

    func testAFeatureCacheOnAFullDiskOnlyCostsTime() throws {
        let photo = AssetCache.file("photos/queries/coins.jpg").path
        guard FileManager.default.fileExists(atPath: photo) else { throw XCTSkip("run scripts/setup.sh first") }
        let network = try ModelLocator.loadNetwork(explicit: nil)
        let extractor = try FeatureExtractor(network: network, patchOptions: .init())
        let directory = mount.appendingPathComponent("features")
        let cache = try FeatureCache(directory: directory, extractor: extractor)
        let filler = try fill()
        let uncached = try cache.features(photo)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [],
                       "a full disk leaves no partial entry")
        try FileManager.default.removeItem(at: filler)
        _ = try cache.features(photo)
        let cached = try cache.features(photo)
        XCTAssertEqual(cache.hits, 1)
        XCTAssertEqual(cached.global, uncached.global)
        XCTAssertEqual(cached.descriptors.layers.mapValues(\.data), uncached.descriptors.layers.mapValues(\.data))
    }
}
