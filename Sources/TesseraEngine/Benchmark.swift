import Evaluation
import Foundation
import Fusion
import Quantizer
import TesseraCore

/// Which ground truth a benchmark uses.
public enum BenchmarkDataset: Sendable {
    case ukbench, holidays
    /// An explicit ground-truth file (format: see `GroundTruth.parse`).
    case custom(URL)

    public var name: String {
        switch self { case .ukbench: return "ukbench"; case .holidays: return "holidays"; case .custom(let u): return "custom:\(u.lastPathComponent)" }
    }
    /// The headline metric: NS-score for UKBench, mAP otherwise.
    public var metric: String { if case .ukbench = self { return "ns-score" }; return "mAP" }
}

public struct BenchmarkOptions: Sendable {
    public var dataset: BenchmarkDataset
    public var images: String
    public var train: String
    public var modelPath: String?
    public var settings = EngineSettings()
    public var vocabulary = VocabularyBuildOptions()
    public var query = QueryOptions()
    /// Where features and vocabularies are cached between runs.
    public var cacheDirectory = AssetCache.file("bench")
    public var showProgress = true
    public init(dataset: BenchmarkDataset, images: String, train: String) {
        self.dataset = dataset; self.images = images; self.train = train
    }
}

/// The report of one benchmark run (also written as JSON).
public struct BenchmarkReport: Codable, Sendable {
    public var dataset: String
    public var metric: String
    /// The full system's score (BoW+HE over all layers, fused, reranked); mAP as a fraction.
    public var score: Double
    /// Every variant's score under the same metric.
    public var variants: [String: Double]
    /// Seconds (and rates) per stage.
    public var timings: [String: Double]
    public var peakMemoryMiB: Int
    public var images: Int
    public var queries: Int
    public var trainingSet: String
    public var vocabulary: [String]
    public var settings: String
    public var date: String
    /// Full-system recall@k and precision@k (k = 1, 4, 10).
    public var recallPrecision: [String: Double]
    /// Queries of the full system, worst first: (query, score) — for the HTML page.
    public var worstQueries: [String]
}

/// Runs a whole benchmark: train a vocabulary (and whitening) on `train`, index `images`,
/// query every query image under several scoring variants, evaluate each (METHOD.md §6).
public final class Benchmark {
    public let options: BenchmarkOptions
    public init(options: BenchmarkOptions) { self.options = options }

