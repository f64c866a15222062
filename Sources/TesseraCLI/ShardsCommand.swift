import ArgumentParser
import Foundation
import TesseraEngine

struct ShardsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shards",
        abstract: "Build and maintain a sharded index: a manifest (shards.json) and one index per shard.",
        discussion: "Images go to a shard by their content hash, so a duplicate always meets its original. "
            + "Search it with `tessera query --shards DIR/shards.json`.",
        subcommands: [ShardsCreateCommand.self, ShardsAddCommand.self, ShardsMergeCommand.self,
                      ShardsRefreshCommand.self, ShardsRemoveCommand.self, ShardsStatsCommand.self])
}

struct ShardsCreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create N empty shards and their manifest in a directory.")
    @Option(help: "Directory of the sharded index (gets shards.json and shard-NN/).") var dir: String
    @Option(help: "Number of shards.") var shards: Int
    @Option(help: "Vocabulary file.") var vocab: String
    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        let s = try ShardedIndex.create(at: URL(fileURLWithPath: dir), shards: shards,
                                        vocabulary: URL(fileURLWithPath: vocab), modelPath: modelOptions.model)
        print("created \(s.shards.count) shards; manifest \(s.manifestURL.path)")
    }
}

struct ShardManifestLocation: ParsableArguments {
    @Option(help: "The sharded index's manifest (DIR/shards.json).") var manifest: String
    var url: URL { URL(fileURLWithPath: manifest) }
}

struct ShardsAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add images (files or folders, recursively), each to its shard.",
        discussion: "Exit status 1 when any image could not be read (those are skipped and listed).")
    @OptionGroup var location: ShardManifestLocation
    @OptionGroup var modelOptions: ModelOptions
    @Argument(help: "Images or folders.") var paths: [String]

    func run() throws {
        let s = try ShardedIndex(manifest: location.url, modelPath: modelOptions.model)
        let r = try s.add(paths)
        let rate = r.seconds > 0 ? Double(r.added.count) / r.seconds : 0
        print("added \(r.added.count), already indexed \(r.alreadyIndexed.count), failed \(r.failed.count) in "
              + String(format: "%.1f s (%.2f images/s); per shard: ", r.seconds, rate)
              + (try s.counts()).map(String.init).joined(separator: " "))
        for f in r.failed { print("  failed: \(f.path): \(f.reason)") }
        if !r.failed.isEmpty { throw ExitCode(1) }
    }
}

struct ShardsMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Move the images of indexes built elsewhere (same vocabulary) into their shards.",
        discussion: "Each part is an ordinary index (`tessera index add`), e.g. one per machine on its local disk. "
            + "Images already in a shard are skipped, so a killed merge can be run again. Exit status 1 when an "
            + "image could not be merged (listed).")
    @OptionGroup var location: ShardManifestLocation
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: ArgumentHelp("Merge into this shard alone (one process per shard may run at once); the "
                               + "manifest's counts are then left to `tessera shards refresh`."))
    var shard: Int?
    @Argument(help: "Index directories to merge.") var parts: [String]

    func run() throws {
        let urls = parts.map { URL(fileURLWithPath: $0) }
        let r: AddReport
        var counts = ""
        if let shard {
            r = try ShardedIndex.merge(parts: urls, intoShard: shard, manifest: location.url)
        } else {
            let s = try ShardedIndex(manifest: location.url, modelPath: modelOptions.model)
            r = try s.merge(parts: urls)
            counts = "; per shard: " + (try s.counts()).map(String.init).joined(separator: " ")
        }
        print("merged \(r.added.count), already in a shard \(r.alreadyIndexed.count), failed \(r.failed.count) in "
              + String(format: "%.1f s", r.seconds) + counts)
        for f in r.failed { print("  failed: \(f.path): \(f.reason)") }
        if !r.failed.isEmpty { throw ExitCode(1) }
    }
}

struct ShardsRefreshCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refresh", abstract: "Rewrite the manifest's image counts from the shards (after merges).")
    @OptionGroup var location: ShardManifestLocation

    func run() throws {
        let m = try ShardedIndex.refreshCounts(manifest: location.url)
        print("generation \(m.generation): " + m.shards.map { String($0.images) }.joined(separator: " "))
    }
}

struct ShardsRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove images by path.")
    @OptionGroup var location: ShardManifestLocation
    @OptionGroup var modelOptions: ModelOptions
    @Argument(help: "Paths as indexed.") var paths: [String]

    func run() throws {
        let s = try ShardedIndex(manifest: location.url, modelPath: modelOptions.model)
        print("removed \(try s.remove(paths)) of \(paths.count)")
    }
}

struct ShardsStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats",
                                                    abstract: "The manifest: identity, generation, shards.")
    @OptionGroup var location: ShardManifestLocation

    func run() throws {
        let m = try ShardManifest.load(from: location.url)
        print("generation \(m.generation); \(m.identity)")
        print("vocabulary \(m.vocabularyURL(manifest: location.url).path)")
        for (i, s) in m.shards.enumerated() {
            let place = m.directory(of: i, manifest: location.url)?.path ?? s.url ?? ""
            print("shard \(i)\t\(s.images) images\t\(place)")
        }
        print("total \(m.shards.reduce(0) { $0 + $1.images }) images")
    }
}
