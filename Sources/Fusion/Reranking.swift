import TesseraCore

/// How a reranking combines the inverted file's score with the global cosine over the K
/// re-scored images (`Reranker.rerank`, which gives the formulas).
public enum RerankCombination: String, Sendable, Equatable, Codable, CaseIterable {
    /// (1 − β) · bow / bowMax + β · cos: the BoW score scaled to 1 at its best, the cosine as is.
    case linear
    /// (1 − β) · minmax(bow) + β · minmax(cos): both scaled to [0, 1] over the K, so each spans
    /// the same range whatever its distribution.
    case minMax = "min-max"
    /// Reciprocal rank fusion (Cormack et al., SIGIR 2009): (1 − β) / (k + r_bow) + β / (k + r_cos),
    /// with r the 1-based rank among the K by each score and k = 60; scores are ignored.
    case reciprocalRank = "rank"
}

/// Parameters of global-descriptor reranking (METHOD.md §5).
public struct RerankOptions: Sendable, Equatable, Codable {
    /// Weight β of the global cosine in the combined score. Default 0.65.
    public var beta: Float = 0.65
    /// How the two scores are combined. Default `.minMax`.
    public var combination: RerankCombination = .minMax
    /// Depth K: only the first K entries of the inverted-file list are re-scored. Default 100.
    public var depth: Int = 100
    /// K_g: the global descriptor's own best K_g images join the K re-scored ones (a union of
    /// the two shortlists), so an image the inverted file ranks low but the global descriptor
    /// ranks high is not lost before the combination. 0 = the inverted file's list alone.
    public var globalCandidates: Int = 0
    public init(beta: Float = 0.65, combination: RerankCombination = .minMax, depth: Int = 100,
                globalCandidates: Int = 0) {
        self.beta = beta; self.combination = combination; self.depth = depth; self.globalCandidates = globalCandidates
    }
}

/// Reranking of an inverted-file result list by global-descriptor cosines (computed by the
/// GlobalDescriptors module; this is only the combination rule).
public enum Reranker {
    /// Re-scores the first K = `options.depth` entries of `list` (image, bowScore), best first,
    /// where `cosines[i]` is the global cosine of `list[i]` (needed for the first K entries):
    ///
    ///     linear:  combined = (1 − β) · bow / bowMax + β · cos
    ///     min-max: combined = (1 − β) · (bow − bowMin) / (bowMax − bowMin)
    ///                         + β · (cos − cosMin) / (cosMax − cosMin)
    ///     rank:    combined = (1 − β) / (60 + r_bow) + β / (60 + r_cos)
    ///
    /// with min and max taken over the K (a scale of 1 where bowMax ≤ 0, or where a range is 0)
    /// and r the 1-based rank among the K (ties: smaller image id). The K entries are re-sorted
    /// by combined score (ties: smaller image id); everything after K keeps its order and its
    /// original BoW score.
    public static func rerank(_ list: [(ImageID, Float)], cosines: [Float],
                              options: RerankOptions = RerankOptions()) throws -> [(ImageID, Float)] {
        let k = min(max(options.depth, 0), list.count)
        guard cosines.count >= k else {
            throw ScoringError.missingCosines(given: cosines.count, needed: k)
        }
        guard k > 0 else { return list }
        let ids = list[0..<k].map(\.0)
        let bow = list[0..<k].map(\.1)
        let cos = Array(cosines[0..<k])
        let b = options.beta
        let parts: (bow: [Float], cos: [Float])
        switch options.combination {
        case .linear:
            let bowMax = bow.max() ?? 1
            let scale: Float = bowMax > 0 ? 1 / bowMax : 1
            parts = (bow.map { $0 * scale }, cos)
        case .minMax:
            parts = (minMaxScaled(bow), minMaxScaled(cos))
        case .reciprocalRank:
            parts = (reciprocalRanks(bow, ids: ids), reciprocalRanks(cos, ids: ids))
        }
        var head = (0..<k).map { i in (ids[i], (1 - b) * parts.bow[i] + b * parts.cos[i]) }
        head.sort { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        return head + list[k...]
    }

    /// (x − min) / (max − min) over `x`; x − min where the range is 0.
    static func minMaxScaled(_ x: [Float]) -> [Float] {
        guard let lo = x.min(), let hi = x.max() else { return x }
        let scale: Float = hi > lo ? 1 / (hi - lo) : 1
        return x.map { ($0 - lo) * scale }
    }

    /// 1 / (60 + r_i), r_i the 1-based rank of x_i in `x` sorted descending (ties: smaller id).
    static func reciprocalRanks(_ x: [Float], ids: [ImageID]) -> [Float] {
        let order = x.indices.sorted { x[$0] > x[$1] || (x[$0] == x[$1] && ids[$0] < ids[$1]) }
        var out = [Float](repeating: 0, count: x.count)
        for (r, i) in order.enumerated() { out[i] = 1 / Float(60 + r + 1) }
        return out
    }

    /// The shortlist of a reranking with global candidates: the first `depth` entries of `list`,
    /// then each of `candidates` (the global descriptor's best, in its order) not among them,
    /// with its score further down `list`, else `bowScore`'s, else 0; then the rest of `list`
    /// without those. Rerank the result to depth `count` (returned with it).
    public static func shortlist(_ list: [(ImageID, Float)], depth: Int, candidates: [ImageID],
                                 bowScore: (ImageID) -> Float? = { _ in nil })
        -> (list: [(ImageID, Float)], count: Int) {
        let k = min(max(depth, 0), list.count)
        var seen = Set(list[0..<k].map(\.0))
        let extraIDs = candidates.filter { seen.insert($0).inserted }
        guard !extraIDs.isEmpty else { return (list, k) }
        let added = Set(extraIDs)
        var listed: [ImageID: Float] = [:]
        var tail: [(ImageID, Float)] = []
        for entry in list[k...] {
            if added.contains(entry.0) { listed[entry.0] = entry.1 } else { tail.append(entry) }
        }
        let extras = extraIDs.map { ($0, listed[$0] ?? bowScore($0) ?? 0) }
        return (Array(list[0..<k]) + extras + tail, k + extras.count)
    }
}
