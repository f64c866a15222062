import TesseraCore

/// Hamming embedding (Jégou, Douze & Schmid, ECCV 2008; MOF §2 and eq. 5–6): a random
/// orthogonal projection P (bits×d) and, per visual word and per bit, a threshold equal
/// to the median of the projected training descriptors assigned to that word. Bit b of a
/// descriptor's signature for word w is set iff (P·x)_b > threshold[w][b]; bit b lives in
/// bit b % 64 of the UInt64 word b / 64.
public struct HammingEmbedding: Sendable, Equatable {
    /// Words with fewer training descriptors than this use the global per-bit median (default 8).
    public static let minimumDescriptorsPerWord = 8

    /// Projection P (bits×d), rows orthonormal (see ``randomProjection(bits:dim:seed:)``).
    public var projection: Matrix
    /// Thresholds (words×bits), row w is word w's per-bit medians.
    public var thresholds: Matrix

    public var bits: Int { projection.rows }
    public var signatureWords: Int { (bits + 63) / 64 }

    public init(projection: Matrix, thresholds: Matrix) {
        self.projection = projection; self.thresholds = thresholds
    }

    /// A seeded random projection with orthonormal rows: modified Gram–Schmidt (in Double) on a
    /// Gaussian bits×d matrix. When bits > d, at most d rows can be orthogonal, so P is a stack of
    /// independent orthonormal blocks of ≤ d rows each.
    public static func randomProjection(bits: Int, dim: Int, seed: UInt64) -> Matrix {
        var rng = SeededGenerator(seed: seed)
        var out = [Float]()
        out.reserveCapacity(bits * dim)
        var block: [[Double]] = []
        for _ in 0..<bits {
            if block.count == dim { block = [] }
            var v: [Double]
            repeat {
                v = (0..<dim).map { _ in Double(rng.nextGaussian()) }
                for u in block {
                    var dot = 0.0
                    for j in 0..<dim { dot += u[j] * v[j] }
                    for j in 0..<dim { v[j] -= dot * u[j] }
                }
                let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                if norm > 1e-6 { for j in 0..<dim { v[j] /= norm }; break }
            } while true
            block.append(v)
            out += v.map { Float($0) }
        }
        return Matrix(rows: bits, cols: dim, data: out)
    }

    /// Learns the thresholds: per word and bit the median of the projections of the training
    /// rows assigned (nearest word) to it; words with < ``minimumDescriptorsPerWord`` rows get
    /// the global per-bit median. For an even count the median is the midpoint of the two
    /// middle values, so each bit splits a word's rows in half (±1).
    public static func train(projection: Matrix, data: Matrix, assignment: [UInt32], words: Int) -> HammingEmbedding {
        let n = data.rows, bits = projection.rows
        let proj = project(projection: projection, data)
        // Rows grouped by word (counting sort).
        var start = [Int](repeating: 0, count: words + 1)
        for a in assignment where a != QuantizedLayer.none { start[Int(a) + 1] += 1 }
        for j in 0..<words { start[j + 1] += start[j] }
        var order = [Int32](repeating: 0, count: start[words])
        var fill = start
        for i in 0..<n where assignment[i] != QuantizedLayer.none {
            let a = Int(assignment[i]); order[fill[a]] = Int32(i); fill[a] += 1
        }
        var global = [Float](repeating: 0, count: bits)
        var thr = Matrix(rows: words, cols: bits)
        proj.withUnsafeBufferPointer { pp in
        global.withUnsafeMutableBufferPointer { gp in
        thr.withUnsafeMutableBufferPointer { tp in
            let pb = pp.baseAddress!, gb = gp.baseAddress!, tb = tp.baseAddress!
            parallelChunks(count: bits, chunk: 1) { r in
                var col = [Float](repeating: 0, count: n)
                for b in r {
                    for i in 0..<n { col[i] = pb[i * bits + b] }
                    gb[b] = median(&col[...])
                }
            }
            parallelChunks(count: words, chunk: 128) { r in
                var col = [Float]()
                for w in r {
                    let m = start[w + 1] - start[w]
                    if m < minimumDescriptorsPerWord {
                        for b in 0..<bits { tb[w * bits + b] = gb[b] }
                        continue
                    }
                    for b in 0..<bits {
                        col.removeAll(keepingCapacity: true)
                        for p in start[w]..<start[w + 1] { col.append(pb[Int(order[p]) * bits + b]) }
                        tb[w * bits + b] = median(&col[...])
                    }
                }
            }
        }}}
        return HammingEmbedding(projection: projection, thresholds: thr)
    }

