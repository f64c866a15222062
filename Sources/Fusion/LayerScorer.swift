import CPostingScan
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
/// one table load per pair. The scan of a block never allocates; each `accumulate` call
/// allocates its vote queue once.
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
    /// Group g's assignments are rows `groupStart[g] ..< groupStart[g + 1]` of `buffers.signatures`.
    let groupStart: [Int]
    /// The query's signatures and the HE weight table, kept where the scan reads them in place.
    let buffers: ScanBuffers
    let signatureWords: Int
    let idfSquared: [Float]
    /// One past the largest d with w(d) ≠ 0 (d_t, or less when the table ends in zeros):
    /// a posting at d ≥ passLimit from every query row of its word casts no vote.
    let passLimit: Int
    /// ‖q‖ of this layer (see `imageNorm`).
    public let queryNorm: Float
    public let options: ScoringOptions
    /// The machine code of the Hamming filter in the common case (HE, 128 bits, tf_q = 1):
    /// the fastest this CPU runs, unless a benchmark or a test picks another to compare (one
    /// this CPU runs: `HammingKernel.isSupported`; setting another traps).
    public var hammingKernel: HammingKernel {
        get { kernel }
        set {
            precondition(newValue.isSupported, "this CPU does not run the \(newValue) Hamming kernel")
            kernel = newValue
        }
    }
    private var kernel = HammingKernel.best

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
        self.buffers = ScanBuffers(signatures: sigs, table: options.weightTable(bits: 64 * sw))
        self.signatureWords = sw
        self.idfSquared = idf2
        self.passLimit = (buffers.table.lastIndex { $0 != 0 } ?? -1) + 1
        self.queryNorm = imageNorm(query, idf: idf)
        self.options = options
    }

    /// Scans the lists of this query's words in `layer` and ADDS the normalised layer
    /// score S_l(q, I) of every image to `scores[I]` (MOF eq. 3–8 with normalisation).
    ///
    /// `imageNorms[I]` is ‖I‖ of this layer; an image whose norm is 0 (absent or removed)
    /// or whose id is not below `min(scores.count, imageNorms.count)` is skipped. Computes
    /// `inverseNorms(imageNorms)` on every call; a caller scoring many queries keeps that
    /// table and uses `accumulate(lists:layer:inverseNorms:into:)`.
    @discardableResult
    public func accumulate<L: InvertedListsReader>(lists: L, layer: Int, imageNorms: [Float],
                                                   into scores: inout [Float]) throws -> ScanStats {
        try accumulate(lists: lists, layer: layer, inverseNorms: inverseNorms(imageNorms), into: &scores)
    }

    /// `accumulate(lists:layer:imageNorms:into:)` with 1/‖I‖ given (`inverseNorms(_:)`; 0 for
    /// an absent or removed image, which therefore gains 0). Ids not below
    /// `min(scores.count, inverseNorms.count)` are skipped.
    @discardableResult
    public func accumulate<L: InvertedListsReader>(lists: L, layer: Int, inverseNorms: [Float],
                                                   into scores: inout [Float]) throws -> ScanStats {
        if options.hammingEmbedding && lists.signatureWords != signatureWords {
            throw ScoringError.signatureWidthMismatch(query: signatureWords, index: lists.signatureWords)
        }
        var stats = ScanStats()
        guard queryNorm > 0 else { return stats }
        let bound = min(scores.count, inverseNorms.count)
        let inverseQueryNorm = 1 / queryNorm
        try scores.withUnsafeMutableBufferPointer { out in
            try inverseNorms.withUnsafeBufferPointer { inv in
                let burstiness = BurstinessFactor(enabled: options.burstiness)
                let queue = VoteQueue(table: buffers.table, burstiness: burstiness, inverseNorms: inv,
                                      acc: UnsafeMutableBufferPointer(rebasing: out[0..<bound]))
                defer { queue.flush() }
                let scan = BlockScan(queries: buffers.signatures, signatureWords: signatureWords, table: buffers.table,
                                     passLimit: passLimit, kernel: kernel, burstiness: burstiness, inverseNorms: inv,
                                     acc: queue.acc, queue: queue)
                // All words in one walk, so the reader can name the next block for the
                // prefetch (`InvertedListsReader.forEachPostingBlock(layer:words:_:)`).
                try lists.forEachPostingBlock(layer: layer, words: words) { g, block, next in
                    let rows = groupStart[g]..<groupStart[g + 1]
                    // The factors of eq. 8 that are constant over the list: idf², 1/‖q‖, 1/√tf_q.
                    var scale = idfSquared[g] * inverseQueryNorm
                    if options.burstiness { scale /= Float(rows.count).squareRoot() }
                    stats.postings += block.count
                    stats.pairs += rows.count * block.count
                    // The queued votes go in before any direct add, so every image's votes are
                    // summed in word order whatever else the lists hold: its score does not depend
                    // on the other images (a shard and one index agree bit for bit).
                    if !options.hammingEmbedding {
                        queue.flush()
                        scan.addRuns(block, scale: scale) { _ in Float(rows.count) }
                    } else if signatureWords == 2 && rows.count == 1 {
                        scan.filter(block, next: next, row: rows.lowerBound, scale: scale)
                    } else {
                        queue.flush()
                        scan.addRuns(block, scale: scale) { p in scan.votes(block, posting: p, rows: rows) }
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
}

/// The burstiness factor 1/√tf_I(w) of a run of tf_I postings of one image (eq. 8), from a
/// table for short runs (no square root or division in the scan), or 1 when burstiness is off.
private struct BurstinessFactor {
    /// 1/√n for n < 64 (runs are short; longer ones compute it).
    private static let shared: UnsafeMutableBufferPointer<Float> = {
        let t = UnsafeMutableBufferPointer<Float>.allocate(capacity: 64)
        for n in 0..<64 { t[n] = n == 0 ? 0 : 1 / Float(n).squareRoot() }
        return t
    }()
    let enabled: Bool
    /// `shared`, read once here so the scan does not go through the static's accessor.
    private let table: UnsafeMutableBufferPointer<Float>

    init(enabled: Bool) {
        self.enabled = enabled
        self.table = Self.shared
    }

    @inline(__always) func callAsFunction(run: Int) -> Float {
        guard enabled else { return 1 }
        return run < table.count ? table[run] : 1 / Float(run).squareRoot()
    }
}

/// The scan of one block of a word's postings (an image's run never spans two blocks, so
/// tf_I(w) is a run length within the block), in one of two ways:
///
/// - `filter`, the common case (HE, 128 bits, one query row on the word): a pair votes only
///   when d < d_t, and most do not (unrelated signatures lie near bits/2 apart), so a C kernel
///   reads the signatures alone and lists the postings under the threshold (`HammingKernel`);
///   only those have their image id and run read, and their votes go through `VoteQueue`.
/// - `addRuns`, with several query rows on the word (tf_q > 1, where a posting votes far more
///   often) and for plain BoW (every posting votes): one run of an image per step, its votes
///   summed, then one add acc[I] += scale · Σvotes · (1/√tf_I) · (1/‖I‖).
private struct BlockScan {
    /// The query's signatures, `signatureWords` words per row.
    let queries: UnsafeBufferPointer<UInt64>
    let signatureWords: Int
    /// The HE weight w(d) (eq. 6) and one past the largest d with w(d) ≠ 0.
    let table: UnsafeBufferPointer<Float>
    let passLimit: Int
    let kernel: HammingKernel
    let burstiness: BurstinessFactor
    let inverseNorms: UnsafeBufferPointer<Float>
    let acc: UnsafeMutableBufferPointer<Float>
    let queue: VoteQueue

    /// The common case: the Hamming filter against query row `row`, hits into the queue.
    /// `next` is the block scanned after this one, if known: the filter's prefetch runs on into it.
    @inline(__always) func filter(_ list: PostingList, next: UnsafeRawPointer?, row: Int, scale: Float) {
        let n = list.count
        guard n > 0, let base = list.bytes.baseAddress else { return }
        var block = tessera_posting_block(postings: base.assumingMemoryBound(to: UInt8.self), count: n,
                                          next: next?.assumingMemoryBound(to: UInt8.self))
        let q0 = queries[2 * row], q1 = queries[2 * row + 1], limit = Int32(passLimit)
        // As many postings at a time as the queue has room for hits (at least
        // `capacity − batch`: the queue adds its votes once a batch has gathered).
        var p = 0
        while p < n {
            let m = min(n - p, VoteQueue.capacity - queue.count)
            let found = tessera_hamming128_filter(kernel.c, &block, p, m, q0, q1, limit, queue.free)
            queue.appended(found, scale: scale)
            p += m
        }
    }

    /// One run of an image per step: Σ `votes` over the run, then one add into acc[I].
    @inline(__always) func addRuns(_ list: PostingList, scale: Float, _ votes: (Int) -> Float) {
        let n = list.count
        var i = 0
        while i < n {
            let img = list.image(at: i)
            var v = votes(i)
            var j = i + 1
            while j < n && list.image(at: j) == img { v += votes(j); j += 1 }
            let id = Int(img)
            if id < acc.count { acc[id] += v * scale * burstiness(run: j - i) * inverseNorms[id] }
            i = j
        }
    }

    /// Σ over the query rows `rows` of the HE weight w(d) of posting `p` (eq. 5–6).
    @inline(__always) func votes(_ list: PostingList, posting p: Int, rows: Range<Int>) -> Float {
        let sw = signatureWords
        if sw == 2 {
            // Four independent accumulators break the add-latency chain (common words
            // gather many query assignments).
            let s0 = list.signatureWord(at: p, 0), s1 = list.signatureWord(at: p, 1)
            var v0: Float = 0, v1: Float = 0, v2: Float = 0, v3: Float = 0
            let end = 2 * rows.upperBound, end4 = 2 * rows.lowerBound + 8 * (rows.count / 4)
            var r = 2 * rows.lowerBound
            while r < end4 {
                v0 += table[popcount128(s0 ^ queries[r], s1 ^ queries[r + 1])]
                v1 += table[popcount128(s0 ^ queries[r + 2], s1 ^ queries[r + 3])]
                v2 += table[popcount128(s0 ^ queries[r + 4], s1 ^ queries[r + 5])]
                v3 += table[popcount128(s0 ^ queries[r + 6], s1 ^ queries[r + 7])]
                r += 8
            }
            while r < end {
                v0 += table[popcount128(s0 ^ queries[r], s1 ^ queries[r + 1])]
                r += 2
            }
            return (v0 + v1) + (v2 + v3)
        }
        var v: Float = 0
        for a in rows {
            var d = 0
            for t in 0..<sw { d += (list.signatureWord(at: p, t) ^ queries[a * sw + t]).nonzeroBitCount }
            v += table[d]
        }
        return v
    }
}

/// The votes of the common case (HE, 128 bits, tf_q = 1) on their way into the scores: the
/// Hamming filter (`HammingKernel`) writes its hits here, and the queue adds
/// acc[I] += w(d) · scale · (1/√tf_I) · (1/‖I‖) for each, in batches, out of line.
///
/// The loads of acc[I] and 1/‖I‖ land at random image ids; at 1M images those arrays are
/// 8 MB, four times the L2 cache, and the scan's stream of postings passes through L3
/// meanwhile. A batch first asks the cache for every vote's two lines, then adds, so that
/// their misses can overlap (the gain is measured in Bench/RESULTS.md, Index; the misses
/// themselves are not). The filter gives each hit its image and run, so a batch spans blocks
/// and words, each hit with its list's scale.
private final class VoteQueue {
    /// Hits the queue holds at most.
    static let capacity = 2048
    /// Hits gathered before they are added: the filter always has `capacity − batch` free.
    static let batch = 256

    private let images = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
    private let runs = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
    private let distances = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    private let scales = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
    /// Hits waiting.
    private(set) var count = 0

    /// The HE weight w(d) (eq. 6).
    let table: UnsafeBufferPointer<Float>
    let burstiness: BurstinessFactor
    let inverseNorms: UnsafeBufferPointer<Float>
    let acc: UnsafeMutableBufferPointer<Float>

    init(table: UnsafeBufferPointer<Float>, burstiness: BurstinessFactor, inverseNorms: UnsafeBufferPointer<Float>,
         acc: UnsafeMutableBufferPointer<Float>) {
        self.table = table
        self.burstiness = burstiness
        self.inverseNorms = inverseNorms
        self.acc = acc
    }

    deinit {
        images.deallocate()
        runs.deallocate()
        distances.deallocate()
        scales.deallocate()
    }

    /// Room for `capacity − count` more hits, for the filter.
    var free: tessera_filter_hits {
        tessera_filter_hits(images: images + count, runs: runs + count, distances: distances + count)
    }

    /// Takes the `n` hits the filter wrote into `free`, all from a list of this `scale`, and adds
    /// the batch once it is full.
    @inline(__always) func appended(_ n: Int, scale: Float) {
        for k in count..<(count + n) { scales[k] = scale }
        count += n
        if count >= VoteQueue.batch { flush() }
    }

    /// Adds every waiting vote: prefetches their acc[I] and 1/‖I‖, then adds.
    @inline(never) func flush() {
        guard count > 0, let scores = acc.baseAddress, let norms = inverseNorms.baseAddress else { return }
        for k in 0..<count {
            tessera_prefetch(scores + Int(images[k]))
            tessera_prefetch(norms + Int(images[k]))
        }
        for k in 0..<count {
            let id = Int(images[k])
            guard id < acc.count else { continue }
            acc[id] += table[Int(distances[k])] * scales[k] * burstiness(run: Int(runs[k])) * inverseNorms[id]
        }
        count = 0
    }
}

/// The query's signatures and HE weight table of one `LayerScorer`, in memory the scan reads
/// in place (no closure per buffer around the scan); freed with the scorer.
final class ScanBuffers: @unchecked Sendable {
    let signatures: UnsafeBufferPointer<UInt64>
    let table: UnsafeBufferPointer<Float>

    init(signatures: [UInt64], table: [Float]) {
        let s = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: signatures.count)
        _ = s.initialize(from: signatures)
        let t = UnsafeMutableBufferPointer<Float>.allocate(capacity: table.count)
        _ = t.initialize(from: table)
        self.signatures = UnsafeBufferPointer(s)
        self.table = UnsafeBufferPointer(t)
    }

    deinit {
        signatures.deallocate()
        table.deallocate()
    }
}

/// Scores one layer of `query` against `lists` (MOF eq. 3–8, normalised; see `LayerScorer`).
/// The result has `imageNorms.count` entries indexed by image id; images with norm 0 score 0.
public func scoreLayer<L: InvertedListsReader>(query: QuantizedLayer, lists: L, layer: Int, idf: [Float],
                                               imageNorms: [Float],
                                               options: ScoringOptions = ScoringOptions()) throws -> [Float] {
    try LayerScorer(query: query, idf: idf, options: options).score(lists: lists, layer: layer, imageNorms: imageNorms)
}

/// popcount of a 128-bit value given as two words. With the release build's Haswell target
/// (Package.swift) each `nonzeroBitCount` is one POPCNT instruction; on the baseline target
/// Swift expands it to a bit-twiddling sequence.
@inline(__always)
func popcount128(_ a: UInt64, _ b: UInt64) -> Int {
    a.nonzeroBitCount &+ b.nonzeroBitCount
}
