import Foundation
import Fusion
import GlobalDescriptors
import Quantizer
import TesseraCore

/// How many shards a sharded query reached (as Elasticsearch's `_shards` and Vespa's coverage
/// report it). A shard that failed or missed the deadline in any round counts once.
public struct ShardCoverage: Codable, Sendable, Equatable, CustomStringConvertible {
    public var asked = 0, answered = 0, failed = 0, timedOut = 0
    /// One line per shard that did not answer: its index and why.
    public var errors: [String] = []
    /// True when some shard's images could not take part: the ranking may miss them.
    public var isPartial: Bool { answered < asked }
    public init() {}
    public var description: String {
        "\(answered) of \(asked) shards answered (\(failed) failed, \(timedOut) timed out)"
            + (errors.isEmpty ? "" : ": " + errors.joined(separator: "; "))
    }
}

/// Why a sharded query was refused outright (never a partial answer).
public enum ShardError: Error, CustomStringConvertible {
    /// A shard's identity differs from the manifest's: its scores would mean something else.
    case identityMismatch(shard: Int, differences: [String])
    /// An option that needs the whole collection at once.
    case unsupported(String)
    /// Some shard did not answer and the caller did not accept partial results.
    case partial(ShardCoverage)

    public var description: String {
        switch self {
        case let .identityMismatch(s, d): return "shard \(s) is not part of this index: " + d.joined(separator: ", ")
        case .unsupported(let s): return s
        case .partial(let c): return "partial results: \(c)"
        }
    }
}

/// The search of a document-partitioned index: the query is extracted and quantised once,
/// every shard scans its own inverted files, and the merge gives exactly the ranking one
/// index holding all the images would give.
///
/// **Exact fused top-D (eq. 8) in one round, usually.** Layer scores S_l(q, I) need nothing
/// but the image and the frozen IDF, so they are the same in any shard. With fixed weights
/// each shard returns its fused top D. With query-adaptive weights (`LateFusion`), which need
/// every layer's global top M, each shard returns, per used layer, its top N = max(M, D)
/// images with all their layer scores and the N-th score c_{s,l}. The merged lists hold every
/// layer's global top M, so the weights w are exact; each listed image's fused score is exact;
/// and an image shard s did not list scores at most T_s = Σ_l w_l · c_{s,l} (weights ≥ 0, the
/// threshold of Fagin's algorithm). Only a shard whose T_s reaches the D-th merged score is
/// asked again, for its fused top D under w.
///
/// **Rerank, αQE, verification** run here on the merged list as `SearchPipeline` runs them:
/// the global descriptors of the shortlist are fetched (in the shared whitened space), spatial
/// verification goes to the shard holding each candidate. Ties break by path (then shard), a
/// key that does not depend on how the images were split; an index built from one folder
/// numbers images in path order, so it ranks ties the same way.
///
/// **Failures.** Each round goes to the shards at once and waits until `deadline`; a shard
/// that fails or is late is left out of the rest of the query and counted in the result's
/// `ShardCoverage`. A shard whose identity differs from the manifest's is refused (the query
/// throws), and DBA, which needs the whole collection, is refused too.
public final class ShardCoordinator: @unchecked Sendable {
    public let identity: ShardIdentity
    public let vocabulary: Vocabulary
    public let whitening: PCAWhitening?
    public let extractor: FeatureExtractor?
    public let shards: [any SearchShard]
    /// Seconds a query may wait for the shards in each round (nil: no limit).
    public var deadline: TimeInterval?

    private var verified = Set<Int>()
    private let verifying = NSLock()

    public init(identity: ShardIdentity, vocabulary: Vocabulary, whitening: PCAWhitening?,
                extractor: FeatureExtractor?, shards: [any SearchShard], deadline: TimeInterval? = nil) {
        self.identity = identity; self.vocabulary = vocabulary; self.whitening = whitening
        self.extractor = extractor; self.shards = shards; self.deadline = deadline
    }

    // MARK: Searching

