// tessera-bench index [--images N] [--words K] [--per-image D] [--zipf S] [--query-words Q]
//                     [--queries R] [--rounds N] [--batch B] [--block-bytes N] [--max-block-bytes N] [--remove N]
//                     [--dir PATH] [--memory] [--keep] [--concurrency 1,4,16] [--fanout 8]
// Builds a synthetic index (Zipf-like word frequencies, random 128-bit signatures,
// no CNN) and measures size on disk, build time and the throughput of the product's
// posting scan (`LayerScorer`) against this machine's memory bandwidth; with --remove,
// the cost of removing images; with --concurrency, the index side of a query server (scan,
// fusion, top-K; one snapshot per query) under that many concurrent clients; with --fanout S,
// this index as one of S equal shards, each on a machine of its own (`measureFanout`).
import CPostingScan
import Foundation
import Fusion
import Index
import TesseraCore

private struct IndexBenchOptions {
    var images = 100_000          // images to index
    var words = 20_000            // vocabulary size per layer
    var layers = 3                // inverted files
    var perImage = 120            // descriptors per image per layer (k = 1 on the database side)
    var zipf = 0.8                // Zipf exponent of word frequencies (rank r has weight r^-s)
    var queryWords = 400          // distinct words scanned per layer and query
    var queries = 5               // queries timed
    var rounds = 3                // rounds over all methods and queries
    var batch = 1_000             // images per write transaction
    // tail size at which a word's postings are sealed into a block
    var blockBytes = IndexMeta.defaultPostingBlockBytes
    var maxBlockBytes = IndexMeta.defaultMaxPostingBlockBytes  // size up to which blocks are merged
    var dir: String? = nil        // index directory (default: a fresh temp directory)
    var memory = false            // also build MemoryInvertedLists and scan it
    var remove = 0                // images removed after the scans (spread evenly over the ids), timed
    var keep = false              // keep the index directory afterwards
    var concurrency: [Int] = []   // concurrent clients of the serving measurement (none: skipped)
    var fanout = 0                // shards of a simulated sharded index, this one of them (0: skipped)

    init(_ args: [String]) throws {
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < args.count else { throw IndexBenchError("missing value for \(args[i - 1])") }
            return args[i]
        }
        func int() throws -> Int {
            let v = try value()
            guard let n = Int(v), n > 0 else {
                throw IndexBenchError("\(args[i - 1]) needs a positive integer, got \(v)")
            }
            return n
        }
        while i < args.count {
            switch args[i] {
            case "--images": images = try int()
            case "--words": words = try int()
            case "--per-image": perImage = try int()
            case "--zipf":
                guard let s = Double(try value()), s >= 0 else { throw IndexBenchError("--zipf needs a number >= 0") }
                zipf = s
            case "--query-words": queryWords = try int()
            case "--queries": queries = try int()
            case "--rounds": rounds = try int()
            case "--batch": batch = try int()
            case "--block-bytes": blockBytes = try int()
            case "--max-block-bytes": maxBlockBytes = try int()
            case "--dir": dir = try value()
            case "--remove": remove = try int()
            case "--fanout": fanout = try int()
            case "--memory": memory = true
            case "--keep": keep = true
            case "--concurrency":
                concurrency = try value().split(separator: ",").map {
                    guard let c = Int($0), c > 0 else { throw IndexBenchError("--concurrency needs positive integers") }
                    return c
                }
            default: throw IndexBenchError("unknown option \(args[i])")
            }
            i += 1
        }
        guard queryWords <= words else { throw IndexBenchError("--query-words exceeds --words") }
    }
}

private struct IndexBenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Samples word ranks with P(r) ∝ (r + 1)^-s, then maps ranks to word ids by a fixed permutation.
private struct ZipfWords {
    let cdf: [Double]
    let wordOfRank: [UInt32]
    init(words: Int, exponent: Double, rng: inout SeededGenerator) {
        var c = [Double](), total = 0.0
        c.reserveCapacity(words)
        for r in 0..<words { total += pow(Double(r + 1), -exponent); c.append(total) }
        cdf = c.map { $0 / total }
        wordOfRank = (0..<UInt32(words)).shuffled(using: &rng)
    }
    func sample(_ rng: inout SeededGenerator) -> UInt32 {
        let u = Double(rng.next() >> 11) * 0x1p-53
        var lo = 0, hi = cdf.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cdf[mid] < u { lo = mid + 1 } else { hi = mid }
        }
        return wordOfRank[lo]
    }
}


