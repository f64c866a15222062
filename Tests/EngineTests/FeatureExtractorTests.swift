import Foundation
import XCTest
import TesseraCore
@testable import TesseraEngine

/// Multi-scale patches, global descriptors of other maps, and the cache of complete extractions.
final class FeatureExtractorTests: XCTestCase {
    func testCompleteExtractionServesEverySetting() throws {
        let f = try EngineFixture.shared.get()
        let photo = f.queries.appendingPathComponent("coffee.jpg").path
        let network = try ModelLocator.loadNetwork(explicit: nil)
        let block11 = GlobalDescriptorOptions(pooling: .rmac, source: .block11)
        let both = GlobalDescriptorOptions(pooling: .rmac, source: .combined)
        let single = try FeatureExtractor(network: network, patchOptions: .init())
        let multi = try FeatureExtractor(network: network, patchOptions: .init(), multiScalePatches: true)
        for e in [single, multi] { e.alsoDescribe = [block11, both] }

        let one = try single.extract(photo)
        let many = try multi.extract(photo)
        XCTAssertTrue(one.patchScales.allSatisfy { $0 == 1 })
        XCTAssertGreaterThan(many.descriptors.patchCount, one.descriptors.patchCount)
        XCTAssertEqual(many.patchScales.count, many.descriptors.patchCount)
        // Scales 1 and 1/√2 (at 1/2 this photo is under 224 pixels high and gives no patch).
        XCTAssertGreaterThanOrEqual(Set(many.patchScales).count, 2, "\(Set(many.patchScales))")
        // The image's own patches come first and are the single-scale ones.
        let n = one.descriptors.patchCount
        for (key, m) in one.descriptors.layers {
            XCTAssertEqual(many.descriptors.layers[key]!.rows(Array(0..<n)).data, m.data)
        }
        XCTAssertEqual(many.global, one.global)
        // Frames: a patch taken at scale s covers 224/s pixels, centred in its square.
        for (frame, (p, s)) in zip(many.frames, zip(many.descriptors.positions, many.patchScales)) {
            XCTAssertEqual(frame.side, 224 / s, accuracy: 1e-3)
            XCTAssertEqual(frame.x, Float(p.x) + frame.side / 2, accuracy: 1e-3)
        }
        // Other maps: block 11 has 672 channels, both concatenated 1280 + 672.
        XCTAssertEqual(one.otherGlobals[block11]?.count, 672)
        XCTAssertEqual(one.otherGlobals[both]?.count, 1952)

        // The cache stores the complete extraction once and hands each setting its part.
        let dir = f.root.appendingPathComponent("feature-cache")
        try? FileManager.default.removeItem(at: dir)
        let cacheSingle = try FeatureCache(directory: dir, extractor: single)
        let cacheMulti = try FeatureCache(directory: dir, extractor: multi)
        let first = try cacheSingle.features(photo)
        let fromMulti = try cacheMulti.features(photo)
        XCTAssertEqual([cacheSingle.misses, cacheMulti.hits], [1, 1])
        XCTAssertEqual(first.descriptors.patchCount, n)
        XCTAssertEqual(fromMulti.descriptors.patchCount, many.descriptors.patchCount)
        XCTAssertEqual(fromMulti.patchScales, many.patchScales)
        XCTAssertEqual(fromMulti.global, many.global)
        XCTAssertEqual(fromMulti.otherGlobals, many.otherGlobals)
        XCTAssertEqual(fromMulti.frames, many.frames)
        // Another primary descriptor is served from the same entry.
        let blockFirst = try FeatureExtractor(network: network, patchOptions: .init(), global: block11)
        blockFirst.alsoDescribe = [GlobalDescriptorOptions(), both]
        let cacheBlock = try FeatureCache(directory: dir, extractor: blockFirst)
        let swapped = try cacheBlock.features(photo)
        XCTAssertEqual(cacheBlock.hits, 1)
        XCTAssertEqual(swapped.global, one.otherGlobals[block11])
        XCTAssertEqual(swapped.otherGlobals[GlobalDescriptorOptions()], one.global)
    }
}