    /// Queries with image files: one result or one typed failure per file, in order.
    public func query(_ files: [String], options: QueryOptions) -> [Result<QueryResult, QueryFailure>] {
        files.map { file in
            let path = URL(fileURLWithPath: file).standardizedFileURL.path
            let x: ExtractedImage
            do {
                guard let extractor else { throw EngineError.invalidInput("no feature extractor") }
                x = try extractor.extract(path)
            } catch { return .failure(.unreadableImage(path: path, reason: "\(error)")) }
            do { return .success(try search(x, options: options)) } catch {
                return .failure(.searchFailed(path: path, error: error))
            }
        }
    }

    /// Ranks the sharded collection for an extracted query.
    public func search(_ x: ExtractedImage, options: QueryOptions) throws -> QueryResult {
        guard options.databaseAugmentation == 0 else {
            throw ShardError.unsupported("DBA (--dba) needs the whole collection at once; a sharded index refuses it")
        }
        let use = options.layers ?? Array(vocabulary.layers.indices)
        if let bad = use.first(where: { $0 < 0 || $0 >= vocabulary.layers.count }) {
            throw EngineError.invalidInput("layer \(bad) is not one of the vocabulary's "
                                           + "\(vocabulary.layers.count) layers")
        }
        var run = Run(coordinator: self, whiten: options.whiten)
        var timings = QueryTimings()
        timings.decode = x.decodeSeconds
        timings.network = x.networkSeconds
        let g = options.whiten ? try whitening?.apply(x.global) ?? x.global : x.global
        let results: [RankedImage]
        var postings = 0
        if options.globalOnly {
            let t = Date()
            results = try globalOnly(g, options: options, run: &run)
            timings.rerank = Date().timeIntervalSince(t)
        } else {
            var t = Date()
            let quantized = try SearchPipeline.quantize(x, vocabulary: vocabulary, options: options)
            timings.assignment = Date().timeIntervalSince(t)
            t = Date()
            var depth = options.rerank ? max(options.top, options.rerankOptions.depth) : options.top
            if let v = options.verification { depth = max(depth, v.depth) }
            let globalCandidates = options.rerank ? options.rerankOptions.globalCandidates : 0
            var request = ShardScanRequest(quantized: quantized, layers: use, scoring: options.scoring, perLayer: 0,
                                           depth: depth, globalQuery: globalCandidates > 0 ? g : nil,
                                           globalCandidates: globalCandidates, whiten: options.whiten)
            let (candidates, weights) = try scan(&request, fusion: options.fusion ?? LateFusion.equalWeights(use.count),
                                                 run: &run, postings: &postings)
            var ranked = topK(scores: candidates.fused, k: depth)
            if let v = options.verification {
                ranked = verify(ranked, candidates: candidates, x: x, quantized: quantized, layers: use,
                                weights: weights, options: options, verification: v, run: &run)
            }
            timings.scan = Date().timeIntervalSince(t)
            if options.rerank {
                t = Date()
                ranked = try rerank(ranked, candidates: candidates, query: g, options: options, run: &run)
                timings.rerank = Date().timeIntervalSince(t)
            }
            results = ranked.prefix(options.top).enumerated().map { i, r in
                let h = candidates.hits[Int(r.0)]
                return RankedImage(rank: i + 1, id: h.hit.id, path: h.hit.path, score: r.1,
                                   layerScores: h.hit.layerScores, shard: h.shard)
            }
        }
        return QueryResult(query: x.path, results: results, timings: timings, postingsScanned: postings,
                           coverage: run.coverage)
    }

    /// The merged candidates of a query, numbered by (path, shard): merge id = index in `hits`.
    struct Candidates {
        var hits: [(shard: Int, hit: ShardHit)]
        var fused: [Float]
    }