/// Memory bandwidth as a sum of a 1 GiB buffer of UInt64, on one thread and on all cores.
/// Sampled once per round of the scans, so it meets the same conditions as they do.
private final class BandwidthProbe {
    private let buffer: UnsafeMutableBufferPointer<UInt64>
    private let threads = ProcessInfo.processInfo.activeProcessorCount
    private var sink: UInt64 = 0
    /// GB/s of each sample.
    private(set) var single: [Double] = [], all: [Double] = []

    init() {
        buffer = .allocate(capacity: (1 << 30) / 8)
        for i in buffer.indices { buffer[i] = UInt64(i) }
    }
    deinit { buffer.deallocate() }

    private func sum(_ range: Range<Int>) -> UInt64 {
        var a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, d: UInt64 = 0
        var i = range.lowerBound
        while i + 4 <= range.upperBound {
            a &+= buffer[i]; b &+= buffer[i + 1]; c &+= buffer[i + 2]; d &+= buffer[i + 3]; i += 4
        }
        while i < range.upperBound { a &+= buffer[i]; i += 1 }
        return a &+ b &+ c &+ d
    }

    func sample() {
        let bytes = Double(buffer.count * 8), count = buffer.count, threads = threads
        var t = now()
        sink &+= sum(0..<count)
        single.append(bytes / (now() - t) / 1e9)
        t = now()
        let partial = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: threads)
        DispatchQueue.concurrentPerform(iterations: threads) { k in
            partial[k] = sum((count * k / threads)..<(count * (k + 1) / threads))
        }
        sink &+= partial.reduce(0, &+)
        partial.deallocate()
        all.append(bytes / (now() - t) / 1e9)
        if sink == 42 { print("") }
    }
}

/// Bytes per posting with 128-bit signatures (`PostingLayout.stride(signatureWords: 2)`, checked
/// at the start of a run).
private let postingBytes = 20

/// One query: per layer, distinct words and one query signature (2 × UInt64) per word.
struct BenchQuery {
    var index: Int
    var words: [[UInt32]]
    var signatures: [[(UInt64, UInt64)]]

    /// Layer `l` as the quantiser would hand it to scoring, keeping the words k with
    /// k % parts == part (one thread's share).
    func layer(_ l: Int, part: Int = 0, of parts: Int = 1) -> QuantizedLayer {
        let keep = Array(Swift.stride(from: part, to: words[l].count, by: parts))
        return QuantizedLayer(count: keep.count, k: 1, signatureWords: 2, words: keep.map { words[l][$0] },
                              distances: [Float](repeating: 0, count: keep.count),
                              signatures: keep.flatMap { [signatures[l][$0].0, signatures[l][$0].1] })
    }
}

/// The product's Hamming filter alone (`tessera_hamming128_filter`, the CPU's best kernel, as
/// `LayerScorer` calls it) over blocks found before the timing starts: reading and comparing
/// every posting, without the lookups and without adding votes.
private final class FilterOnly {
    /// A layer's blocks in the order the reader lends them: start, postings, the next block's start.
    typealias Blocks = [(word: Int, start: UnsafeRawPointer?, count: Int, next: UnsafeRawPointer?)]
    private let capacity = 1 << 16
    private let images, runs: UnsafeMutablePointer<UInt32>
    private let distances: UnsafeMutablePointer<UInt8>
    private let kernel = tessera_hamming_best_kernel()
    private let limit: Int32

    init(threshold: Int) {
        images = .allocate(capacity: capacity)
        runs = .allocate(capacity: capacity)
        distances = .allocate(capacity: capacity)
        limit = Int32(threshold)
    }

    deinit { images.deallocate(); runs.deallocate(); distances.deallocate() }

    /// Every block of `words` in `layer`: LMDB's values stay valid while its snapshot is open.
    static func blocks(_ reader: some InvertedListsReader, layer: Int, words: [UInt32]) throws -> Blocks {
        var out = Blocks()
        try reader.forEachPostingBlock(layer: layer, words: words) { k, block, next in
            out.append((k, block.bytes.baseAddress, block.count, next))
        }
        return out
    }

