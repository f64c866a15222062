import TesseraCore

/// Options of ``kMeans(data:options:searcher:progress:)``.
public struct KMeansOptions: Sendable {
    /// Number of centroids (clamped to the number of rows).
    public var k: Int
    /// Lloyd iterations (assignment + update), default 10.
    public var iterations: Int = 10
    /// Seed of every random choice (sample, k-means++ draws); same seed and data ⇒ bit-identical result.
    public var seed: UInt64 = 0x6B6D_6561_6E73
    /// k-means++ runs on a seeded sample of at most `plusPlusSamplePerCentroid · k` rows (default 4).
    public var plusPlusSamplePerCentroid: Int = 4
    /// Rounds of batched D² sampling (default 64): k-means++ picks ⌈k/rounds⌉ centres per round from
    /// the current D² distribution, then updates D² with one SGEMM. rounds ≥ k is exact k-means++.
    public var plusPlusRounds: Int = 64
    /// AKM refinement (default true): with a k-d forest, each row's previous centroid is checked
    /// first, so a row never moves to a farther centroid (Philbin et al.'s AKM keeps the objective
    /// from rising this way) and pruning starts tight; rows are also processed grouped by it.
    public var keepPreviousIfCloser: Bool = true
    public init(k: Int, iterations: Int = 10, seed: UInt64 = 0x6B6D_6561_6E73) {
        self.k = k; self.iterations = iterations; self.seed = seed
    }
}

/// The outcome of k-means.
public struct KMeansResult: Sendable {
    /// Final centroids (k×d).
    public var centroids: Matrix
    /// Nearest centroid of every row against the FINAL centroids (one extra assignment pass).
    public var assignment: [UInt32]
    /// Squared distance of every row to its assigned centroid.
    public var distances: [Float]
    /// Mean squared distance after each iteration's assignment step; the last entry is the final pass
    /// (so `iterations + 1` entries).
    public var objective: [Float]
    /// Number of rows per centroid in `assignment`.
    public var clusterSizes: [UInt32]
}

/// Lloyd's k-means whose assignment step is delegated to a nearest-centroid searcher built
/// by `searcher` over the current centroids at every iteration: exact k-means with
/// ``SearcherKind/exact``, approximate k-means (AKM, Philbin et al. CVPR 2007; MOF §2) with
/// ``SearcherKind/kdForest(_:)`` (the forest is rebuilt every iteration).
///
/// - Initialisation: k-means++ (D² sampling) on a seeded sample of ≤ `plusPlusSamplePerCentroid·k`
///   rows, batched in `plusPlusRounds` rounds (see ``KMeansOptions``).
/// - Empty input (no rows): returns no centroids.
/// - Update: centroid = mean of its rows (Double accumulation, parallel over centroids, so
///   the result does not depend on thread timing).
/// - Empty clusters: re-seeded by splitting the currently largest cluster: its centroid c
///   becomes c·(1+ε) and c·(1−ε) (ε = 1/1024), its size is halved (faiss's repair rule,
///   deterministic choice of the largest).
public func kMeans(data: Matrix, options: KMeansOptions, searcher kind: SearcherKind = .exact,
                   progress: ((Int, Float) -> Void)? = nil) -> KMeansResult {
    let n = data.rows, d = data.cols
    guard n > 0, d > 0 else {
        return KMeansResult(centroids: Matrix(rows: 0, cols: d), assignment: [], distances: [], objective: [],
                            clusterSizes: [])
    }
    let k = max(1, min(options.k, n))
    var rng = SeededGenerator(seed: options.seed)
    var centroids = kMeansPlusPlus(data: data, k: k, options: options, rng: &rng)
    var assignment = [UInt32](repeating: QuantizedLayer.none, count: n)
    var distances = [Float](repeating: 0, count: n)
    var objective: [Float] = []

    func assign() {
        let s = kind.make(centroids: centroids)
        if let forest = s as? KDForestSearcher {
            // AKM: previous assignment as hint, queries processed grouped by it (cache locality).
            let hints: [UInt32]? = options.keepPreviousIfCloser && assignment[0] != QuantizedLayer.none
                ? assignment : nil
            let order = hints.map { groupedOrder($0, k: k) }
            (assignment, distances) = forest.search(queries: data, k: 1, hints: hints, order: order)
        } else {
            (assignment, distances) = s.search(queries: data, k: 1)
        }
        var sum = 0.0
        for v in distances { sum += Double(v) }
        objective.append(Float(sum / Double(max(1, n))))
    }

    for it in 0..<max(0, options.iterations) {
        assign()
        progress?(it, objective.last!)
        centroids = updateCentroids(data: data, assignment: assignment, previous: centroids)
    }
    assign()
    progress?(options.iterations, objective.last!)
    var sizes = [UInt32](repeating: 0, count: k)
    for a in assignment where a != QuantizedLayer.none { sizes[Int(a)] += 1 }
    return KMeansResult(centroids: centroids, assignment: assignment, distances: distances,
                        objective: objective, clusterSizes: sizes)
}

/// Row indices sorted (stably) by their word: a counting sort.
func groupedOrder(_ words: [UInt32], k: Int) -> [Int32] {
    var start = [Int](repeating: 0, count: k + 2)
    for w in words { start[min(Int(w), k) + 1] += 1 }
    for j in 0...k { start[j + 1] += start[j] }
    var out = [Int32](repeating: 0, count: words.count)
    for (i, w) in words.enumerated() { let b = min(Int(w), k); out[start[b]] = Int32(i); start[b] += 1 }
    return out
}

