import TesseraCore
/// Problems detected while scoring a query against inverted lists.
public enum ScoringError: Error, Equatable, CustomStringConvertible {
    /// The query's signatures and the index's postings have different widths (in 64-bit words).
    case signatureWidthMismatch(query: Int, index: Int)
    /// A query word has no IDF entry (the IDF table is shorter than the vocabulary).
    case wordOutOfRange(word: UInt32, vocabularySize: Int)
    /// Per-layer inputs of late fusion disagree in count or length.
    case layerMismatch(String)
    /// The reranking rule got fewer global cosines than results to re-score.
    case missingCosines(given: Int, needed: Int)

    public var description: String {
        switch self {
        case let .signatureWidthMismatch(q, i):
            return "scoring: query signatures have \(q) 64-bit words but the index stores \(i)"
        case let .wordOutOfRange(w, n):
            return "scoring: query word \(w) is outside the IDF table of \(n) words"
        case let .layerMismatch(why):
            return "late fusion: \(why)"
        case let .missingCosines(given, needed):
            return "rerank: \(given) global cosines for the first \(needed) results"
        }
    }
}