    /// Filters every block against its word's query signature; returns the postings read.
    func run(_ blocks: Blocks, signatures: [(UInt64, UInt64)]) -> Int {
        blocks.reduce(0) { $0 + run($1.start, count: $1.count, next: $1.next, signatures[$1.word]) }
    }

    /// Filters one block of `count` postings at `start` against `q`; returns `count`.
    func run(_ start: UnsafeRawPointer?, count: Int, next: UnsafeRawPointer?, _ q: (UInt64, UInt64)) -> Int {
        var block = tessera_posting_block(postings: start?.assumingMemoryBound(to: UInt8.self), count: count,
                                          next: next?.assumingMemoryBound(to: UInt8.self))
        var p = 0
        while p < count {
            let m = min(count - p, capacity)
            _ = tessera_hamming128_filter(kernel, &block, p, m, q.0, q.1, limit,
                                          tessera_filter_hits(images: images, runs: runs, distances: distances))
            p += m
        }
        return count
    }
}

func runIndexBench(_ args: [String]) throws {
    let o = try IndexBenchOptions(args)
    precondition(PostingLayout.stride(signatureWords: 2) == postingBytes, "posting layout changed: update postingBytes")
    let dir = URL(fileURLWithPath: o.dir ?? NSTemporaryDirectory() + "tessera-index-bench-\(o.images)-\(getpid())")
    try? FileManager.default.removeItem(at: dir)
    defer { if !o.keep { try? FileManager.default.removeItem(at: dir) } }

    var rng = SeededGenerator(seed: 2016)
    let vocab = (0..<o.layers).map { _ in ZipfWords(words: o.words, exponent: o.zipf, rng: &rng) }
    let layerKeys = (0..<o.layers).map { LayerKey(layer: "synthetic\($0)", pooling: .max) }
    let meta = IndexMeta(identity: IndexIdentity(vocabularyID: "bench", modelSHA256: "none"),
                         patchSettings: "synthetic", layerKeys: layerKeys, signatureWords: 2,
                         postingBlockBytes: o.blockBytes, maxPostingBlockBytes: max(o.blockBytes, o.maxBlockBytes))
    let store = try IndexStore.create(at: dir, meta: meta)
    let memory = o.memory ? MemoryInvertedLists(layerCount: o.layers, signatureWords: 2) : nil

    print("## Index benchmark\n")
    print("Synthetic index: \(o.images) images × \(o.layers) layers × \(o.perImage) descriptors, "
        + "\(o.words) words per layer, Zipf exponent \(o.zipf), 128-bit signatures, batches of \(o.batch), "
        + "posting blocks sealed at \(o.blockBytes) bytes and merged up to \(max(o.blockBytes, o.maxBlockBytes)).\n")

    // Build.
    var genTime = 0.0, addTime = 0.0, memTime = 0.0
    var n = 0
    while n < o.images {
        let count = min(o.batch, o.images - n)
        var t = now()
        let batch = (0..<count).map { j -> NewImage in
            let layers = (0..<o.layers).map { l -> QuantizedLayer in
                let words = (0..<o.perImage).map { _ in vocab[l].sample(&rng) }
                let sigs = (0..<(2 * o.perImage)).map { _ in rng.next() }
                return QuantizedLayer(count: o.perImage, k: 1, signatureWords: 2, words: words,
                                      distances: [Float](repeating: 0, count: o.perImage), signatures: sigs)
            }
            return NewImage(path: "/synthetic/\(n + j).jpg", contentHash: "synthetic-\(n + j)", width: 640, height: 480,
                            norms: [Float](repeating: 1, count: o.layers), layers: layers)
        }
        genTime += now() - t
        t = now()
        let outcomes = try store.add(batch)
        addTime += now() - t
        if let memory {
            t = now()
            for (img, out) in zip(batch, outcomes) { try memory.add(id: out.id, layers: img.layers) }
            memTime += now() - t
        }
        n += count
    }
    let stats = try store.stats()
    let postings = stats.layers.reduce(0) { $0 + $1.postings }
    let mib = { (b: Int) in String(format: "%.1f MiB", Double(b) / 1048576) }
    print("| build | value |")
    print("|---|---|")
    print("| images | \(stats.images) |")
    print("| postings (all layers) | \(postings) "
        + "(\(String(format: "%.1f", Double(postings) / Double(stats.images))) per image) |")
    print("| synthetic data generation | \(String(format: "%.1f s", genTime)) |")
    print("| LMDB add (one write txn per batch) | "
        + String(format: "%.1f s, %.0f images/s, %.2f M postings/s",
                 addTime, Double(stats.images) / addTime, Double(postings) / addTime / 1e6)
        + " |")
    if o.memory { print("| MemoryInvertedLists add | \(String(format: "%.1f s", memTime)) |") }
    print("| bytes in use | \(mib(stats.bytesInUse)) (\(String(format: "%.0f", stats.bytesPerImage)) B per image) |")
    print("| raw posting bytes | \(mib(postings * postingBytes)) "
        + "(\(String(format: "%.0f", Double(postings * postingBytes) / Double(stats.images))) B per image) |")
    print("| data.mdb file size | \(mib(stats.fileBytes)) |")
    for l in stats.layers {
        let longest = l.longestLists.map { "\($0.postings)" }.joined(separator: ", ")
        print("| \(l.key): non-empty words / longest lists | \(l.nonEmptyWords) / \(longest) |")
        print(String(format: "| %@: sealed blocks / share of postings in them | %d / %.1f%% |", "\(l.key)",
                     l.sealedBlocks, 100 * Double(l.postingsInBlocks) / Double(max(l.postings, 1))))
    }
    print("")

    // Queries: distinct words per layer drawn from the same Zipf law (common words included, as in real queries).
    let queries = (0..<o.queries).map { index -> BenchQuery in
        var words = [[UInt32]](), sigs = [[(UInt64, UInt64)]]()
        for l in 0..<o.layers {
            var seen = Set<UInt32>(), list = [UInt32]()
            while list.count < o.queryWords {
                let w = vocab[l].sample(&rng)
                if seen.insert(w).inserted { list.append(w) }
            }
            words.append(list.sorted())
            sigs.append(list.map { _ in (rng.next(), rng.next()) })
        }
        return BenchQuery(index: index, words: words, signatures: sigs)
    }
    let bound = Int(stats.nextImageID)
    // Postings per query, counted from the index; every method must lend exactly these.
    let perQuery = try queries.map { q in try store.withSnapshot { s in
        try (0..<o.layers).reduce(0) { n, l in
            try n + q.words[l].reduce(0) { try $0 + s.postingCount(layer: l, word: $1) }
        }
    } }
    /// A timed method: name, threads it uses (nil: it reads no posting, so no throughput), and
    /// one query's run (returns postings lent).
    typealias ScanRun = (BenchQuery) throws -> Int
    var methods = [(name: String, threads: Int?, run: ScanRun)]()
    // The product's scoring loop (`LayerScorer`: HE weights, burstiness, norms; IDF and norms
    // all 1, one query assignment per word), prepared per query layer before timing.
    let unitIDF = [Float](repeating: 1, count: o.words)
    let scorers = try queries.map { q in try (0..<o.layers).map { try LayerScorer(query: q.layer($0), idf: unitIDF) } }
    let unitNorms = inverseNorms([Float](repeating: 1, count: bound))
    var scores = [Float](repeating: 0, count: bound)
    /// The scorers with the portable Hamming kernel, to compare with the CPU's best in the same run.
    let scalarScorers = scorers.map { $0.map { s -> LayerScorer in var s = s; s.hammingKernel = .scalar; return s } }
    func scorer<L: InvertedListsReader>(_ lists: L, kernel: HammingKernel = .best) -> ScanRun {
        { q in
            for k in scores.indices { scores[k] = 0 }
            return try (0..<o.layers).reduce(0) { n, l in
                let scorer = kernel == .scalar ? scalarScorers[q.index][l] : scorers[q.index][l]
                return try n + scorer.accumulate(lists: lists, layer: l, inverseNorms: unitNorms,
                                                 into: &scores).postings
            }
        }
    }
    // The same on every core: thread t scores the words k with k % T == t of each layer (its
    // own prepared scorers), on its own lists (one LMDB snapshot per thread), into its own
    // score array; the arrays are summed at the end, inside the timed region.
    let threads = ProcessInfo.processInfo.activeProcessorCount
    let threadScorers = try queries.map { q in try (0..<threads).map { t in
        try (0..<o.layers).map { try LayerScorer(query: q.layer($0, part: t, of: threads), idf: unitIDF) }
    } }
    var partials = (0..<threads).map { _ in [Float](repeating: 0, count: bound) }
    func parallel<L: InvertedListsReader>(_ withLists: @escaping (Int, (L) throws -> Int) throws -> Int) -> ScanRun {
        { q in
            let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: threads)
            defer { counts.deallocate() }
            let failure = UnsafeMutableBufferPointer<(any Error)?>.allocate(capacity: threads)
            failure.initialize(repeating: nil)
            defer { failure.deallocate() }
            partials.withUnsafeMutableBufferPointer { acc in
                DispatchQueue.concurrentPerform(iterations: threads) { t in
                    for k in acc[t].indices { acc[t][k] = 0 }
                    do {
                        counts[t] = try withLists(t) { lists in
                            try (0..<o.layers).reduce(0) { n, l in
                                try n + threadScorers[q.index][t][l].accumulate(lists: lists, layer: l,
                                                                                inverseNorms: unitNorms,
                                                                                into: &acc[t]).postings
                            }
                        }
                    } catch { failure[t] = error }
                }
            }
            if let e = failure.compactMap({ $0 }).first { throw e }
            for i in 0..<bound {
                var sum: Float = 0
                for t in 0..<threads { sum += partials[t][i] }
                scores[i] = sum
            }
            return counts.reduce(0, +)
        }
    }
    let threshold = ScoringOptions().threshold(bits: 128)
    let bandwidth = BandwidthProbe()
    let times = try store.withSnapshot { s -> [[Double]] in
        methods.append(("LMDB, 1 thread", 1, scorer(s)))
        if HammingKernel.best != .scalar {
            methods.append(("LMDB, 1 thread, portable C kernel (not \(HammingKernel.best))", 1,
                            scorer(s, kernel: .scalar)))
        }
        // The cost of finding and lending the blocks alone (no posting read): what LMDB adds.
        methods.append(("LMDB block lookup only (no scan)", nil, { q in
            var total = 0
            for l in 0..<o.layers {
                try s.forEachPostingBlock(layer: l, words: q.words[l]) { _, block, _ in total += block.count }
            }
            return total
        }))
        methods.append(("LMDB, \(threads) threads (one snapshot each)", threads,
                        parallel { _, body in try store.withSnapshot { try body($0) } }))
        if let memory {
            methods.append(("in memory (`MemoryInvertedLists`), 1 thread", 1, scorer(memory)))
            if HammingKernel.best != .scalar {
                methods.append(("in memory, 1 thread, portable C kernel", 1, scorer(memory, kernel: .scalar)))
            }
            methods.append(("in memory, \(threads) threads", threads, parallel { _, body in try body(memory) }))
        }
        // The Hamming filter alone, over blocks found before the timing: what reading and
        // comparing the postings costs, without the lookups and the votes.
        let filter = FilterOnly(threshold: threshold)
        let found = try queries.map { q in
            try (0..<o.layers).map { try FilterOnly.blocks(s, layer: $0, words: q.words[$0]) }
        }
        methods.append(("LMDB, Hamming filter alone (blocks found first, no votes)", 1, { q in
            (0..<o.layers).reduce(0) { $0 + filter.run(found[q.index][$1], signatures: q.signatures[$1]) }
        }))
        if let memory {
            // In memory the lookups are dictionary reads, so the lists are found inside the timing.
            methods.append(("in memory, Hamming filter alone (no votes)", 1, { q in
                var total = 0
                for l in 0..<o.layers {
                    try memory.forEachPostingBlock(layer: l, words: q.words[l]) { k, block, next in
                        total += filter.run(block.bytes.baseAddress, count: block.count, next: next, q.signatures[l][k])
                    }
                }
                return total
            }))
        }
        // Warm-up pass per method: the first touch of each mapped LMDB page costs a minor page
        // fault in this process; a serving process has paid it already. Then the methods take
        // turns, round after round, so a slow spell of this shared machine hits them alike; the
        // memory bandwidth is sampled once per round, between them.
        var times = [[Double]](repeating: [], count: methods.count)
        for round in -1..<o.rounds {
            if round >= 0 { bandwidth.sample() }
            for (m, method) in methods.enumerated() {
                for (i, q) in queries.enumerated() {
                    let t = now()
                    let lent = try method.run(q)
                    if round >= 0 { times[m].append(now() - t) }
                    guard lent == perQuery[i] else {
                        throw IndexBenchError(
                            "\(method.name) lent \(lent) postings for query \(i), the index counts \(perQuery[i])")
                    }
                }
            }
        }
        return times
    }
    let bw = (single: median(bandwidth.single), all: median(bandwidth.all))
    print("Query: \(o.queryWords) distinct words per layer (\(o.queryWords * o.layers) lists), one signature per word, "
        + "scored by `LayerScorer` (XOR + popcount per posting, HE threshold \(threshold), burstiness, norms) "
        + "into a dense Float array over \(bound) image ids; median over \(o.rounds) rounds × \(o.queries) queries, "
        + "the methods taking turns each round, after one warm-up pass "
        + "(page cache and this process's page tables warm). Share of memory bandwidth: "
        + "against the median of the bandwidth samples taken once per round, between the methods.\n")
    print("| scan | postings per query (mean) | time per query (median) | postings/s | posting GB/s "
        + "| share of memory bandwidth |")
    print("|---|---|---|---|---|---|")
    for (m, method) in methods.enumerated() {
        let time = median(times[m])
        let meanPostings = String(perQuery.reduce(0, +) / max(perQuery.count, 1))
        guard let threads = method.threads else {
            print(String(format: "| %@ | %@ | %.2f ms | — | — | — |", method.name, meanPostings, time * 1e3))
            continue
        }
        // Throughput per query, then the median of those (queries scan different amounts).
        let rate = median(zip(times[m], Array(repeating: perQuery, count: o.rounds).flatMap { $0 })
            .map { Double($1) / $0 })
        let gbs = rate * Double(postingBytes) / 1e9
        print(String(format: "| %@ | %@ | %.2f ms | %.1f M/s | %.2f GB/s | %.0f%% of %d-thread |",
                     method.name, meanPostings,
                     time * 1e3, rate / 1e6, gbs, 100 * gbs / (threads == 1 ? bw.single : bw.all), threads))
    }
    print("")
    print("| memory bandwidth (sum of a 1 GiB UInt64 buffer, once per round) | median GB/s | samples |")
    print("|---|---|---|")
    let samples = { (v: [Double]) in v.map { String(format: "%.2f", $0) }.joined(separator: ", ") }
    print(String(format: "| 1 thread | %.2f | %@ |", bw.single, samples(bandwidth.single)))
    print(String(format: "| %d threads | %.2f | %@ |", threads, bw.all, samples(bandwidth.all)))

    if !o.concurrency.isEmpty {
        try measureServing(store: store, queries: queries, scorers: scorers, inverseNorms: unitNorms,
                           layers: o.layers, concurrency: o.concurrency, rounds: o.rounds)
    }
    if o.fanout > 0 {
        try measureFanout(store: store, queries: queries, scorers: scorers, inverseNorms: unitNorms,
                          layers: o.layers, shards: o.fanout)
    }

    guard o.remove > 0 else { return }

    // Removal: one write transaction, as `tessera index remove` does; every removed image's
    // postings must be gone and no other posting touched.
    let step = max(1, o.images / o.remove)
    let paths = (0..<min(o.remove, o.images)).map { "/synthetic/\($0 * step).jpg" }
    let t = now()
    let removed = try store.remove(paths: paths)
    let removeTime = now() - t
    let left = try store.stats().layers.reduce(0) { $0 + $1.postings }
    guard removed == paths.count, left == postings - removed * o.perImage * o.layers else {
        throw IndexBenchError("removed \(removed) of \(paths.count) images, \(left) postings left of \(postings)")
    }
    print("")
    print("| removal (one write transaction, images spread over the ids) | value |")
    print("|---|---|")
    print("| images removed | \(removed) (every \(step)th) |")
    print(String(format: "| time | %.2f s, %.1f ms per image, %.0f images/s |",
                 removeTime, removeTime / Double(removed) * 1e3, Double(removed) / removeTime))
    print("| postings left (checked: exactly the removed images' postings gone) | \(left) |")
}