/// Centroid update (mean of each cluster) with empty-cluster repair by splitting the largest cluster.
func updateCentroids(data: Matrix, assignment: [UInt32], previous: Matrix) -> Matrix {
    let n = data.rows, d = data.cols, k = previous.rows
    // Counting sort of rows by centroid, so every centroid sums its rows in increasing row order.
    var start = [Int](repeating: 0, count: k + 1)
    for a in assignment { start[Int(a) + 1] += 1 }
    for j in 0..<k { start[j + 1] += start[j] }
    var order = [Int32](repeating: 0, count: n)
    var fill = start
    for i in 0..<n { let a = Int(assignment[i]); order[fill[a]] = Int32(i); fill[a] += 1 }
    var out = previous
    out.withUnsafeMutableBufferPointer { op in
    data.withUnsafeBufferPointer { xp in
        let ob = op.baseAddress!, xb = xp.baseAddress!
        parallelChunks(count: k, chunk: 256) { range in
            var acc = [Double](repeating: 0, count: d)
            for c in range where start[c + 1] > start[c] {
                for j in 0..<d { acc[j] = 0 }
                for p in start[c]..<start[c + 1] {
                    let row = xb + Int(order[p]) * d
                    for j in 0..<d { acc[j] += Double(row[j]) }
                }
                let inv = 1.0 / Double(start[c + 1] - start[c])
                for j in 0..<d { ob[c * d + j] = Float(acc[j] * inv) }
            }
        }
    }}
    var sizes = (0..<k).map { start[$0 + 1] - start[$0] }
    let eps: Float = 1.0 / 1024
    for c in 0..<k where sizes[c] == 0 {
        var big = 0
        for j in 1..<k where sizes[j] > sizes[big] { big = j }
        if sizes[big] < 2 { break }
        for j in 0..<d {
            let v = out[big, j]
            out[c, j] = v * (1 + eps) + (j % 2 == 0 ? eps : -eps) * 1e-3
            out[big, j] = v * (1 - eps) - (j % 2 == 0 ? eps : -eps) * 1e-3
        }
        sizes[c] = sizes[big] / 2
        sizes[big] -= sizes[c]
    }
    return out
}

/// Batched k-means++ seeding on a seeded sample (see ``KMeansOptions``).
func kMeansPlusPlus(data: Matrix, k: Int, options: KMeansOptions, rng: inout SeededGenerator) -> Matrix {
    let n = data.rows, d = data.cols
    let m = min(n, max(k, options.plusPlusSamplePerCentroid * k))
    // Seeded sample without replacement (partial Fisher–Yates), kept in increasing row order.
    var sampleIdx: [Int]
    if m == n { sampleIdx = Array(0..<n) } else {
        var perm = Array(0..<n)
        for i in 0..<m { perm.swapAt(i, i + Int(rng.next() % UInt64(n - i))) }
        sampleIdx = Array(perm[0..<m]).sorted()
    }
    let sample = data.rows(sampleIdx)
    let sNorms = sample.withUnsafeBufferPointer { Kernels.rowNorms($0.baseAddress!, rows: m, d: d) }
    var chosen: [Int] = [Int(rng.next() % UInt64(m))]
    var isChosen = [Bool](repeating: false, count: m)
    isChosen[chosen[0]] = true
    var d2 = [Float](repeating: .infinity, count: m)
    let batch = max(1, (k + max(1, options.plusPlusRounds) - 1) / max(1, options.plusPlusRounds))
    var pending = chosen
    while true {
        // D² update against the newly chosen centres: one SGEMM.
        let centres = sample.rows(pending)
        let cNorms = centres.withUnsafeBufferPointer { Kernels.rowNorms($0.baseAddress!, rows: pending.count, d: d) }
        var prod = [Float](repeating: 0, count: m * pending.count)
        let pc = pending.count
        sample.withUnsafeBufferPointer { sp in
        centres.withUnsafeBufferPointer { cp in
        prod.withUnsafeMutableBufferPointer { pp in
        d2.withUnsafeMutableBufferPointer { dp in
            Kernels.sgemm(transB: true, m: m, n: pc, k: d, a: sp.baseAddress!, lda: d, b: cp.baseAddress!, ldb: d,
                          c: pp.baseAddress!, ldc: pc)
            let pb = pp.baseAddress!, db = dp.baseAddress!
            parallelChunks(count: m, chunk: 4096) { r in
                for i in r {
                    var best = db[i]
                    for j in 0..<pc { best = min(best, max(0, sNorms[i] + cNorms[j] - 2 * pb[i * pc + j])) }
                    db[i] = best
                }
            }
        }}}}
        if chosen.count >= k { break }
        // Prefix sums of D² over unchosen rows; each pick is a binary search (D² is fixed within a round).
        var prefix = [Double](repeating: 0, count: m)
        var total = 0.0
        for i in 0..<m { if !isChosen[i] { total += Double(d2[i]) }; prefix[i] = total }
        pending = []
        let want = min(batch, k - chosen.count)
        var attempts = 0
        while pending.count < want && attempts < 4 * want {
            attempts += 1
            var pick = -1
            if total > 0 {
                let u = Double(rng.next() >> 11) / Double(1 << 53) * total
                var lo = 0, hi = m - 1
                while lo < hi { let mid = (lo + hi) / 2; if prefix[mid] > u { hi = mid } else { lo = mid + 1 } }
                pick = lo
            }
            if pick < 0 {
                // All remaining rows coincide with centres: take any unchosen row.
                guard let free = isChosen.firstIndex(of: false) else { break }
                pick = free
            }
            if isChosen[pick] { continue }
            isChosen[pick] = true
            pending.append(pick)
        }
        if pending.isEmpty { break }
        chosen += pending
    }
    // Fewer distinct rows than k (degenerate data): repeat rows; empty-cluster repair splits later.
    while chosen.count < k { chosen.append(chosen[chosen.count % max(1, chosen.count)]) }
    return sample.rows(chosen)
}
