import TesseraCore

/// Synthetic data made by the tests.
enum Synthetic {
    /// Uniform random n×d matrix in [-1, 1).
    static func uniform(_ n: Int, _ d: Int, seed: UInt64) -> Matrix {
        var g = SeededGenerator(seed: seed)
        return Matrix(rows: n, cols: d, data: (0..<(n * d)).map { _ in Float.random(in: -1..<1, using: &g) })
    }

    /// `clusters` well-separated Gaussian blobs (centres far apart, σ small), `perCluster` rows each,
    /// rows shuffled; returns the data and the true cluster of every row.
    static func blobs(clusters: Int, perCluster: Int, d: Int, sigma: Float = 0.05, seed: UInt64) -> (Matrix, [Int]) {
        var g = SeededGenerator(seed: seed)
        let centres = (0..<clusters).map { _ in (0..<d).map { _ in Float.random(in: -10..<10, using: &g) } }
        var labels = (0..<(clusters * perCluster)).map { $0 / perCluster }
        labels.shuffle(using: &g)
        var data = [Float]()
        for l in labels { for j in 0..<d { data.append(centres[l][j] + sigma * g.nextGaussian()) } }
        return (Matrix(rows: labels.count, cols: d, data: data), labels)
    }

    /// Brute-force nearest-k by direct squared differences (the reference).
    static func nearest(_ q: [Float], _ c: Matrix, k: Int) -> [(Int, Float)] {
        var all: [(Int, Float)] = []
        for r in 0..<c.rows {
            var s: Float = 0
            for j in 0..<c.cols { let t = q[j] - c[r, j]; s += t * t }
            all.append((r, s))
        }
        all.sort { a, b in a.1 != b.1 ? a.1 < b.1 : a.0 < b.0 }
        return Array(all.prefix(k))
    }
}
