import Evaluation
import Foundation
import Fusion
import GlobalDescriptors
import TesseraCore

/// The headline metric of a benchmark (METHOD.md §6).
public enum BenchmarkMetric: String, Codable, Sendable {
    /// UKBench: mean hits of the query's group in the top 4, the query included (4 is perfect).
    case nsScore = "ns-score"
    /// Holidays and ground-truth files: mean average precision, the query excluded.
    case meanAveragePrecision = "mAP"

    /// This metric's value in an evaluation.
    public func value(_ e: EvaluationReport) -> Double {
        switch self { case .nsScore: return e.nsScore; case .meanAveragePrecision: return e.meanAveragePrecision }
    }
}

/// How the late fusion of an inverted-file variant weights its layers.
public enum FusionKind: Hashable, Sendable {
    case equalWeights, queryAdaptive

    /// The rule of this kind for `layers` layers (query-adaptive over the top 100, as the default).
    func rule(layers: Int) -> FusionRule {
        switch self {
        case .equalWeights: return LateFusion.equalWeights(layers)
        case .queryAdaptive: return .queryAdaptive(topM: 100)
        }
    }
}

/// The whitening of a global-only variant, learned on the training set in the benchmark.
public enum GlobalWhitening: Hashable, Sendable, CaseIterable {
    /// Descriptors compared as extracted.
    case none
    /// PCA-whitening of the sample covariance.
    case sample
    /// PCA-whitening of the Ledoit–Wolf shrunk covariance (`WhiteningShrinkage.ledoitWolf`).
    case shrunk

    var suffix: String {
        switch self {
        case .none: return ""
        case .sample: return " + whiten"
        case .shrunk: return " + whiten (shrunk)"
        }
    }

    var options: WhiteningOptions? {
        switch self {
        case .none: return nil
        case .sample: return WhiteningOptions()
        case .shrunk: return WhiteningOptions(shrinkage: .ledoitWolf)
        }
    }
}

/// One way of ranking the collection for a query, each composed from `SearchPipeline`'s stages
/// (`BenchmarkRanker`). The benchmark reports a score per variant.
public enum RankingVariant: Hashable, Sendable {
    /// The full system as configured: the inverted file fused, reranked by the global descriptor.
    case full
    /// The full system with the global descriptors compared whitened (true) or not (false):
    /// whichever of the two the configuration does not use.
    case fullWhitened(Bool)
    /// The inverted file alone: BoW+HE (or plain BoW) over `layers`, fused by `fusion` (nil
    /// for a single layer, which needs no fusion).
    case invertedFile(hammingEmbedding: Bool, layers: [Int], fusion: FusionKind?)
    /// The inverted file fused as configured, its top spatially verified (`SearchPipeline.verify`,
    /// default `VerificationOptions`), then reranked (`rerank` true) or not.
    case verified(rerank: Bool)
    /// Plain BoW over all layers, fused as configured, reranked without αQE.
    case bowReranked
    /// A global descriptor alone (exhaustive cosine), whitened or not, expanded by αQE or not.
    case global(GlobalDescriptorOptions, whitening: GlobalWhitening, queryExpansion: Bool)
    /// The full system's inverted-file list reranked (with αQE as configured) by another global
    /// descriptor, whitening or combination rule (`tessera bench --compare-reranking`).
    case reranked(GlobalDescriptorOptions, whitening: GlobalWhitening, combination: RerankCombination)

    /// Whether this variant ranks by a global descriptor alone.
    public var isGlobalOnly: Bool { if case .global = self { return true }; return false }

