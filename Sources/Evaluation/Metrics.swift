/// Retrieval metrics of the two benchmarks (METHOD.md §6), in one place.
///
/// A ranking is a list of image names, best first. Ties are whatever order the caller
/// gives (stable); a name that occurs again later in a ranking is ignored (first wins).
public enum RetrievalMetrics {
    /// Holidays average precision, exactly as the official `score_ap_from_ranks_1`:
    /// `positiveRanks` are the 0-based positions of the relevant images in the ranking
    /// (query removed), `relevantCount` = nres. Starting from recall 0 with precision 1,
    /// each positive adds a trapezoid: (1/nres) · (p0 + p1) / 2 with
    /// p0 = ntp / rank (1 when rank = 0) and p1 = (ntp + 1) / (rank + 1), where ntp is the
    /// number of positives ranked before it. Relevant images never ranked add nothing.
    /// Returns `nil` when `relevantCount` is 0 (AP undefined).
    public static func averagePrecision(positiveRanks: [Int], relevantCount: Int) -> Double? {
        guard relevantCount > 0 else { return nil }
        let step = 1 / Double(relevantCount)
        var ap = 0.0
        for (ntp, rank) in positiveRanks.sorted().enumerated() {
            let p0 = rank == 0 ? 1.0 : Double(ntp) / Double(rank)
            let p1 = Double(ntp + 1) / Double(rank + 1)
            ap += step * (p0 + p1) / 2
        }
        return ap
    }

    /// Holidays AP of one query: `query` is removed from `ranking` (official protocol), then
    /// `averagePrecision(positiveRanks:relevantCount:)` with nres = |relevant \ {query}|.
    public static func averagePrecision(ranking: [String], query: String, relevant: Set<String>) -> Double? {
        let rel = relevant.subtracting([query])
        var seen = Set<String>(), ranks: [Int] = [], position = 0
        for name in ranking where name != query && seen.insert(name).inserted {
            if rel.contains(name) { ranks.append(position) }
            position += 1
        }
        return averagePrecision(positiveRanks: ranks, relevantCount: rel.count)
    }

    /// UKBench NS hits of one query: how many of `group` (the query's group, itself
    /// included) are among the first `depth` (4) entries of `ranking` (query included).
    public static func nsHits(ranking: [String], group: Set<String>, depth: Int = 4) -> Int {
        deduplicated(ranking).prefix(depth).reduce(0) { $0 + (group.contains($1) ? 1 : 0) }
    }

    /// Recall@k: fraction of `relevant` among the first k entries (0 when `relevant` is empty).
    public static func recall(at k: Int, ranking: [String], relevant: Set<String>) -> Double {
        guard !relevant.isEmpty else { return 0 }
        return Double(hits(at: k, ranking, relevant)) / Double(relevant.count)
    }

    /// Precision@k: fraction of the first k positions holding a relevant image (divides by k,
    /// so a ranking shorter than k is penalised; 0 when k ≤ 0).
    public static func precision(at k: Int, ranking: [String], relevant: Set<String>) -> Double {
        guard k > 0 else { return 0 }
        return Double(hits(at: k, ranking, relevant)) / Double(k)
    }

    /// Mean of the defined values (`nil` entries skipped); 0 when none is defined.
    public static func mean(_ values: [Double?]) -> Double {
        let v = values.compactMap { $0 }
        return v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count)
    }

    private static func hits(at k: Int, _ ranking: [String], _ relevant: Set<String>) -> Int {
        deduplicated(ranking).prefix(max(k, 0)).reduce(0) { $0 + (relevant.contains($1) ? 1 : 0) }
    }

    private static func deduplicated(_ ranking: [String]) -> [String] {
        var seen = Set<String>()
        return ranking.filter { seen.insert($0).inserted }
    }
}

/// The result of evaluating rankings against a ground truth.
public struct EvaluationReport: Sendable, Equatable {
    /// Mean AP over the queries with at least one relevant image (Holidays protocol: query excluded).
    public var meanAveragePrecision: Double
    /// Mean NS hits (top 4, query included, its group = itself + relevant); 4.0 is perfect.
    public var nsScore: Double
    /// Queries evaluated (those with a ranking).
    public var queries: Int
    /// Per-query AP (nil where the query has no relevant image), in ground-truth order.
    public var averagePrecisions: [Double?]
}

extension GroundTruth {
    /// Evaluates `rank(query)` (a full ranking of the collection, best first, the query
    /// possibly included) for every query: mAP as in Holidays, NS-score as in UKBench.
    public func evaluate(_ rank: (String) throws -> [String]) rethrows -> EvaluationReport {
        var aps: [Double?] = [], ns = 0
        for q in queries {
            let ranking = try rank(q.name)
            aps.append(RetrievalMetrics.averagePrecision(ranking: ranking, query: q.name, relevant: q.relevant))
            ns += RetrievalMetrics.nsHits(ranking: ranking, group: q.relevant.union([q.name]))
        }
        return EvaluationReport(meanAveragePrecision: RetrievalMetrics.mean(aps),
                                nsScore: queries.isEmpty ? 0 : Double(ns) / Double(queries.count),
                                queries: queries.count, averagePrecisions: aps)
    }
}