    /// Scans every shard (round 1), merges, and asks again only the shards the threshold test
    /// cannot rule out (round 2). Returns the candidates with their fused scores and the weights.
    private func scan(_ request: inout ShardScanRequest, fusion: FusionRule, run: inout Run,
                      postings: inout Int) throws -> (Candidates, [Float]) {
        var byKey: [ShardKey: ShardHit] = [:]
        func collect(_ answers: [Int: ShardScanResponse]) {
            for (s, a) in answers {
                postings += a.postings
                for h in a.hits { byKey[ShardKey(shard: s, id: h.id)] = h }
            }
        }
        let weights: [Float]
        var cutoffs: [Int: [Float]] = [:]
        switch fusion {
        case .fixed(let w):
            guard w.count == request.layers.count else {
                throw ScoringError.layerMismatch("\(w.count) weights for \(request.layers.count) layers")
            }
            weights = w
            request.weights = w
            collect(try scanAll(Array(shards.indices), request, &run))
        case .queryAdaptive(let m):
            request.perLayer = max(m, request.depth)
            let answers = try scanAll(Array(shards.indices), request, &run)
            collect(answers)
            for (s, a) in answers { if let c = a.cutoffs { cutoffs[s] = c } }
            let hits = Array(byKey.values)
            let dense = request.layers.indices.map { n in hits.map { $0.layerScores[n] } }
            weights = LateFusion.adaptiveWeights(dense, topM: m)
            // Threshold test: the D-th best fused score so far against each shard's bound.
            let fused = try LateFusion.fuse(dense, rule: .fixed(weights)).scores
            let depth = max(request.depth, 1)
            let kth = fused.count >= depth ? fused.sorted(by: >)[depth - 1] : -Float.infinity
            let again = cutoffs.filter { Self.bound($0.value, weights: weights) >= kth }.map(\.key).sorted()
            if !again.isEmpty {
                request.weights = weights
                collect(try scanAll(again, request, &run))
            }
        }
        let ordered = byKey.sorted {
            ($0.value.path, $0.key.shard, $0.key.id) < ($1.value.path, $1.key.shard, $1.key.id)
        }
        let dense = request.layers.indices.map { n in ordered.map { $0.value.layerScores[n] } }
        let fused = ordered.isEmpty ? [] : try LateFusion.fuse(dense, rule: .fixed(weights)).scores
        return (Candidates(hits: ordered.map { ($0.key.shard, $0.value) }, fused: fused), weights)
    }

    /// `request` scanned by the shards `indices`. An answer without a score (and a cutoff) per
    /// used layer for every hit counts as a failure: that shard is left out of the query.
    private func scanAll(_ indices: [Int], _ request: ShardScanRequest, _ run: inout Run) throws
        -> [Int: ShardScanResponse] {
        let layers = request.layers.count
        return try run.askEach(indices) { [identity] i, shard in
            let a = try shard.scan(request)
            let changed = identity.differences(from: a.identity)
            guard changed.isEmpty else { throw ShardError.identityMismatch(shard: i, differences: changed) }
            guard a.hits.allSatisfy({ $0.layerScores.count == layers }),
                  a.cutoffs.map({ $0.count == layers }) ?? true else {
                throw ScoringError.layerMismatch("a scan answer with scores of another number of layers than \(layers)")
            }
            return a
        }
    }

    /// Σ_l w_l · c_l, summed as `LateFusion.fuse` sums (so a listed image and the bound compare
    /// under the same rounding): the best fused score an image with layer scores ≤ `cutoffs` can have.
    static func bound(_ cutoffs: [Float], weights: [Float]) -> Float {
        var t: Float = 0
        for (w, c) in zip(weights, cutoffs) where w != 0 { t += w * c }
        return t
    }

    /// Spatial verification of the head of `ranked`, each candidate by its shard
    /// (`SearchPipeline.combineVerified`); a shard that fails leaves its candidates unverified.
    private func verify(_ ranked: [(ImageID, Float)], candidates: Candidates, x: ExtractedImage,
                        quantized: [QuantizedLayer], layers: [Int], weights: [Float], options: QueryOptions,
                        verification: VerificationOptions, run: inout Run) -> [(ImageID, Float)] {
        let head = ranked.prefix(min(max(verification.depth, 0), ranked.count)).map(\.0)
        let byShard = Dictionary(grouping: head, by: { candidates.hits[Int($0)].shard })
        let answers = (try? run.askEach(byShard.keys.sorted()) { shard, s in
            try s.verify(ShardVerifyRequest(ids: byShard[shard]!.map { candidates.hits[Int($0)].hit.id },
                                            quantized: quantized, frames: x.frames, layers: layers, weights: weights,
                                            scoring: options.scoring, verification: verification,
                                            whiten: options.whiten))
        }) ?? [:]
        var scores: [ImageID: Float?] = [:]
        for (shard, ids) in byShard {
            guard let a = answers[shard], a.count == ids.count else { continue }
            for (id, v) in zip(ids, a) { scores[id] = v }
        }
        return SearchPipeline.combineVerified(ranked, verified: head.map { scores[$0] ?? nil },
                                              inlierWeight: verification.inlierWeight)
    }

