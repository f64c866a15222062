import Evaluation
import Foundation
import GlobalDescriptors
import Quantizer
import TesseraCore

/// Which ground truth a benchmark uses.
public enum BenchmarkDataset: Sendable {
    case ukbench, holidays
    /// An explicit ground-truth file (format: see `GroundTruth.parse`).
    case custom(URL)

    public var name: String {
        switch self {
        case .ukbench: return "ukbench"
        case .holidays: return "holidays"
        case .custom(let u): return "custom:\(u.lastPathComponent)"
        }
    }

    /// The headline metric: NS-score for UKBench, mAP otherwise.
    public var metric: BenchmarkMetric { if case .ukbench = self { return .nsScore }; return .meanAveragePrecision }

    /// The ground truth over the collection's file names (`names`) or from the dataset's file.
    func groundTruth(names: [String]) throws -> GroundTruth {
        switch self {
        case .ukbench: return try GroundTruth.ukbench(fileNames: names)
        case .holidays: return try GroundTruth.holidays(fileNames: names)
        case .custom(let url): return try GroundTruth(contentsOf: url)
        }
    }
}

public struct BenchmarkOptions: Sendable {
    public var dataset: BenchmarkDataset
    /// The collection: indexed, and queried with its own images unless `queries` is set.
    public var images: String
    /// Query images kept out of the collection (a folder); their ground truth names collection images.
    public var queries: String?
    public var train: String
    public var modelPath: String?
    public var settings = EngineSettings()
    public var vocabulary = VocabularyBuildOptions()
    public var query = QueryOptions()
    /// Where features and vocabularies are cached between runs.
    public var cacheDirectory = AssetCache.file("bench")
    /// Report the full system reranked by every whitened global space under every combination.
    public var compareReranking = false
    public var showProgress = true
    public init(dataset: BenchmarkDataset, images: String, train: String) {
        self.dataset = dataset; self.images = images; self.train = train
    }
}

/// A finished benchmark: the report, the full system's top 10 paths per query name, and the
/// path of every image by name (collection and queries).
public struct BenchmarkRun {
    public var report: BenchmarkReport
    public var rankings: [String: [String]]
    public var paths: [String: String]
}

/// Runs a whole benchmark (METHOD.md §6): train a vocabulary (and whitening) on `train`, index
/// `images`, rank the collection for every query under each `RankingVariant`, evaluate each.
public final class Benchmark {
    public let options: BenchmarkOptions
    public init(options: BenchmarkOptions) { self.options = options }

