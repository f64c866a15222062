import Foundation
import GlobalDescriptors
import Quantizer
import TesseraCore
@testable import TesseraEngine
import XCTest

/// The vocabulary and its whitening are two files; the vocabulary records which whitening is
/// its own, so a `vocab train` killed between the two writes, or a file replaced by hand,
/// gives a clear error instead of rankings with another whitening (or none).
final class VocabularyPairTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vocab-pair-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    static func built(whiteningSeed: UInt64?) throws -> BuiltVocabulary {
        var g = SeededGenerator(seed: 5)
        let x = Matrix(rows: 80, cols: 6, data: (0..<480).map { _ in g.nextGaussian() })
        var o = TrainOptions()
        o.words = 4; o.pcaDims = 0; o.iterations = 2; o.heBits = 64; o.minDescriptorsPerWord = 4
        let layer = try VocabularyTrainer.train(layer: LayerKey(layer: "head", pooling: .max), descriptors: x,
                                                imageOfRow: (0..<80).map { Int32($0 / 8) }, imageCount: 10, options: o)
        let vocabulary = Vocabulary(layers: [layer], modelSHA256: "m", patchSettings: "{}",
                                    trainingSet: TrainingSetInfo(folder: "t", imageCount: 10, descriptorCount: 80))
        let whitening = try whiteningSeed.map { seed in
            var w = SeededGenerator(seed: seed)
            let x = Matrix(rows: 30, cols: 4, data: (0..<120).map { _ in w.nextGaussian() })
            return try PCAWhitening.learn(from: x)
        }
        return BuiltVocabulary(vocabulary: vocabulary, whitening: whitening, skipped: [])
    }

    static func load(_ url: URL) throws -> PCAWhitening? {
        let v = try Vocabulary.load(from: url)
        return try SearchIndex.loadWhitening(for: url, recorded: v.whiteningChecksum)
    }

    func testThePairIsCheckedOnLoad() throws {
        let url = directory.appendingPathComponent("a.vocab"), whiteningURL = SearchIndex.whiteningURL(for: url)
        let first = try Self.built(whiteningSeed: 1)
        try first.write(to: url)
        XCTAssertEqual(try Self.load(url), first.whitening)
        XCTAssertFalse(FileManager.default.fileExists(atPath: whiteningURL.path + ".partial"))

        // Another whitening in its place (a retrain killed after the vocabulary, or a copy): refused.
        let other = try Self.built(whiteningSeed: 2).whitening!
        try other.write(to: whiteningURL)
        XCTAssertThrowsError(try Self.load(url)) {
            XCTAssertTrue("\($0)".contains("is not the whitening trained with"))
        }
        // Missing: refused, not read as "no whitening".
        try FileManager.default.removeItem(at: whiteningURL)
        XCTAssertThrowsError(try Self.load(url)) { XCTAssertTrue("\($0)".contains("is missing")) }

        // Retrained without whitening: the stale file goes, and one put back is ignored.
        try first.whitening!.write(to: whiteningURL)
        try Self.built(whiteningSeed: nil).write(to: url)
        XCTAssertFalse(FileManager.default.fileExists(atPath: whiteningURL.path))
        try first.whitening!.write(to: whiteningURL)
        XCTAssertNil(try Self.load(url))

        // Retrained with a whitening again: the new pair loads.
        let third = try Self.built(whiteningSeed: 3)
        try third.write(to: url)
        XCTAssertEqual(try Self.load(url), third.whitening)
    }

    func testAVocabularyThatPredatesTheRecordTakesTheFileBesideIt() throws {
        let url = directory.appendingPathComponent("old.vocab")
        let b = try Self.built(whiteningSeed: 1)
        try b.vocabulary.write(to: url)  // no record, as files written before it
        XCTAssertNil(try Vocabulary.load(from: url).whiteningChecksum)
        XCTAssertNil(try Self.load(url))
        try b.whitening!.write(to: SearchIndex.whiteningURL(for: url))
        XCTAssertEqual(try Self.load(url), b.whitening)
    }
}
