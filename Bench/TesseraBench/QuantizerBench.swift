// quantizer suite: AKM vs exact k-means training, k-d forest recall vs budget, assignment and
// Hamming-embedding throughput. Data: a float32 .npy (n×d) or a synthetic Gaussian mixture.
//   swift run -c release --scratch-path .build-quant TesseraBench quantizer \
//     [--npy FILE] [--n 50000] [--dim 128] [--k 2000] [--iterations 10] [--pca 0] [--trees 8]
//     [--checks 16,32,64,128,256,512] [--budget 256] [--queries 10000] [--seed 1]
//     [--write-npy FILE] [--skip-exact]      (--write-npy writes the data as clustered, after PCA)
// Compare with faiss: python3 Bench/faiss_kmeans.py --npy FILE --k K --iterations I
import Foundation
import Quantizer
import TesseraCore

func runQuantizerBench(_ args: [String]) throws {
    var opt: [String: String] = [:]
    var flags: Set<String> = []
    var i = 0
    while i < args.count {
        let a = args[i]
        guard a.hasPrefix("--") else { throw BenchError.usage("unexpected argument \(a)") }
        if a == "--skip-exact" { flags.insert(a); i += 1; continue }
        guard i + 1 < args.count else { throw BenchError.usage("\(a) needs a value") }
        opt[String(a.dropFirst(2))] = args[i + 1]; i += 2
    }
    func int(_ k: String, _ d: Int) throws -> Int {
        guard let s = opt[k] else { return d }
        guard let v = Int(s) else { throw BenchError.usage("--\(k) \(s) is not an integer") }
        return v
    }
    let seed = UInt64(try int("seed", 1))
    var data: Matrix
    var source: String
    if let path = opt["npy"] {
        data = try readNpy(path)
        let n = try int("n", data.rows)
        if n < data.rows { data = data.rows(Array(0..<n)) }
        source = "\(path) (first \(data.rows) rows)"
    } else {
        data = syntheticMixture(n: try int("n", 50_000), d: try int("dim", 128), seed: seed)
        source = "synthetic mixture (1000 Gaussian modes, L2-normalised)"
    }
    let pcaDims = try int("pca", 0)
    if pcaDims > 0 && pcaDims < data.cols {
        let t = Date()
        let p = try PCA.learn(data: data, outputDim: pcaDims)
        data = p.apply(data)
        print("PCA to \(pcaDims) dims: \(fmt(Date().timeIntervalSince(t))) s")
    }
    // The data as clustered (after PCA), so faiss can run on exactly the same input.
    if let out = opt["write-npy"] { try writeNpy(data, to: out) }
    let k = try int("k", 2000), iterations = try int("iterations", 10), trees = try int("trees", 8)
    let budget = try int("budget", KDForestOptions().maxLeafChecks)
    let leaf = try int("leaf", KDForestOptions().leafSize)
    let checks = (opt["checks"] ?? "8,16,32,64,128,256,512,1024").split(separator: ",").compactMap { Int($0) }
    let forest = KDForestOptions(trees: trees, maxLeafChecks: budget, leafSize: leaf, seed: seed)
    print("## Quantizer bench\n")
    print("Data: \(source), n = \(data.rows), d = \(data.cols); k = \(k), \(iterations) iterations, \(trees) trees, "
        + "\(ProcessInfo.processInfo.activeProcessorCount) cores\n")

    // 1. Training time, AKM vs exact.
    print("### k-means training (same k, iterations, seed)\n")
    print("| assigner | time (s) | s/iteration | final mean sq. error |")
    print("|---|---|---|---|")
    var opts = KMeansOptions(k: k, iterations: iterations, seed: seed)
    opts.keepPreviousIfCloser = true
    var t = Date()
    let akm = kMeans(data: data, options: opts, searcher: .kdForest(forest))
    var el = Date().timeIntervalSince(t)
    print("| AKM (k-d forest, \(trees) trees, \(budget) checks) | \(fmt(el)) | \(fmt(el / Double(iterations + 1))) "
        + "| \(akm.objective.last!) |")
    if !flags.contains("--skip-exact") {
        t = Date()
        let ex = kMeans(data: data, options: opts, searcher: .exact)
        el = Date().timeIntervalSince(t)
        print("| exact (BLAS) | \(fmt(el)) | \(fmt(el / Double(iterations + 1))) | \(ex.objective.last!) |")
    }
    print("\n(time includes k-means++ seeding and the final assignment pass: iterations + 1 assignments)\n")

    // 1b. One AKM assignment pass over all rows: plain, grouped by previous word, grouped + hint.
    print("### One AKM assignment pass over the \(data.rows) rows (\(budget) checks, AKM centroids)\n")
    print("| variant | wall (s) | CPU (s) | rows/s (wall) | mean sq. error |")
    print("|---|---|---|---|---|")
    let tb = Date()
    let fs = KDForestSearcher(centroids: akm.centroids, options: forest)
    print("Forest build (\(trees) trees over \(akm.centroids.rows) centroids): "
        + "\(fmt(Date().timeIntervalSince(tb), 3)) s\n")
    let grouped = groupByWord(akm.assignment, k: akm.centroids.rows)
    for (name, hints, order) in [("plain", nil, nil), ("grouped by previous word", nil, grouped),
                                 ("grouped + previous word as hint", akm.assignment, grouped)]
                                as [(String, [UInt32]?, [Int32]?)] {
        let (w0, c0) = (Date(), cpuSeconds())
        let r = fs.search(queries: data, k: 1, hints: hints, order: order)
        let (w, c) = (Date().timeIntervalSince(w0), cpuSeconds() - c0)
        let err = r.distances.reduce(0.0) { $0 + Double($1) } / Double(data.rows)
        print("| \(name) | \(fmt(w)) | \(fmt(c)) | \(Int(Double(data.rows) / w)) | \(fmt(err, 5)) |")
    }
    print("")

    // 2. Recall of the forest vs budget, on the AKM centroids.
    let nq = min(try int("queries", 10_000), data.rows)
    var g = SeededGenerator(seed: seed &+ 99)
    let qIdx = (0..<nq).map { _ in Int(g.next() % UInt64(data.rows)) }
    let queries = data.rows(qIdx)
    let exactS = ExactSearcher(centroids: akm.centroids)
    t = Date()
    let truth = exactS.search(queries: queries, k: 3)
    let exactRate = Double(nq) / Date().timeIntervalSince(t)
    print("### k-d forest recall of the exact nearest word (\(nq) queries from the data, \(k) AKM words)\n")
    print("recall@1: forest's nearest = exact nearest; recall@3: |forest top-3 ∩ exact top-3| / 3; "
        + "leaf size \(leaf)\n")
    print("| maxLeafChecks | recall@1 | recall@3 | descriptors/s (k=3) |")
    print("|---|---|---|---|")
    for c in checks {
        let s = KDForestSearcher(centroids: akm.centroids,
                                 options: KDForestOptions(trees: trees, maxLeafChecks: c, leafSize: leaf, seed: seed))
        t = Date()
        let r = s.search(queries: queries, k: 3)
        let rate = Double(nq) / Date().timeIntervalSince(t)
        var r1 = 0, r3 = 0
        for q in 0..<nq {
            let w = truth.words[q * 3]
            if r.words[q * 3] == w { r1 += 1 }
            let e3 = truth.words[(q * 3)..<(q * 3 + 3)]
            for j in 0..<3 where e3.contains(r.words[q * 3 + j]) { r3 += 1 }
        }
        print("| \(c) | \(fmt(Double(r1) / Double(nq), 3)) | \(fmt(Double(r3) / Double(3 * nq), 3)) | \(Int(rate)) |")
    }
    print("| exact | 1.000 | 1.000 | \(Int(exactRate)) |\n")

    // 3. HE signature throughput (128 bits) on the same queries.
    let proj = HammingEmbedding.randomProjection(bits: 128, dim: data.cols, seed: seed)
    t = Date()
    let he = HammingEmbedding.train(projection: proj, data: data, assignment: akm.assignment, words: akm.centroids.rows)
    let heTrain = Date().timeIntervalSince(t)
    t = Date()
    _ = he.signatures(queries, words: truth.words, k: 3)
    let heRate = Double(nq * 3) / Date().timeIntervalSince(t)
    print("### Hamming embedding (128 bits)\n")
    print("| step | result |")
    print("|---|---|")
    print("| train thresholds on \(data.rows) rows | \(fmt(heTrain)) s |")
    print("| signatures/s (k = 3 per descriptor) | \(Int(heRate)) |")
}

