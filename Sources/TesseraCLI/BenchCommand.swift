import ArgumentParser
import Foundation
import TesseraEngine

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "End-to-end benchmarks: train, index, query, evaluate, time.",
        subcommands: [BenchUKBench.self, BenchHolidays.self, BenchCustom.self])
}

/// Everything a benchmark run takes besides its dataset.
struct BenchFlags: ParsableArguments {
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var patch: PatchFlags
    @OptionGroup var scoring: ScoringFlags
    @Option(help: "Images to index (folder); also the queries unless --queries is given.") var images: String
    @Option(help: "Training images for the vocabulary and whitening (folder, disjoint from --images).")
    var train: String
    @OptionGroup var vocabulary: VocabularyFlags
    @Option(help: "Write the report as JSON.") var json: String?
    @Option(help: "Write an HTML page: the table and the worst queries with their results.") var html: String?
    @Flag(help: "Also report the full system reranked by every whitened global descriptor under every combination.")
    var compareReranking = false
    @Flag(help: "No progress bars.") var quiet = false

    func options(_ dataset: BenchmarkDataset, queries: String? = nil) throws -> BenchmarkOptions {
        var o = BenchmarkOptions(dataset: dataset, images: images, train: train)
        o.queries = queries
        o.modelPath = modelOptions.model
        o.settings.patch = try patch.options()
        o.settings.global = try vocabulary.globalOptions()
        o.settings.multiScalePatches = vocabulary.multiScalePatches
        o.vocabulary = vocabulary.buildOptions()
        scoring.apply(to: &o.query)
        o.compareReranking = compareReranking
        o.showProgress = !quiet
        return o
    }

    func run(_ dataset: BenchmarkDataset, queries: String? = nil) throws {
        let run = try Benchmark(options: try options(dataset, queries: queries)).run()
        print(BenchmarkFormatter.text(run.report))
        if let json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            try e.encode(run.report).write(to: URL(fileURLWithPath: json))
        }
        if let html {
            try BenchmarkFormatter.html(run).write(toFile: html, atomically: true, encoding: .utf8)
        }
    }
}

struct BenchUKBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ukbench", abstract: "UKBench NS-score (groups of 4 consecutive ukbenchNNNNN.jpg).")
    @OptionGroup var flags: BenchFlags
    func run() throws { try flags.run(.ukbench) }
}

struct BenchHolidays: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "holidays", abstract: "INRIA Holidays mAP (series = id / 100, query = id % 100 == 0).")
    @OptionGroup var flags: BenchFlags
    func run() throws { try flags.run(.holidays) }
}

struct BenchCustom: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "custom",
        abstract: "mAP, top-1 and recall@k on any collection with a ground-truth file (query<TAB>relevant<TAB>...).",
        discussion: "Without --queries the queries are images of the collection; with it they are kept apart "
            + "(objects in clutter against clean references) and the ground truth names collection images.")
    @OptionGroup var flags: BenchFlags
    @Option(help: "Ground-truth file.") var groundTruth: String
    @Option(help: "Query images kept out of the collection (folder).") var queries: String?
    func run() throws { try flags.run(.custom(URL(fileURLWithPath: groundTruth)), queries: queries) }
}