    /// Rerank + αQE (`SearchPipeline.rerank`) of the merged list, in a space made of the fetched
    /// descriptors of the shortlist (the K first and the global candidates).
    private func rerank(_ ranked: [(ImageID, Float)], candidates: Candidates, query g: [Float], options: QueryOptions,
                        run: inout Run) throws -> [(ImageID, Float)] {
        var list = ranked
        var rerankOptions = options.rerankOptions
        if rerankOptions.globalCandidates > 0 {
            let cosines = candidates.hits.map { $0.hit.cosine ?? -.infinity }
            let best = topK(scores: cosines, k: rerankOptions.globalCandidates).map(\.0)
            (list, rerankOptions.depth) = Reranker.shortlist(list, depth: rerankOptions.depth, candidates: best) {
                Int($0) < candidates.fused.count ? candidates.fused[Int($0)] : nil
            }
        }
        let head = list.prefix(max(rerankOptions.depth, 0)).map(\.0)
        let rows = try fetchDescriptors(head.map { candidates.hits[Int($0)] }, run: &run)
        guard rows.contains(where: { !$0.isEmpty }) else { return list }
        let space = try GlobalSpace(rows: zip(head, rows).map { (id: $0, descriptor: $1) },
                                    bound: candidates.hits.count, whitening: nil)
        return try SearchPipeline.rerank(list, query: g, in: space, options: rerankOptions,
                                         queryExpansion: options.queryExpansion)
    }

    /// Global-only search: the shards' best by cosine merged, expanded by αQE over the merged
    /// first n (their descriptors fetched), and asked again with the expanded query.
    private func globalOnly(_ g: [Float], options: QueryOptions, run: inout Run) throws -> [RankedImage] {
        var q = g
        let n = options.queryExpansion
        if n > 0 {
            let first = try mergedGlobalTop(q, k: n, run: &run)
            let rows = try fetchDescriptors(first.map { ($0.shard, $0.hit) }, run: &run)
            let neighbours = Matrix(rows: first.count, cols: g.count, data: rows.flatMap {
                $0.count == g.count ? $0 : [Float](repeating: 0, count: g.count)
            })
            q = try GlobalSearch.alphaQueryExpansion(query: q, neighbours: first.enumerated().map {
                (ImageID($0.offset), $0.element.hit.cosine ?? 0)
            }, database: neighbours, n: n)
        }
        return try mergedGlobalTop(q, k: options.top, run: &run).enumerated().map { i, e in
            RankedImage(rank: i + 1, id: e.hit.id, path: e.hit.path, score: e.hit.cosine ?? 0, layerScores: [],
                        shard: e.shard)
        }
    }

    private func mergedGlobalTop(_ q: [Float], k: Int, run: inout Run) throws -> [(shard: Int, hit: ShardHit)] {
        let answers = try run.ask(Array(shards.indices)) { [whiten = run.whiten] in
            try $0.globalTop(q, k: k, whiten: whiten)
        }
        let all = answers.flatMap { s, hits in hits.map { (shard: s, hit: $0) } }
            .sorted { ($0.hit.path, $0.shard) < ($1.hit.path, $1.shard) }
        return topK(scores: all.map { $0.hit.cosine ?? -.infinity }, k: k).map { all[Int($0.0)] }
    }

