import TesseraCore

/// Counters of one scan, for benchmarks and index statistics.
public struct ScanStats: Sendable, Equatable {
    /// Postings read from the inverted lists.
    public var postings: Int = 0
    /// (query assignment, posting) pairs compared.
    public var pairs: Int = 0
    public init() {}
}

/// One query layer prepared for scanning inverted lists (MOF §4, eq. 3–8).
///
/// Preparation groups the query's assignments by word (tf_q(w) = group size), copies
/// each group's signatures contiguously and precomputes the HE weight table
/// w(d) = exp(−d²/σ²)·[d < d_t] for d = 0...bits, so the scan does XOR + popcount +
/// one table load per pair and never allocates.
///
/// Matching rule. Database features are single-assigned; the query's k assignments of
/// one feature are distinct words, so a (query feature, database feature) pair meets in
/// at most one list and votes at most once. For a query assignment x on word w (signature
/// b_x) and a posting (I, b_y) of list w:
///
///     vote = idf_w² · w(popcount(b_x ⊕ b_y)) / sqrt(tf_q(w) · tf_I(w))      (eq. 5, 6, 8)
///
/// (plain BoW, eq. 3: idf_w² in place of idf_w² · w(d)); the burstiness divisor is eq. 8
/// extended symmetrically to the query side and is dropped when `burstiness` is off.
/// tf_I(w) is the run length of image I in list w (lists are sorted by image id, and an
/// image's run lies within one block of the list).
/// The layer score is S_l(q, I) = Σ votes / (‖q‖ · ‖I‖) with the norms of `imageNorm`.
public struct LayerScorer: Sendable {
    /// Distinct query words, ascending.
    public let words: [UInt32]
    /// Group g's assignments are rows `groupStart[g] ..< groupStart[g + 1]` of `signatures`.
    let groupStart: [Int]
    let signatures: [UInt64]
    let signatureWords: Int
    let idfSquared: [Float]
    let table: [Float]
    /// ‖q‖ of this layer (see `imageNorm`).
    public let queryNorm: Float
    public let options: ScoringOptions

    /// Prepares `query` (any k) for scoring with the layer's IDF table.
    public init(query: QuantizedLayer, idf: [Float], options: ScoringOptions = ScoringOptions()) throws {
        var order: [Int] = []
        order.reserveCapacity(query.words.count)
        for (a, w) in query.words.enumerated() where w != QuantizedLayer.none {
            guard Int(w) < idf.count else { throw ScoringError.wordOutOfRange(word: w, vocabularySize: idf.count) }
            order.append(a)
        }
        order.sort { (query.words[$0], $0) < (query.words[$1], $1) }
        let sw = query.signatureWords
        var words: [UInt32] = [], starts: [Int] = [], sigs: [UInt64] = [], idf2: [Float] = []
        sigs.reserveCapacity(order.count * sw)
        for (row, a) in order.enumerated() {
            let w = query.words[a]
            if words.last != w {
                words.append(w); starts.append(row); idf2.append(idf[Int(w)] * idf[Int(w)])
            }
            sigs.append(contentsOf: query.signatures[(a * sw)..<((a + 1) * sw)])
        }
        starts.append(order.count)
        self.words = words
        self.groupStart = starts
        self.signatures = sigs
        self.signatureWords = sw
        self.idfSquared = idf2
        self.table = options.weightTable(bits: 64 * sw)
        self.queryNorm = imageNorm(query, idf: idf)
        self.options = options
    }

    /// Scans the lists of this query's words in `layer` and ADDS the normalised layer
    /// score S_l(q, I) of every image to `scores[I]` (MOF eq. 3–8 with normalisation).
    ///
    /// `imageNorms[I]` is ‖I‖ of this layer; an image whose norm is 0 (absent or removed)
    /// or whose id is not below `min(scores.count, imageNorms.count)` is skipped.
    @discardableResult
    public func accumulate<L: InvertedListsReader>(lists: L, layer: Int, imageNorms: [Float],
                                                   into scores: inout [Float]) throws -> ScanStats {
        if options.hammingEmbedding && lists.signatureWords != signatureWords {
            throw ScoringError.signatureWidthMismatch(query: signatureWords, index: lists.signatureWords)
        }
        var stats = ScanStats()
        guard queryNorm > 0 else { return stats }
        let bound = min(scores.count, imageNorms.count)
        let inverseQueryNorm = 1 / queryNorm
        try scores.withUnsafeMutableBufferPointer { out in
            let acc = UnsafeMutableBufferPointer(rebasing: out[0..<bound])
            try imageNorms.withUnsafeBufferPointer { norms in
                try signatures.withUnsafeBufferPointer { qs in
                    try table.withUnsafeBufferPointer { tab in
                        for g in words.indices {
                            let lo = groupStart[g], hi = groupStart[g + 1]
                            try lists.forEachPostingBlock(layer: layer, word: words[g]) { block in
                                let s = scanList(block, queries: qs, lo: lo, hi: hi, idf2: idfSquared[g] * inverseQueryNorm,
                                                 table: tab, norms: norms, acc: acc)
                                stats.postings += s.postings
                                stats.pairs += s.pairs
                            }
                        }
                    }
                }
            }
        }
        return stats
    }