    /// P·x for every row of `x` (n×bits), one SGEMM.
    static func project(projection: Matrix, _ x: Matrix) -> Matrix {
        var out = Matrix(rows: x.rows, cols: projection.rows)
        x.withUnsafeBufferPointer { xp in
        projection.withUnsafeBufferPointer { pp in
        out.withUnsafeMutableBufferPointer { op in
            guard x.rows > 0 else { return }
            Kernels.sgemm(transB: true, m: x.rows, n: projection.rows, k: x.cols, a: xp.baseAddress!, lda: x.cols,
                          b: pp.baseAddress!, ldb: x.cols, c: op.baseAddress!, ldc: projection.rows)
        }}}
        return out
    }

    /// The signature of one descriptor (already in the vocabulary's space, i.e. after PCA) for `word`.
    public func signature(_ descriptor: [Float], word: UInt32) -> [UInt64] {
        signatures(Matrix(rows: 1, cols: descriptor.count, data: descriptor), words: [word], k: 1)
    }

    /// Signatures of n descriptors against k words each (`words` row-major n×k, e.g. a
    /// searcher's output): result is n·k·signatureWords UInt64s in the layout of
    /// ``QuantizedLayer``; assignments equal to `QuantizedLayer.none` get all-zero signatures.
    public func signatures(_ x: Matrix, words: [UInt32], k: Int) -> [UInt64] {
        precondition(x.cols == projection.cols, "HammingEmbedding: \(x.cols) columns, expected \(projection.cols)")
        precondition(words.count == x.rows * k, "HammingEmbedding: \(words.count) words for \(x.rows)×\(k)")
        let sw = signatureWords, bits = self.bits, n = x.rows
        let proj = HammingEmbedding.project(projection: projection, x)
        var out = [UInt64](repeating: 0, count: n * k * sw)
        out.withUnsafeMutableBufferPointer { op in
        proj.withUnsafeBufferPointer { pp in
        thresholds.withUnsafeBufferPointer { tp in
            let ob = op.baseAddress!, pb = pp.baseAddress!, tb = tp.baseAddress!
            parallelChunks(count: n, chunk: 2048) { r in
                for i in r {
                    let v = pb + i * bits
                    for j in 0..<k {
                        let w = words[i * k + j]
                        if w == QuantizedLayer.none { continue }
                        let t = tb + Int(w) * bits
                        let o = ob + (i * k + j) * sw
                        for s in 0..<sw {
                            var acc: UInt64 = 0
                            let hi = min(64, bits - 64 * s)
                            for b in 0..<hi where v[64 * s + b] > t[64 * s + b] { acc |= 1 << UInt64(b) }
                            o[s] = acc
                        }
                    }
                }
            }
        }}}
        return out
    }
}

/// Median of a non-empty slice (midpoint of the two middle values when even); reorders it.
func median(_ v: inout ArraySlice<Float>) -> Float {
    let n = v.count
    guard n > 0 else { return 0 }
    let lo = v.startIndex
    let upper = select(&v, lo + n / 2)
    if n % 2 == 1 { return upper }
    // The lower middle is the maximum of the part left of the upper middle.
    var lower = v[lo]
    for i in lo..<(lo + n / 2) where v[i] > lower { lower = v[i] }
    return lower / 2 + upper / 2
}

/// Quickselect: puts the element of rank `kth` (absolute index) in place, smaller ones before it.
private func select(_ v: inout ArraySlice<Float>, _ kth: Int) -> Float {
    var lo = v.startIndex, hi = v.endIndex - 1
    while lo < hi {
        let pivot = v[(lo + hi) / 2]
        var i = lo, j = hi
        while i <= j {
            while v[i] < pivot { i += 1 }
            while v[j] > pivot { j -= 1 }
            if i <= j { v.swapAt(i, j); i += 1; j -= 1 }
        }
        if kth <= j { hi = j } else if kth >= i { lo = i } else { break }
    }
    return v[kth]
}