    /// The variant's name in reports; `layerNames` are the vocabulary's layer keys.
    public func name(layerNames: [String]) -> String {
        switch self {
        case .full: return "full: BoW+HE fused + rerank"
        case .fullWhitened(let w): return "BoW+HE fused + rerank " + (w ? "(whitened)" : "(unwhitened)")
        case let .invertedFile(he, layers, fusion):
            let prefix = he ? "BoW+HE" : "BoW"
            guard let fusion, layers.count == layerNames.count else {
                return prefix + " " + layers.map { $0 < layerNames.count ? layerNames[$0] : "layer \($0)" }
                    .joined(separator: " + ")
            }
            return prefix + (fusion == .equalWeights ? " fused (equal weights)" : " fused (query-adaptive)")
        case .verified(let rerank): return "BoW+HE fused + verification" + (rerank ? " + rerank" : "")
        case .bowReranked: return "BoW fused + rerank (no αQE)"
        case let .global(g, whitening, qe):
            return "global \(g.name)" + whitening.suffix + (qe ? " + αQE" : "")
        case let .reranked(g, whitening, combination):
            return "BoW+HE fused + rerank by \(g.name)" + whitening.suffix + " (\(combination.rawValue))"
        }
    }
}

/// A query of the full system with its score, for the report's worst-queries page.
public struct QuerySummary: Codable, Sendable {
    public var name: String
    public var score: Double
    /// The images relevant to it (ground truth), by name.
    public var relevant: [String]
}

/// The report of one benchmark run (also written as JSON).
public struct BenchmarkReport: Encodable, Sendable {
    public var dataset: String
    public var metric: BenchmarkMetric
    /// The full system's score (`RankingVariant.full`); mAP as a fraction.
    public var score: Double
    /// Every variant's score under the same metric.
    public var variants: [RankingVariant: Double]
    /// The vocabulary's layer keys, which name the variants.
    public var layerNames: [String]
    /// Seconds (and rates) per stage.
    public var timings: [String: Double]
    public var peakMemoryMiB: Int
    public var images: Int
    public var queries: Int
    public var trainingSet: String
    public var vocabulary: [String]
    public var settings: String
    public var date: String
    /// The OpenBLAS kernel the run used (`BLASCore.summary`): SGEMM speed depends on it.
    public var blasKernel: String = BLASCore.summary
    /// Full-system recall@k and precision@k (k = 1, 4, 10); precision@1 is top-1 accuracy.
    public var recallPrecision: [String: Double]
    /// Queries of the full system, worst first.
    public var worstQueries: [QuerySummary]

    /// The best global-only variant of this run and its score.
    public var bestGlobal: (variant: RankingVariant, score: Double)? {
        variants.filter { $0.key.isGlobalOnly }
            .max { $0.value != $1.value ? $0.value < $1.value : name($0.key) > name($1.key) }
            .map { ($0.key, $0.value) }
    }

    /// A variant's name in this report.
    public func name(_ v: RankingVariant) -> String { v.name(layerNames: layerNames) }

    /// Variants by name, sorted by name.
    public var namedVariants: [(name: String, score: Double)] {
        variants.map { (name($0.key), $0.value) }.sorted { $0.name < $1.name }
    }

    enum CodingKeys: String, CodingKey {
        case dataset, metric, score, variants, timings, peakMemoryMiB, images, queries, trainingSet, vocabulary
        case settings, date, recallPrecision, worstQueries, bestGlobalVariant, bestGlobalScore
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(dataset, forKey: .dataset)
        try c.encode(metric, forKey: .metric)
        try c.encode(score, forKey: .score)
        try c.encode(Dictionary(uniqueKeysWithValues: namedVariants.map { ($0.name, $0.score) }), forKey: .variants)
        try c.encode(timings, forKey: .timings)
        try c.encode(peakMemoryMiB, forKey: .peakMemoryMiB)
        try c.encode(images, forKey: .images)
        try c.encode(queries, forKey: .queries)
        try c.encode(trainingSet, forKey: .trainingSet)
        try c.encode(vocabulary, forKey: .vocabulary)
        try c.encode(settings, forKey: .settings)
        try c.encode(date, forKey: .date)
        try c.encode(recallPrecision, forKey: .recallPrecision)
        try c.encode(worstQueries, forKey: .worstQueries)
        if let best = bestGlobal {
            try c.encode(name(best.variant), forKey: .bestGlobalVariant)
            try c.encode(best.score, forKey: .bestGlobalScore)
        }
    }
}