enum BenchError: Error, CustomStringConvertible {
    case usage(String), npy(String)
    var description: String {
        switch self { case .usage(let m): return "usage: \(m)"; case .npy(let m): return "npy: \(m)" }
    }
}

private func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

private func groupByWord(_ words: [UInt32], k: Int) -> [Int32] {
    var idx = Array(0..<words.count)
    idx.sort { (a: Int, b: Int) -> Bool in
        let wa = words[a], wb = words[b]
        return wa != wb ? wa < wb : a < b
    }
    return idx.map { Int32($0) }
}

private func fmt(_ x: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", x) }

/// A Gaussian mixture on the unit sphere: 1000 random modes, each row a mode plus noise, L2-normalised.
private func syntheticMixture(n: Int, d: Int, seed: UInt64) -> Matrix {
    var g = SeededGenerator(seed: seed)
    let modes = 1000
    let centres = (0..<(modes * d)).map { _ in g.nextGaussian() }
    var out = [Float](repeating: 0, count: n * d)
    for i in 0..<n {
        let m = Int(g.next() % UInt64(modes))
        var s: Float = 0
        for j in 0..<d {
            let v = centres[m * d + j] + 0.7 * g.nextGaussian()
            out[i * d + j] = v; s += v * v
        }
        let inv = 1 / max(s.squareRoot(), 1e-12)
        for j in 0..<d { out[i * d + j] *= inv }
    }
    return Matrix(rows: n, cols: d, data: out)
}

/// Reads a 2-d little-endian float32 C-order .npy file.
func readNpy(_ path: String) throws -> Matrix {
    let (values, shape) = try NpyFile.read(URL(fileURLWithPath: path))
    guard shape.count == 2 else { throw BenchError.npy("\(path): need a 2-d array, shape \(shape)") }
    return Matrix(rows: shape[0], cols: shape[1], data: values)
}

/// Writes a float32 C-order .npy (version 1.0).
func writeNpy(_ m: Matrix, to path: String) throws {
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(m.rows), \(m.cols)), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var b: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff),
                                                     UInt8(header.utf8.count >> 8)]
    b += Array(header.utf8)
    b.reserveCapacity(b.count + 4 * m.data.count)
    for v in m.data { withUnsafeBytes(of: v.bitPattern.littleEndian) { b += $0 } }
    guard FileManager.default.createFile(atPath: path, contents: Data(b)) else {
        throw BenchError.npy("cannot write \(path)")
    }
}

