import Foundation
import XCTest
import Index
import Quantizer
import TesseraCore
import TesseraEngine

/// A small real pipeline shared by the engine tests: a vocabulary trained on the setup's
/// "train" photos, and the 48-image "collection" (12 photos × crop, scale, rotate, light).
final class EngineFixture: @unchecked Sendable {
    static let shared = Result { try EngineFixture() }

    let root: URL
    let vocabulary: URL
    let otherVocabulary: URL
    let photos = AssetCache.file("photos")
    var collection: URL { photos.appendingPathComponent("collection") }
    var queries: URL { photos.appendingPathComponent("queries") }

    init() throws {
        guard FileManager.default.fileExists(atPath: AssetCache.file("photos/.complete").path) else {
            XCTFail("test photos missing: run scripts/setup.sh (the test command does)")
            throw XCTSkip("no photos")
        }
        root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-engine-tests-\(getpid())")
        try? FileManager.default.removeItem(at: root)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let network = try ModelLocator.loadNetwork(explicit: nil)
        let extractor = try FeatureExtractor(network: network, patchOptions: .init())
        var o = VocabularyBuildOptions()
        o.train.words = 300
        o.train.minDescriptorsPerWord = 4
        o.train.iterations = 5
        let train = ImageFiles.collect([photos.appendingPathComponent("train").path])
        let built = try VocabularyBuilder.build(images: train, folderDescription: "train", extractor: extractor,
                                                options: o, showProgress: false)
        vocabulary = root.appendingPathComponent("test.vocab")
        try built.write(to: vocabulary)
        o.train.seed = 7
        let other = try VocabularyBuilder.build(images: train, folderDescription: "train", extractor: extractor,
                                                options: o, showProgress: false)
        otherVocabulary = root.appendingPathComponent("other.vocab")
        try other.vocabulary.write(to: otherVocabulary)
    }

    /// A fresh index directory containing the whole collection.
    func freshIndex(_ name: String) throws -> SearchIndex {
        let dir = root.appendingPathComponent(name)
        try? FileManager.default.removeItem(at: dir)
        let idx = try SearchIndex(directory: dir, vocabulary: vocabulary, modelPath: nil, create: true)
        let report = try idx.add([collection.path], showProgress: false)
        XCTAssertEqual(report.added.count, 48)
        XCTAssertTrue(report.failed.isEmpty)
        return idx
    }

    /// The `tessera` executable built by the test command (`TESSERA_CLI` when set: the
    /// sanitizer runs build it elsewhere).
    static var cli: URL {
        if let path = ProcessInfo.processInfo.environment["TESSERA_CLI"] { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent(".build/release/tessera")
    }

    /// Runs the CLI; returns exit status and standard output.
    @discardableResult
    static func runCLI(_ args: [String]) throws -> (status: Int32, output: String) {
        let r = try runCLIWithErrors(args)
        return (r.status, r.output)
    }

    /// Runs the CLI; returns exit status, standard output and standard error.
    static func runCLIWithErrors(_ args: [String]) throws -> (status: Int32, output: String, errors: String) {
        guard FileManager.default.isExecutableFile(atPath: cli.path) else {
            XCTFail("\(cli.path) missing: the test command builds it (swift build -c release --product tessera)")
            throw XCTSkip("no CLI")
        }
        let p = Process()
        p.executableURL = cli
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        // Standard error goes to a file, so it cannot fill a pipe and block the CLI.
        let errFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("tessera-cli-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errFile) }
        p.standardError = try FileHandle(forWritingTo: errFile)
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let errors = (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""
        return (p.terminationStatus, String(decoding: data, as: UTF8.self), errors)
    }
}

func stem(_ path: String) -> String { URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent }
