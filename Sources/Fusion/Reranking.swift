import TesseraCore

/// Parameters of global-descriptor reranking (METHOD.md §5).
public struct RerankOptions: Sendable, Equatable, Codable {
    /// Weight β of the global cosine in the combined score. Default 0.5.
    public var beta: Float = 0.5
    /// Depth K: only the first K entries of the inverted-file list are re-scored. Default 100.
    public var depth: Int = 100
    /// K_g: the global descriptor's own best K_g images join the K re-scored ones (a union of
    /// the two shortlists), so an image the inverted file ranks low but the global descriptor
    /// ranks high is not lost before the combination. 0 = the inverted file's list alone.
    public var globalCandidates: Int = 0
    public init(beta: Float = 0.5, depth: Int = 100, globalCandidates: Int = 0) {
        self.beta = beta; self.depth = depth; self.globalCandidates = globalCandidates
    }
}

/// Reranking of an inverted-file result list by global-descriptor cosines (computed by the
/// GlobalDescriptors module; this is only the combination rule).
public enum Reranker {
    /// Re-scores the first K = `options.depth` entries of `list` (image, bowScore), best first:
    ///
    ///     combined = (1 − β) · bow / bowMax + β · cos
    ///
    /// where bowMax is the largest BoW score among those K (1 if it is ≤ 0) and
    /// `cosines[i]` is the global cosine of `list[i]` (needed for the first K entries).
    /// The K entries are re-sorted by combined score (ties: smaller image id); everything
    /// after K keeps its order and its original BoW score.
    public static func rerank(_ list: [(ImageID, Float)], cosines: [Float],
                              options: RerankOptions = RerankOptions()) throws -> [(ImageID, Float)] {
        let k = min(max(options.depth, 0), list.count)
        guard cosines.count >= k else {
            throw ScoringError.missingCosines(given: cosines.count, needed: k)
        }
        guard k > 0 else { return list }
        let bowMax = list[0..<k].map { $0.1 }.max() ?? 1
        let scale: Float = bowMax > 0 ? 1 / bowMax : 1
        let b = options.beta
        var head = (0..<k).map { i in (list[i].0, (1 - b) * list[i].1 * scale + b * cosines[i]) }
        head.sort { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        return head + list[k...]
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
