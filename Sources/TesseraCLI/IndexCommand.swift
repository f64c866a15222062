import ArgumentParser
import Foundation
import TesseraCore
import TesseraEngine

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index", abstract: "Build and maintain an index (LMDB inverted files).",
        subcommands: [IndexAddCommand.self, IndexRemoveCommand.self, IndexListCommand.self,
                      IndexStatsCommand.self, IndexCheckCommand.self, IndexCompactCommand.self])
}

struct IndexLocation: ParsableArguments {
    @Option(help: "Index directory.") var index: String
    var url: URL { URL(fileURLWithPath: index) }
}

struct IndexAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add images (files or folders, recursively); creates the index on first use.",
        discussion: "Exit status 1 when any image could not be read (those are skipped and listed); "
            + "images already indexed are not failures.")
    @OptionGroup var location: IndexLocation
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Vocabulary file (required when creating the index).") var vocab: String?
    @Option(help: "Images per write transaction.") var batch = 16
    @Option(help: "Threads decoding and describing images ahead of the writer.") var workers = 2
    @Option(help: "When creating the index: bytes at which a word's newest postings are sealed into one block.")
    var postingBlockBytes = IndexMeta.defaultPostingBlockBytes
    @Argument(help: "Images or folders.") var paths: [String]

    func run() throws {
        let idx = try SearchIndex(directory: location.url, vocabulary: vocab.map { URL(fileURLWithPath: $0) },
                                  modelPath: modelOptions.model, create: true, postingBlockBytes: postingBlockBytes)
        idx.batchSize = max(1, batch)
        idx.extractionWorkers = max(1, workers)
        let r = try idx.add(paths)
        let rate = r.seconds > 0 ? Double(r.added.count) / r.seconds : 0
        print("added \(r.added.count), already indexed \(r.alreadyIndexed.count), failed \(r.failed.count) in "
              + String(format: "%.1f s (%.2f images/s)", r.seconds, rate))
        for f in r.failed { print("  failed: \(f.reason)") }
        if !r.failed.isEmpty { throw ExitCode(1) }
    }
}

struct IndexRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove images by path.")
    @OptionGroup var location: IndexLocation
    @Argument(help: "Paths as indexed.") var paths: [String]

    func run() throws {
        print("removed \(try SearchIndex.remove(paths, from: location.url)) of \(paths.count)")
    }
}

struct IndexListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list",
                                                    abstract: "List indexed images: id, size, path.")
    @OptionGroup var location: IndexLocation

    func run() throws {
        for r in try SearchIndex.images(in: location.url) { print("\(r.id)\t\(r.width)x\(r.height)\t\(r.path)") }
    }
}

struct IndexStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Images, postings per layer, bytes per image, longest lists.")
    @OptionGroup var location: IndexLocation

    func run() throws {
        let s = try SearchIndex.stats(of: location.url)
        print("images: \(s.images)")
        print("bytes on disk: \(s.fileBytes) (in use \(s.bytesInUse), "
              + "\(String(format: "%.0f", s.bytesPerImage)) per image)")
        for l in s.layers {
            let longest = l.longestLists.map { "word \($0.word) (\($0.postings))" }.joined(separator: ", ")
            print("\(l.key): \(l.postings) postings (\(l.postingsInBlocks) in \(l.sealedBlocks) sealed blocks), "
                  + "\(l.nonEmptyWords) non-empty words, longest lists: \(longest)")
        }
    }
}

struct IndexCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify the index's invariants: records, paths, hashes, postings, word lists, norms.",
        discussion: "Exit status 1 when anything is wrong; the first 100 problems are printed.")
    @OptionGroup var location: IndexLocation

    func run() throws {
        let (r, withVocabulary) = try SearchIndex.check(location.url)
        for p in r.problems { print("problem: \(p)") }
        if r.problemCount > r.problems.count { print("… and \(r.problemCount - r.problems.count) more") }
        print("\(r.isConsistent ? "consistent" : "INCONSISTENT"): \(r.images) images, \(r.postings) postings checked"
              + (withVocabulary ? "" : " (norms not checked: the index's vocabulary is not readable)")
              + (r.isConsistent ? "" : ", \(r.problemCount) problems"))
        if !r.isConsistent { throw ExitCode(1) }
    }
}

struct IndexCompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compact",
                                                    abstract: "Write a compacted copy of the index.")
    @OptionGroup var location: IndexLocation
    @Option(help: "Destination directory (must not exist or be empty).") var out: String

    func run() throws {
        try SearchIndex.compact(location.url, to: URL(fileURLWithPath: out))
        print("compacted copy written to \(out)")
    }
}