    /// Descriptors of `hits`, asked of their shards; empty for a shard that failed.
    private func fetchDescriptors(_ hits: [(shard: Int, hit: ShardHit)], run: inout Run) throws -> [[Float]] {
        let byShard = Dictionary(grouping: hits.indices, by: { hits[$0].shard })
        let answers = try run.askEach(byShard.keys.sorted()) { [whiten = run.whiten] shard, s in
            try s.descriptors(byShard[shard]!.map { hits[$0].hit.id }, whiten: whiten)
        }
        var rows = [[Float]](repeating: [], count: hits.count)
        for (shard, positions) in byShard {
            guard let a = answers[shard], a.count == positions.count else { continue }
            for (i, r) in zip(positions, a) { rows[i] = r }
        }
        return rows
    }

    // MARK: Fan-out

    private struct ShardKey: Hashable { var shard: Int; var id: ImageID }

    /// One query's calls to the shards and their coverage.
    private struct Run {
        let coordinator: ShardCoordinator
        let whiten: Bool
        var coverage = ShardCoverage()
        var down = Set<Int>()

        init(coordinator: ShardCoordinator, whiten: Bool) {
            self.coordinator = coordinator; self.whiten = whiten
            coverage.asked = coordinator.shards.count
            coverage.answered = coordinator.shards.count
        }

        mutating func ask<T>(_ indices: [Int], _ call: @escaping (any SearchShard) throws -> T) throws -> [Int: T] {
            try askEach(indices) { _, s in try call(s) }
        }

        /// Calls `call` on the shards `indices` that are still up, at once, and waits until the
        /// coordinator's deadline. An identity mismatch throws; any other failure marks the shard down.
        mutating func askEach<T>(_ indices: [Int],
                                 _ call: @escaping (Int, any SearchShard) throws -> T) throws -> [Int: T] {
            let live = indices.filter { !down.contains($0) }
            let box = Answers<T>()
            let group = DispatchGroup()
            for i in live {
                let shard = coordinator.shards[i]
                group.enter()
                // A thread of its own per call: a shard call blocks (a RemoteShard waits for its HTTP
                // answer), and blocking libdispatch's few shared threads would hold up the very
                // callbacks those waits need until libdispatch adds threads, about a second later.
                Thread { [coordinator] in
                    defer { group.leave() }
                    let r = Result { () throws -> T in
                        try coordinator.checkIdentity(of: i)
                        return try call(i, shard)
                    }
                    box.put(i, r)
                }.start()
            }
            let limit: DispatchTime = coordinator.deadline.map { .now() + $0 } ?? .distantFuture
            _ = group.wait(timeout: limit)
            let got = box.close()
            var out: [Int: T] = [:]
            for i in live {
                switch got[i] {
                case .success(let v)?: out[i] = v
                case .failure(let e as ShardError)?: throw e
                case .failure(let e)?: markDown(i, failed: true, "\(e)")
                case nil: markDown(i, failed: false, "no answer within \(coordinator.deadline ?? 0) s")
                }
            }
            return out
        }

        private mutating func markDown(_ i: Int, failed: Bool, _ why: String) {
            guard down.insert(i).inserted else { return }
            coverage.answered -= 1
            if failed { coverage.failed += 1 } else { coverage.timedOut += 1 }
            coverage.errors.append("shard \(i): \(why)")
        }
    }

    /// Answers of one round, closed at the deadline: a late answer is dropped.
    private final class Answers<T>: @unchecked Sendable {
        private var results: [Int: Result<T, Error>] = [:]
        private var closed = false
        private let lock = NSLock()
        func put(_ i: Int, _ r: Result<T, Error>) { lock.withLock { if !closed { results[i] = r } } }
        func close() -> [Int: Result<T, Error>] { lock.withLock { closed = true; return results } }
    }

    /// Refuses a shard whose identity is not the manifest's; asked once per shard (every scan
    /// answer names its identity too, checked in `scanAll`).
    func checkIdentity(of i: Int) throws {
        if verifying.withLock({ verified.contains(i) }) { return }
        let info = try shards[i].info()
        let diff = identity.differences(from: info.identity)
        guard diff.isEmpty else { throw ShardError.identityMismatch(shard: i, differences: diff) }
        _ = verifying.withLock { verified.insert(i) }
    }
}