    /// Scores one layer into a fresh array of `imageNorms.count` entries.
    public func score<L: InvertedListsReader>(lists: L, layer: Int, imageNorms: [Float]) throws -> [Float] {
        var scores = [Float](repeating: 0, count: imageNorms.count)
        try accumulate(lists: lists, layer: layer, imageNorms: imageNorms, into: &scores)
        return scores
    }

    /// The hot loop: one block of a word's postings against the query assignments rows lo..<hi
    /// (an image's run never spans two blocks, so tf_I(w) is a run length within the block).
    @inline(__always)
    private func scanList(_ list: PostingList, queries qs: UnsafeBufferPointer<UInt64>, lo: Int, hi: Int,
                          idf2: Float, table tab: UnsafeBufferPointer<Float>,
                          norms: UnsafeBufferPointer<Float>, acc: UnsafeMutableBufferPointer<Float>) -> ScanStats {
        var stats = ScanStats()
        let n = list.count
        guard n > 0, let base = list.bytes.baseAddress else { return stats }
        let stride = list.stride, sw = signatureWords
        let tfq = hi - lo
        let he = options.hammingEmbedding, burst = options.burstiness
        @inline(__always) func image(_ p: Int) -> UInt32 {
            UInt32(bigEndian: base.loadUnaligned(fromByteOffset: p * stride, as: UInt32.self))
        }
        @inline(__always) func sig(_ p: Int, _ j: Int) -> UInt64 {
            UInt64(littleEndian: base.loadUnaligned(fromByteOffset: p * stride + 4 + 8 * j, as: UInt64.self))
        }
        var i = 0
        while i < n {
            let img = image(i)
            var j = i + 1
            while j < n && image(j) == img { j += 1 }
            let id = Int(img)
            stats.postings += j - i
            if id < acc.count && norms[id] > 0 {
                var votes: Float = 0
                if !he {
                    votes = Float(tfq * (j - i))
                } else if sw == 2 {
                    // Four independent accumulators break the add-latency chain.
                    var v0: Float = 0, v1: Float = 0, v2: Float = 0, v3: Float = 0
                    let end = 2 * hi, end4 = 2 * lo + 8 * (tfq / 4)
                    for p in i..<j {
                        let s0 = sig(p, 0), s1 = sig(p, 1)
                        var r = 2 * lo
                        while r < end4 {
                            v0 += tab[popcount128(s0 ^ qs[r], s1 ^ qs[r + 1])]
                            v1 += tab[popcount128(s0 ^ qs[r + 2], s1 ^ qs[r + 3])]
                            v2 += tab[popcount128(s0 ^ qs[r + 4], s1 ^ qs[r + 5])]
                            v3 += tab[popcount128(s0 ^ qs[r + 6], s1 ^ qs[r + 7])]
                            r += 8
                        }
                        while r < end {
                            v0 += tab[popcount128(s0 ^ qs[r], s1 ^ qs[r + 1])]
                            r += 2
                        }
                    }
                    votes = (v0 + v1) + (v2 + v3)
                } else {
                    for p in i..<j {
                        for a in lo..<hi {
                            var d = 0
                            for t in 0..<sw { d += (sig(p, t) ^ qs[a * sw + t]).nonzeroBitCount }
                            votes += tab[d]
                        }
                    }
                }
                stats.pairs += tfq * (j - i)
                if votes != 0 {
                    // Normalised as it is added (eq. 8 over ‖q‖·‖I‖; `idf2` carries 1/‖q‖).
                    let vote = burst ? votes * idf2 / Float(tfq * (j - i)).squareRoot() : votes * idf2
                    acc[id] += vote / norms[id]
                }
            }
            i = j
        }
        return stats
    }
}

/// Scores one layer of `query` against `lists` (MOF eq. 3–8, normalised; see `LayerScorer`).
/// The result has `imageNorms.count` entries indexed by image id; images with norm 0 score 0.
public func scoreLayer<L: InvertedListsReader>(query: QuantizedLayer, lists: L, layer: Int, idf: [Float],
                                               imageNorms: [Float], options: ScoringOptions = ScoringOptions()) throws -> [Float] {
    try LayerScorer(query: query, idf: idf, options: options).score(lists: lists, layer: layer, imageNorms: imageNorms)
}

/// popcount of a 128-bit value given as two words. With the release build's Haswell target
/// (Package.swift) each `nonzeroBitCount` is one POPCNT instruction; on the baseline target
/// Swift expands it to a bit-twiddling sequence.
@inline(__always)
func popcount128(_ a: UInt64, _ b: UInt64) -> Int {
    a.nonzeroBitCount &+ b.nonzeroBitCount
}