    public func run() throws -> (report: BenchmarkReport, rankings: [String: [String]], paths: [String: String]) {
        let wall = Date()
        var timings: [String: Double] = [:]
        let network = try ModelLocator.loadNetwork(explicit: options.modelPath)
        let extractor = try FeatureExtractor(network: network, patchOptions: options.settings.patch, global: options.settings.global)
        extractor.alsoPool = GlobalPooling.allCases.filter { $0 != options.settings.global.pooling }
        let cache = try FeatureCache(directory: options.cacheDirectory.appendingPathComponent("features"), extractor: extractor)

        // 1. Ground truth and files.
        let evalFiles = ImageFiles.collect([options.images])
        let trainFiles = ImageFiles.collect([options.train])
        guard !evalFiles.isEmpty else { throw EngineError.invalidInput("no JPEG files under \(options.images)") }
        guard !trainFiles.isEmpty else { throw EngineError.invalidInput("no JPEG files under \(options.train)") }
        let names = evalFiles.map { URL(fileURLWithPath: $0).lastPathComponent }
        let truth: GroundTruth
        switch options.dataset {
        case .ukbench: truth = try GroundTruth.ukbench(fileNames: names)
        case .holidays: truth = try GroundTruth.holidays(fileNames: names)
        case .custom(let url): truth = try GroundTruth(contentsOf: url)
        }
        let overlap = Set(trainFiles.map { URL(fileURLWithPath: $0).standardizedFileURL.path }).intersection(evalFiles)
        let trainingNote = "\(options.train) (\(trainFiles.count) images)" + (overlap.isEmpty ? "" : " — WARNING: \(overlap.count) evaluated images are in the training set")

        // 2. Features of the training images, vocabulary and whitening (cached by key).
        var t = Date()
        let trainFeatures = try extractAll(trainFiles, cache: cache, label: "train   ")
        timings["train_features_s"] = Date().timeIntervalSince(t)
        t = Date()
        let vocabURL = try vocabulary(for: trainFiles, features: trainFeatures, extractor: extractor)
        timings["vocabulary_s"] = Date().timeIntervalSince(t)
        let vocab = try Vocabulary.load(from: vocabURL, expectedModelSHA256: network.weightsSHA256)
        var whitenings: [GlobalPooling: PCAWhitening] = [:]
        for p in GlobalPooling.allCases where p != options.settings.global.pooling {
            let rows = trainFiles.compactMap { trainFeatures[$0]?.otherGlobals[p] }
            guard rows.count > 1 else { continue }
            whitenings[p] = try PCAWhitening.learn(from: Matrix(rows: rows.count, cols: rows[0].count, data: rows.flatMap { $0 }))
        }

        // 3. Index the evaluated images (real LMDB index in a temporary directory).
        let indexDir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bench-\(getpid())-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: indexDir) }
        t = Date()
        let evalFeatures = try extractAll(evalFiles, cache: cache, label: "images  ")
        timings["index_features_s"] = Date().timeIntervalSince(t)
        let idx = try SearchIndex(directory: indexDir, vocabulary: vocabURL, modelPath: options.modelPath, create: true)
        whitenings[options.settings.global.pooling] = idx.whitening
        idx.batchSize = 64
        let added = try idx.add(evalFiles, showProgress: false, features: { p in
            guard let x = evalFeatures[p] else { throw EngineError.invalidInput("\(p): unreadable") }
            return x
        })
        timings["index_quantize_s"] = added.quantizeSeconds
        timings["index_write_s"] = added.writeSeconds
        let cnnSeconds = evalFeatures.values.reduce(0) { $0 + $1.networkSeconds + $1.decodeSeconds }
        if cache.misses > 0 {
            timings["index_images_per_s"] = Double(evalFiles.count) / (cnnSeconds + added.quantizeSeconds + added.writeSeconds)
        }

        // 4. Queries under every variant.
        var rankings: [String: [String: [String]]] = [:]       // variant → query name → ranking
        var fullRankingPaths: [String: [String]] = [:]
        var queryTimes = QueryTimings()
        let queryNames = Set(truth.queries.map(\.name))
        try idx.withSearchContext { ctx, _ in
            // The index's own whitening (the vocabulary's sidecar) for the reranking descriptor, so
            // query and database are whitened by the very same transform.
            let searcher = Searcher(vocabulary: vocab, whitening: idx.whitening)
            let nameOf = ctx.paths.map { $0.map { URL(fileURLWithPath: $0).lastPathComponent } }
            func ranking(_ s: [Float]) -> [Int] {
                let ids = (0..<s.count).filter { nameOf[$0] != nil }
                return ids.sorted { s[$0] != s[$1] ? s[$0] > s[$1] : $0 < $1 }
            }
            func record(_ variant: String, _ q: String, _ order: [Int]) {
                rankings[variant, default: [:]][q] = order.map { nameOf[$0]! }
            }
            // Global descriptors of the database for every pooling, whitened or not.
            var globalDB: [String: Matrix] = [:]
            for p in GlobalPooling.allCases {
                var raw = Matrix(rows: ctx.imageBound, cols: 0)
                for (id, path) in ctx.paths.enumerated() {
                    guard let path, let f = evalFeatures[path] else { continue }
                    let v = p == options.settings.global.pooling ? f.global : (f.otherGlobals[p] ?? [])
                    if raw.cols == 0 { raw = Matrix(rows: ctx.imageBound, cols: v.count) }
                    for c in 0..<v.count { raw[id, c] = v[c] }
                }
                globalDB[p.rawValue] = raw
                if let w = whitenings[p] { globalDB[p.rawValue + "+whiten"] = try w.apply(rows: raw) }
            }
            // Database-side augmentation of the reranking descriptor (raw and whitened), when asked.
            let dbaN = options.query.databaseAugmentation
            let dbaSuffix = dbaN > 0 ? "+dba" : ""
            if dbaN > 0 {
                let p = options.settings.global.pooling.rawValue
                for key in [p, p + "+whiten"] { if let m = globalDB[key] { globalDB[key + "+dba"] = GlobalSearch.databaseAugmentation(m, n: dbaN) } }
            }
            let bar = ProgressBar("queries ", total: queryNames.count, enabled: options.showProgress)
            let layerNames = vocab.layers.map { $0.key.description }
            var bowOptions = options.query
            bowOptions.scoring = ScoringOptions(hammingEmbedding: false, burstiness: options.query.scoring.burstiness)
            for (id, path) in ctx.paths.enumerated() {
                guard let path, let q = nameOf[id], queryNames.contains(q), let x = evalFeatures[path] else { continue }
                var t0 = Date()
                let quantized = try searcher.quantize(x, options: options.query)
                queryTimes.assignment += Date().timeIntervalSince(t0)
                t0 = Date()
                var postings = 0
                let he = try searcher.layerScores(quantized, context: ctx, options: options.query, postings: &postings)
                // Both fusion rules are reported; the configured one is not computed a third time.
                let equalRule = LateFusion.equalWeights(he.count), adaptiveRule = FusionRule.queryAdaptive(topM: 100)
                let equal = try LateFusion.fuse(he, rule: equalRule).scores
                let adaptive = try LateFusion.fuse(he, rule: adaptiveRule).scores
                let rule = options.query.fusion ?? equalRule
                let fused = rule == equalRule ? equal : rule == adaptiveRule ? adaptive : try LateFusion.fuse(he, rule: rule).scores
                let fusedOrder = ranking(fused)
                queryTimes.scan += Date().timeIntervalSince(t0)
                // Full system: fused BoW+HE, top K reranked by the (whitened) global descriptor.
                t0 = Date()
                let pooling = options.settings.global.pooling.rawValue
                let whiten = options.query.whiten && globalDB[pooling + "+whiten"] != nil
                let g = whiten ? try idx.whitening!.apply(x.global) : x.global
                let db = globalDB[whiten ? pooling + "+whiten" + dbaSuffix : pooling + dbaSuffix]!
                let list = fusedOrder.map { (ImageID($0), fused[$0]) }
                let reranked = try searcher.rerank(list, query: g, database: db, options: options.query)
                queryTimes.rerank += Date().timeIntervalSince(t0)
                record("full: BoW+HE fused + rerank", q, reranked.map { Int($0.0) })
                if let w = idx.whitening {   // the other choice of whitening, for comparison
                    let (g2, db2) = whiten ? (x.global, globalDB[pooling + dbaSuffix]!) : (try w.apply(x.global), globalDB[pooling + "+whiten" + dbaSuffix]!)
                    let other = try searcher.rerank(list, query: g2, database: db2, options: options.query)
                    record("BoW+HE fused + rerank " + (whiten ? "(unwhitened)" : "(whitened)"), q, other.map { Int($0.0) })
                }
                record("BoW+HE fused (equal weights)", q, ranking(equal))
                for (l, s) in he.enumerated() { record("BoW+HE \(layerNames[l])", q, ranking(s)) }
                record("BoW+HE fused (query-adaptive)", q, ranking(adaptive))
                // MOF Table 1: each pair of the three layers, equal weights.
                func recordPairs(_ prefix: String, _ layers: [[Float]]) throws {
                    guard layers.count == 3 else { return }
                    for combo in [[0, 1], [0, 2], [1, 2]] {
                        let s = try LateFusion.fuse(combo.map { layers[$0] }, rule: LateFusion.equalWeights(2)).scores
                        record(prefix + " " + combo.map { layerNames[$0] }.joined(separator: " + "), q, ranking(s))
                    }
                }
                try recordPairs("BoW+HE", he)
                var ignored = 0
                let bow = try searcher.layerScores(quantized, context: ctx, options: bowOptions, postings: &ignored)
                for (l, s) in bow.enumerated() { record("BoW \(layerNames[l])", q, ranking(s)) }
                try recordPairs("BoW", bow)
                let bowFused = try LateFusion.fuse(bow, rule: options.query.fusion ?? LateFusion.equalWeights(bow.count)).scores
                record("BoW fused", q, ranking(bowFused))
                let bowList = ranking(bowFused).map { (ImageID($0), bowFused[$0]) }
                record("BoW fused + rerank", q, try Reranker.rerank(bowList, query: g, database: db, options: options.query.rerankOptions).map { Int($0.0) })
                // Global descriptors alone.
                for p in GlobalPooling.allCases {
                    let raw = p == options.settings.global.pooling ? x.global : (x.otherGlobals[p] ?? [])
                    guard !raw.isEmpty, let m = globalDB[p.rawValue] else { continue }
                    record("global \(p.rawValue)", q, ranking(try GlobalSearch.cosines(query: raw, database: m)))
                    if let w = whitenings[p], let mw = globalDB[p.rawValue + "+whiten"] {
                        let qw = try w.apply(raw)
                        let cos = try GlobalSearch.cosines(query: qw, database: mw)
                        record("global \(p.rawValue) + whiten", q, ranking(cos))
                        let first = ranking(cos).prefix(3).map { (ImageID($0), cos[$0]) }
                        let qe = try GlobalSearch.alphaQueryExpansion(query: qw, neighbours: Array(first), database: mw, n: 3)
                        record("global \(p.rawValue) + whiten + αQE", q, ranking(try GlobalSearch.cosines(query: qe, database: mw)))
                    }
                }
                fullRankingPaths[q] = reranked.prefix(10).map { ctx.paths[Int($0.0)]! }
                bar.advance()
            }
        }
        let nq = Double(max(queryNames.count, 1))
        timings["query_assignment_ms"] = 1000 * queryTimes.assignment / nq
        timings["query_scan_ms"] = 1000 * queryTimes.scan / nq
        timings["query_rerank_ms"] = 1000 * queryTimes.rerank / nq
        let cnnPerImage = evalFeatures.values.map { $0.networkSeconds + $0.decodeSeconds }.filter { $0 > 0 }
        if !cnnPerImage.isEmpty { timings["query_decode_cnn_ms"] = 1000 * cnnPerImage.reduce(0, +) / Double(cnnPerImage.count) }
        timings["total_s"] = Date().timeIntervalSince(wall)
        timings["feature_cache_hits"] = Double(cache.hits)

        // 5. Evaluate.
        var variants: [String: Double] = [:]
        var fullReport: EvaluationReport?
        for (variant, r) in rankings {
            let e = truth.evaluate { rankingFor($0, r) }
            variants[variant] = options.dataset.metric == "ns-score" ? e.nsScore : e.meanAveragePrecision
            if variant.hasPrefix("full:") { fullReport = e }
        }
        let main = variants["full: BoW+HE fused + rerank"] ?? 0
        var rp: [String: Double] = [:]
        if let full = rankings["full: BoW+HE fused + rerank"] {
            for k in [1, 4, 10] {
                var recall = 0.0, precision = 0.0
                for q in truth.queries {
                    let r = rankingFor(q.name, full).filter { $0 != q.name }   // the query itself is not a result
                    recall += RetrievalMetrics.recall(at: k, ranking: r, relevant: q.relevant)
                    precision += RetrievalMetrics.precision(at: k, ranking: r, relevant: q.relevant)
                }
                rp["recall@\(k)"] = recall / Double(max(truth.queries.count, 1))
                rp["precision@\(k)"] = precision / Double(max(truth.queries.count, 1))
            }
        }
        var worst: [String] = []
        if let full = fullReport {
            let perQuery: [(String, Double)] = zip(truth.queries, full.averagePrecisions).map { (q, ap) in
                if options.dataset.metric == "ns-score" {
                    return (q.name, Double(RetrievalMetrics.nsHits(ranking: rankingFor(q.name, rankings["full: BoW+HE fused + rerank"]!), group: q.relevant.union([q.name]))))
                }
                return (q.name, ap ?? 1)
            }
            worst = perQuery.sorted { $0.1 < $1.1 }.prefix(8).map(\.0)
        }
        let fmt = ISO8601DateFormatter()
        let report = BenchmarkReport(
            dataset: options.dataset.name, metric: options.dataset.metric, score: main, variants: variants, timings: timings,
            peakMemoryMiB: Self.peakMemoryMiB(), images: evalFiles.count, queries: truth.queries.count, trainingSet: trainingNote,
            vocabulary: vocab.layers.map { "\($0.key): \($0.words) words, PCA \($0.pca.map { "\($0.inputDim)→\($0.outputDim)" } ?? "none"), HE \($0.hamming.bits) bits" },
            settings: options.settings.json(), date: fmt.string(from: Date()), recallPrecision: rp, worstQueries: worst)
        var pathOf: [String: String] = [:]
        for p in evalFiles { pathOf[URL(fileURLWithPath: p).lastPathComponent] = p }
        return (report, fullRankingPaths, pathOf)
    }

    func rankingFor(_ q: String, _ r: [String: [String]]) -> [String] { r[q] ?? [] }

    func extractAll(_ files: [String], cache: FeatureCache, label: String) throws -> [String: ExtractedImage] {
        var out: [String: ExtractedImage] = [:]
        let bar = ProgressBar(label, total: files.count, enabled: options.showProgress)
        for f in files {
            do { out[f] = try cache.features(f) } catch { bar.message("skipped: \(error)") }
            bar.advance()
        }
        return out
    }

    /// Trains (or reuses) the vocabulary for these training features; cached under a key of
    /// everything that affects it.
    func vocabulary(for files: [String], features: [String: ExtractedImage], extractor: FeatureExtractor) throws -> URL {
        let t = options.vocabulary.train
        let keyText = "\(extractor.identity) files=\(files.joined(separator: "|")) hashes=\(files.compactMap { features[$0]?.contentHash }.joined()) words=\(t.words) minPerWord=\(t.minDescriptorsPerWord) pca=\(t.pcaDims) it=\(t.iterations) seed=\(t.seed) he=\(t.heBits) searcher=\(t.searcher) perImage=\(options.vocabulary.maxDescriptorsPerImage) max=\(options.vocabulary.maxDescriptors)"
        let dir = options.cacheDirectory.appendingPathComponent("vocabularies")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(SHA256.hex(Array(keyText.utf8)).prefix(24) + ".vocab")
        if FileManager.default.fileExists(atPath: url.path) { return url }
        let built = try VocabularyBuilder.build(images: files, folderDescription: options.train, extractor: extractor,
                                                options: options.vocabulary, showProgress: options.showProgress,
                                                features: { p in
                                                    guard let x = features[p] else { throw EngineError.invalidInput("\(p): unreadable") }
                                                    return x
                                                })
        try built.vocabulary.write(to: url)
        try built.whitening?.write(to: SearchIndex.whiteningURL(for: url))
        return url
    }

    /// Peak resident set size of this process (VmHWM), in MiB; −1 where /proc is missing.
    public static func peakMemoryMiB() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return -1 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }
}