    public func run() throws -> BenchmarkRun {
        let wall = Date()
        var timings: [String: Double] = [:]
        let network = try ModelLocator.loadNetwork(explicit: options.modelPath)
        let extractor = try FeatureExtractor(network: network, settings: options.settings)
        let rerankDescriptor = options.settings.global
        extractor.alsoDescribe = Self.comparedDescriptors.filter { $0 != rerankDescriptor }
        let cache = try FeatureCache(directory: options.cacheDirectory.appendingPathComponent("features"),
                                     extractor: extractor)

        // 1. Files and ground truth.
        let evalFiles = try Self.files(options.images)
        let trainFiles = try Self.files(options.train)
        let queryFiles = try options.queries.map(Self.files) ?? []
        let name = { (path: String) in URL(fileURLWithPath: path).lastPathComponent }
        let truth = try options.dataset.groundTruth(names: evalFiles.map(name))
        try Self.check(truth, collection: Set(evalFiles.map(name)),
                       queries: options.queries == nil ? nil : Set(queryFiles.map(name)))
        let overlap = Set(trainFiles).intersection(evalFiles + queryFiles)
        let trainingNote = "\(options.train) (\(trainFiles.count) images)"
            + (overlap.isEmpty ? "" : " — WARNING: \(overlap.count) evaluated images are in the training set")

        // 2. The training images' content hashes and global descriptors, then the vocabulary and
        //    whitening (cached by key). Their patch descriptors are read from the feature cache
        //    again only when the vocabulary is trained, so they are never all in memory at once.
        var t = Date()
        var trainHashes: [String: String] = [:]
        var trainGlobals: [GlobalDescriptorOptions: [[Float]]] = [:]
        let bar = ProgressBar("train   ", total: trainFiles.count, enabled: options.showProgress)
        for f in trainFiles {
            defer { bar.advance() }
            do {
                let x = try cache.features(f)
                trainHashes[f] = x.contentHash
                trainGlobals[rerankDescriptor, default: []].append(x.global)
                for (o, v) in x.otherGlobals { trainGlobals[o, default: []].append(v) }
            } catch {
                bar.message("skipped: \(error)")
            }
        }
        timings["train_features_s"] = Date().timeIntervalSince(t)
        t = Date()
        let vocabURL = try vocabulary(for: trainFiles, hashes: trainHashes, cache: cache, extractor: extractor)
        timings["vocabulary_s"] = Date().timeIntervalSince(t)

        // 3. Index the collection (a real LMDB index in a temporary directory).
        let indexDir = FileManager.default.temporaryDirectory
            .appendingPathComponent("tessera-bench-\(getpid())-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: indexDir) }
        t = Date()
        let evalFeatures = try extractAll(evalFiles, cache: cache, label: "images  ")
        let queryFeatures = try extractAll(queryFiles, cache: cache, label: "queries ")
        timings["index_features_s"] = Date().timeIntervalSince(t)
        let idx = try SearchIndex(directory: indexDir, vocabulary: vocabURL, modelPath: options.modelPath, create: true)
        idx.batchSize = 64
        let added = try idx.add(evalFiles, showProgress: false, features: { p in
            guard let x = evalFeatures[p] else { throw EngineError.invalidInput("\(p): unreadable") }
            return x
        })
        timings["index_quantize_s"] = added.quantizeSeconds
        timings["index_write_s"] = added.writeSeconds
        let cnnSeconds = evalFeatures.values.reduce(0) { $0 + $1.networkSeconds + $1.decodeSeconds }
        if cache.misses > 0 {
            timings["index_images_per_s"] = Double(evalFiles.count)
                / (cnnSeconds + added.quantizeSeconds + added.writeSeconds)
        }

        // 4. Rank under every variant. Each pooling's whitenings are learned on the training set
        //    (for the reranking descriptor this repeats the vocabulary's own, on the same rows).
        var whitenings: [GlobalDescriptorOptions: [GlobalWhitening: PCAWhitening]] = [:]
        for p in [rerankDescriptor] + extractor.alsoDescribe {
            guard let rows = trainGlobals[p], rows.count > 1 else { continue }
            let training = Matrix(rows: rows.count, cols: rows[0].count, data: rows.flatMap { $0 })
            for w in GlobalWhitening.allCases {
                if let o = w.options {
                    whitenings[p, default: [:]][w] = try PCAWhitening.learn(from: training, options: o)
                }
            }
        }
        var rankings: [RankingVariant: [String: [String]]] = [:]     // variant → query → ranked names
        var fullTop: [String: [String]] = [:]
        var stageTimes = BenchmarkRanker.Timings()
        var variants: [RankingVariant] = []
        let layerNames = idx.vocabulary.layers.map { $0.key.description }
        try idx.withPipeline(options.query) { pipeline in
            let ranker = try self.ranker(pipeline, features: evalFeatures, whitenings: whitenings,
                                         rerankDescriptor: rerankDescriptor, vocabularyWhitening: idx.whitening)
            variants = ranker.variants(layerCount: layerNames.count)
            let nameOf = pipeline.paths.map { $0.map(name) }
            let queries: [(name: String, features: ExtractedImage)] = options.queries == nil
                ? pipeline.paths.compactMap { $0 }.compactMap { p in evalFeatures[p].map { (name(p), $0) } }
                : queryFiles.compactMap { p in queryFeatures[p].map { (name(p), $0) } }
            let wanted = Set(truth.queries.map(\.name))
            let bar = ProgressBar("queries ", total: wanted.count, enabled: options.showProgress)
            for q in queries where wanted.contains(q.name) {
                let ranked = try ranker.rankings(q.features, variants: variants, timings: &stageTimes)
                for (variant, ids) in ranked { rankings[variant, default: [:]][q.name] = ids.map { nameOf[Int($0)]! } }
                fullTop[q.name] = ranked[.full]?.prefix(10).map { pipeline.paths[Int($0)]! }
                bar.advance()
            }
        }
        let nq = Double(max(truth.queries.count, 1))
        timings["query_assignment_ms"] = 1000 * stageTimes.assignment / nq
        timings["query_scan_ms"] = 1000 * stageTimes.scan / nq
        timings["query_rerank_ms"] = 1000 * stageTimes.rerank / nq
        let cnnPerImage = evalFeatures.values.map { $0.networkSeconds + $0.decodeSeconds }.filter { $0 > 0 }
        if !cnnPerImage.isEmpty {
            timings["query_decode_cnn_ms"] = 1000 * cnnPerImage.reduce(0, +) / Double(cnnPerImage.count)
        }
        timings["total_s"] = Date().timeIntervalSince(wall)
        timings["feature_cache_hits"] = Double(cache.hits)

        // 5. Evaluate.
        let metric = options.dataset.metric
        var scores: [RankingVariant: Double] = [:]
        for (variant, r) in rankings { scores[variant] = metric.value(truth.evaluate { r[$0] ?? [] }) }
        let full = rankings[.full] ?? [:]
        let report = BenchmarkReport(
            dataset: options.dataset.name, metric: metric, score: scores[.full] ?? 0, variants: scores,
            layerNames: layerNames, timings: timings, peakMemoryMiB: Self.peakMemoryMiB(), images: evalFiles.count,
            queries: truth.queries.count, trainingSet: trainingNote,
            vocabulary: idx.vocabulary.layers.map { l in
                "\(l.key): \(l.words) words, PCA \(l.pca.map { "\($0.inputDim)→\($0.outputDim)" } ?? "none"), "
                    + "HE \(l.hamming.bits) bits"
            },
            settings: options.settings.json(), date: ISO8601DateFormatter().string(from: Date()),
            recallPrecision: Self.recallPrecision(truth, full), worstQueries: Self.worst(truth, full, metric: metric))
        var pathOf: [String: String] = [:]
        for p in evalFiles + queryFiles { pathOf[name(p)] = p }
        return BenchmarkRun(report: report, rankings: fullTop, paths: pathOf)
    }

    /// The ranker of this run: the pipeline, the other whitening choice of the reranking
    /// descriptor, and each pooling's spaces, from the collection's cached features.
    func ranker(_ pipeline: SearchPipeline, features: [String: ExtractedImage],
                whitenings: [GlobalDescriptorOptions: [GlobalWhitening: PCAWhitening]],
                rerankDescriptor: GlobalDescriptorOptions,
                vocabularyWhitening: PCAWhitening?) throws -> BenchmarkRanker {
        let bound = pipeline.imageBound
        func rows(_ p: GlobalDescriptorOptions) -> [(id: ImageID, descriptor: [Float])] {
            pipeline.paths.enumerated().compactMap { id, path in
                guard let path, let f = features[path] else { return nil }
                return (ImageID(id), p == rerankDescriptor ? f.global : (f.otherGlobals[p] ?? []))
            }
        }
        var spaces: [GlobalDescriptorOptions: [GlobalWhitening: GlobalSpace]] = [:]
        let described = Set(features.values.flatMap(\.otherGlobals.keys)).union([rerankDescriptor])
        for p in described {
            let r = rows(p)
            guard r.contains(where: { !$0.descriptor.isEmpty }) else { continue }
            spaces[p] = [.none: try GlobalSpace(rows: r, bound: bound, whitening: nil)]
            for (w, whitening) in whitenings[p] ?? [:] {
                spaces[p]![w] = try GlobalSpace(rows: r, bound: bound, whitening: whitening)
            }
        }
        let whitened = pipeline.global.whitening != nil
        let other = try vocabularyWhitening.map { w in
            (whitened: !whitened, space: try GlobalSpace(rows: rows(rerankDescriptor), bound: bound,
                                                         whitening: whitened ? nil : w,
                                                         databaseAugmentation: options.query.databaseAugmentation))
        }
        return BenchmarkRanker(pipeline: pipeline, rerankDescriptor: rerankDescriptor, otherWhitening: other,
                               globalSpaces: spaces, compareReranking: options.compareReranking)
    }

    /// The global descriptors every run compares: each pooling of the head at one scale, and
    /// multi-scale R-MAC of the head, of block 11 and of both.
    public static let comparedDescriptors: [GlobalDescriptorOptions] =
        GlobalPooling.allCases.map { GlobalDescriptorOptions(pooling: $0, extraScales: []) }
        + GlobalSource.allCases.map { GlobalDescriptorOptions(pooling: .rmac, source: $0) }

    /// JPEG files under a folder, or an error naming it when there are none.
    static func files(_ folder: String) throws -> [String] {
        let files = ImageFiles.collect([folder])
        guard !files.isEmpty else { throw EngineError.invalidInput("no JPEG files under \(folder)") }
        return files
    }

    /// Every query of `truth` must be an image of the collection (or of `queries` when the
    /// queries are apart), and every relevant image one of the collection.
    static func check(_ truth: GroundTruth, collection: Set<String>, queries: Set<String>?) throws {
        for q in truth.queries {
            guard (queries ?? collection).contains(q.name) else {
                throw EngineError.invalidInput("ground truth: query \(q.name) is not among the "
                                               + (queries == nil ? "collection's" : "query") + " images")
            }
            if let missing = q.relevant.first(where: { !collection.contains($0) }) {
                throw EngineError.invalidInput(
                    "ground truth: \(missing), relevant to \(q.name), is not in the collection")
            }
        }
    }

    /// Full-system recall@k and precision@k (k = 1, 4, 10), the query left out of its ranking.
    static func recallPrecision(_ truth: GroundTruth, _ full: [String: [String]]) -> [String: Double] {
        var out: [String: Double] = [:]
        let n = Double(max(truth.queries.count, 1))
        for k in [1, 4, 10] {
            var recall = 0.0, precision = 0.0
            for q in truth.queries {
                let r = (full[q.name] ?? []).filter { $0 != q.name }
                recall += RetrievalMetrics.recall(at: k, ranking: r, relevant: q.relevant)
                precision += RetrievalMetrics.precision(at: k, ranking: r, relevant: q.relevant)
            }
            out["recall@\(k)"] = recall / n
            out["precision@\(k)"] = precision / n
        }
        return out
    }

    /// The eight worst queries of the full system under `metric` (AP, or NS hits).
    static func worst(_ truth: GroundTruth, _ full: [String: [String]], metric: BenchmarkMetric) -> [QuerySummary] {
        let e = truth.evaluate { full[$0] ?? [] }
        let perQuery = zip(truth.queries, e.averagePrecisions).map { q, ap -> QuerySummary in
            let score = metric == .nsScore
                ? Double(RetrievalMetrics.nsHits(ranking: full[q.name] ?? [], group: q.relevant.union([q.name])))
                : ap ?? 1
            return QuerySummary(name: q.name, score: score, relevant: q.relevant.sorted())
        }
        return Array(perQuery.sorted { $0.score < $1.score }.prefix(8))
    }

    func extractAll(_ files: [String], cache: FeatureCache, label: String) throws -> [String: ExtractedImage] {
        var out: [String: ExtractedImage] = [:]
        let bar = ProgressBar(label, total: files.count, enabled: options.showProgress && !files.isEmpty)
        for f in files {
            do { out[f] = try cache.features(f) } catch { bar.message("skipped: \(error)") }
            bar.advance()
        }
        return out
    }

    /// Trains (or reuses) the vocabulary for these training features; cached under a key of
    /// everything that affects it.
    func vocabulary(for files: [String], hashes: [String: String], cache: FeatureCache,
                    extractor: FeatureExtractor) throws -> URL {
        let t = options.vocabulary.train
        let keyText = "\(extractor.identity) files=\(files.joined(separator: "|")) "
            + "hashes=\(files.compactMap { hashes[$0] }.joined()) words=\(t.words) "
            + "minPerWord=\(t.minDescriptorsPerWord) pca=\(t.pcaDims) it=\(t.iterations) seed=\(t.seed) he=\(t.heBits) "
            + "searcher=\(t.searcher) perImage=\(options.vocabulary.maxDescriptorsPerImage) "
            + "max=\(options.vocabulary.maxDescriptors)"
            + (options.vocabulary.whitening == WhiteningOptions() ? "" : " whitening=\(options.vocabulary.whitening)")
        let dir = options.cacheDirectory.appendingPathComponent("vocabularies")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(SHA256.hex(Array(keyText.utf8)).prefix(24) + ".vocab")
        // Only this code writes the cache, and never over a pair: a vocabulary with its
        // whitening still staged beside it is a run killed between the two files, trained again.
        let fm = FileManager.default
        if fm.fileExists(atPath: url.path), !fm.fileExists(atPath: BuiltVocabulary.stagedWhiteningURL(for: url).path) {
            return url
        }
        let built = try VocabularyBuilder.build(images: files, folderDescription: options.train, extractor: extractor,
                                                options: options.vocabulary, showProgress: options.showProgress,
                                                features: { p in
                                                    guard hashes[p] != nil else {
                                                        throw EngineError.invalidInput("\(p): unreadable")
                                                    }
                                                    return try cache.features(p)
                                                })
        try built.write(to: url)
        return url
    }

    /// Peak resident set size of this process (VmHWM), in MiB; −1 where /proc is missing.
    public static func peakMemoryMiB() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return -1 }
        return (Int(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "0") ?? 0) / 1024
    }
}