// vocabload suite: loading one vocabulary file either `mapped` (`Vocabulary.load`: the file is
// memory-mapped and its matrices used in place) or `copy` (the earlier path: the file mapped
// as `Data`, every section copied by `Vocabulary.decode`). Prints one Markdown row: resident
// memory growth of the first load (from /proc/self/status), the best of `repeats` load times
// (both include the k-d forest rebuild), and the best time to assign 20k uniform random
// descriptors per layer (k = 3, forest). Run each mode in a fresh process:
//   .build/release/TesseraBench vocabload FILE {mapped|copy} [repeats, default 5]
func runVocabLoadBench(_ args: [String]) throws {
    guard args.count >= 2, args[1] == "mapped" || args[1] == "copy" else {
        throw BenchError.usage("vocabload FILE {mapped|copy} [repeats]")
    }
    let url = URL(fileURLWithPath: args[0]), mapped = args[1] == "mapped"
    let repeats = max(1, args.count > 2 ? Int(args[2]) ?? 5 : 5)
    func load() throws -> Vocabulary {
        if mapped { return try Vocabulary.load(from: url) }
        let data = try Data(contentsOf: url, options: .alwaysMapped)
        return try data.withUnsafeBytes { try Vocabulary.decode($0) }
    }
    let before = procStatusKiB()
    var t = now()
    let v = try load()
    var loadTime = now() - t
    let after = procStatusKiB()
    for _ in 1..<repeats {
        t = now()
        let w = try load()
        loadTime = min(loadTime, now() - t)
        withExtendedLifetime(w) {}
    }
    let queries = v.layers.map { l -> Matrix in
        var g = SeededGenerator(seed: 7)
        return Matrix(rows: 20_000, cols: l.inputDim,
                      data: (0..<(20_000 * l.inputDim)).map { _ in Float.random(in: -1..<1, using: &g) })
    }
    var assignTime = Double.infinity
    for _ in 0..<repeats {
        t = now()
        for (l, q) in zip(v.layers, queries) { _ = try l.assign(q, k: 3) }
        assignTime = min(assignTime, now() - t)
    }
    func mib(_ k: String) -> String { f1(Double((after[k] ?? 0) - (before[k] ?? 0)) / 1024) }
    let size = Double((try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0) / 1_048_576
    print("| \(args[1]) | \(f1(size)) | \(v.layers.count) | \(mib("VmRSS")) | \(mib("RssAnon")) | \(mib("RssFile")) "
        + "| \(mib("VmHWM")) | \(f3(loadTime)) | \(f3(assignTime)) |")
}

/// The kB fields of /proc/self/status (VmRSS, RssAnon, RssFile, VmHWM, …).
private func procStatusKiB() -> [String: Int] {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return [:] }
    var out: [String: Int] = [:]
    for line in s.split(separator: "\n") where line.hasSuffix(" kB") {
        let parts = line.split(separator: ":")
        if parts.count == 2, let v = Int(parts[1].dropLast(3).trimmingCharacters(in: .whitespaces)) {
            out[String(parts[0])] = v
        }
    }
    return out
}
