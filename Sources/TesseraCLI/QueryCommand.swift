import ArgumentParser
import Foundation
import TesseraCore
import TesseraEngine

extension RerankCombination: ExpressibleByArgument {}

/// Scoring flags shared by `query` and `bench`.
struct ScoringFlags: ParsableArguments {
    @Option(help: "Words per query descriptor (multiple assignment).") var ma = 3
    @Flag(help: "Plain BoW: no Hamming embedding (MOF eq. 3).") var noHe = false
    @Option(help: "Hamming threshold d_t (default 52 for 128 bits).") var hammingThreshold: Int?
    @Option(help: "Hamming weight σ (default 30 for 128 bits).") var sigma: Float?
    @Flag(help: "Spatially verify the top of the list (a Hough vote of patch matches) before the rerank.")
    var verify = false
    @Option(help: "Candidates spatially verified.") var verifyDepth = 100
    @Flag(help: "Do not rerank with the global descriptor.") var noRerank = false
    @Option(help: "Rerank depth K.") var rerankDepth = 100
    @Option(help: "Weight β of the global cosine when reranking.") var rerankBeta = RerankOptions().beta
    @Option(help: "How reranking combines the two scores: linear, min-max or rank (reciprocal rank fusion).")
    var rerankCombination: RerankCombination = RerankOptions().combination
    @Option(help: "The global descriptor's best N images join the reranked list (0 = the inverted file's only).")
    var rerankGlobal = RerankOptions().globalCandidates
    @Flag(help: "Equal layer weights in late fusion instead of query-adaptive ones (Zheng et al. 2015).")
    var equalFusion = false
    @Flag(help: "Rank by the global descriptor only (exhaustive cosine).") var globalOnly = false
    @Flag(help: "Do not PCA-whiten global descriptors (whitening is learned with the vocabulary).") var noWhiten = false
    @Option(help: "α-query expansion of the global descriptor over the top N results (0 = off).")
    var queryExpansion = 3
    @Option(help: "Database-side augmentation of global descriptors with N neighbours (0 = off).") var dba = 0

    func apply(to o: inout QueryOptions) {
        o.multipleAssignment = ma
        o.scoring.hammingEmbedding = !noHe
        o.scoring.hammingThreshold = hammingThreshold
        o.scoring.sigma = sigma
        o.verification = verify ? VerificationOptions(depth: verifyDepth) : nil
        o.rerank = !noRerank
        o.rerankOptions.beta = rerankBeta
        o.rerankOptions.combination = rerankCombination
        o.rerankOptions.depth = rerankDepth
        o.rerankOptions.globalCandidates = rerankGlobal
        if equalFusion { o.fusion = nil }
        o.globalOnly = globalOnly
        o.whiten = !noWhiten
        o.queryExpansion = queryExpansion
        o.databaseAugmentation = dba
    }
}

struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query", abstract: "Rank the indexed images for query images.",
        discussion: "With --shards, the shards of the manifest (directories opened here, or URLs of `tessera serve` "
            + "processes) are searched and merged into the ranking one index would give. A shard that fails or "
            + "misses --deadline-ms makes the answer partial: exit status 3 unless --allow-partial.")
    @Option(help: "Index directory.") var index: String?
    @Option(help: "A sharded index's manifest (shards.json) instead of --index.") var shards: String?
    @Option(help: "With --shards: milliseconds each round may wait for the shards.") var deadlineMs: Int?
    @Flag(help: "With --shards: print partial results (some shard did not answer) instead of failing.")
    var allowPartial = false
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var scoring: ScoringFlags
    @Option(help: "Vocabulary (default: the one the index was built with).") var vocab: String?
    @Option(help: "Results per query.") var top = 10
    @Option(help: "Layers to score, comma-separated keys (default: all).") var layers: String?
    @Flag(help: "JSON output for programs.") var json = false
    @Option(help: "Also write a self-contained HTML page with thumbnails.") var html: String?
    @Flag(help: "Per-query timing breakdown.") var verbose = false
    @Argument(help: "Query images.") var images: [String]

    func validate() throws {
        guard (index == nil) != (shards == nil) else { throw ValidationError("give one of --index and --shards") }
        if shards != nil && vocab != nil { throw ValidationError("--vocab: the manifest names the vocabulary") }
        if index != nil && (deadlineMs != nil || allowPartial) {
            throw ValidationError("--deadline-ms and --allow-partial apply to --shards")
        }
    }

    func run() throws {
        var o = QueryOptions()
        o.top = top
        scoring.apply(to: &o)
        let outcomes: [Result<QueryResult, QueryFailure>]
        if let shards {
            let coordinator = try ShardCoordinator.open(manifest: URL(fileURLWithPath: shards),
                                                        modelPath: modelOptions.model,
                                                        deadline: deadlineMs.map { Double($0) / 1000 })
            o.layers = try layerIndices(coordinator.vocabulary)
            outcomes = coordinator.query(images, options: o)
        } else {
            let idx = try SearchIndex(directory: URL(fileURLWithPath: index ?? ""),
                                      vocabulary: vocab.map { URL(fileURLWithPath: $0) },
                                      modelPath: modelOptions.model, readOnly: true)
            o.layers = try layerIndices(idx.vocabulary)
            outcomes = try idx.withPipeline(o, { $0.query(images) })
        }
        var results: [QueryResult] = []
        var failed = 0
        for outcome in outcomes {
            switch outcome {
            case .success(let r): results.append(r)
            case .failure(let failure): failed += 1; printError("skipped: \(failure)")
            }
        }
        if json {
            print(QueryReport.json(results))
        } else {
            for r in results { print(QueryReport.table(r, verbose: verbose)) }
        }
        if let html {
            try QueryReport.html(results, title: "Tessera query").write(toFile: html, atomically: true, encoding: .utf8)
            printError("wrote \(html)")
        }
        if let partial = results.first(where: { $0.coverage?.isPartial == true }), !allowPartial {
            printError("tessera: \(ShardError.partial(partial.coverage!)) (pass --allow-partial to accept it)")
            throw ExitCode(3)
        }
        if failed > 0 { throw ExitCode(1) }
    }

    /// `--layers` as indices into the vocabulary's layers (nil: all).
    private func layerIndices(_ vocabulary: Vocabulary) throws -> [Int]? {
        guard let layers else { return nil }
        let keys = vocabulary.layers.map { $0.key.description }
        return try layers.split(separator: ",").map { name in
            guard let i = keys.firstIndex(of: String(name)) else {
                throw ValidationError("layer \(name) is not in the vocabulary (\(keys.joined(separator: ", ")))")
            }
            return i
        }
    }
}
