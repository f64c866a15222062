import TesseraCore

/// A step of vocabulary training, reported to ``TrainOptions/progress``.
public enum TrainProgress: Sendable {
    case pca(inputDim: Int, outputDim: Int)
    case kMeans(iteration: Int, objective: Float)
    case hammingEmbedding(bits: Int)
    case done(seconds: Double)
}

/// Options of ``VocabularyTrainer/train(layer:descriptors:imageOfRow:imageCount:options:)``.
public struct TrainOptions: Sendable {
    /// Number of visual words (MOF default 20,000); capped to max(1, n / `minDescriptorsPerWord`)
    /// on small training sets.
    public var words: Int = 20_000
    /// Training descriptors per word at least (caps `words`). Default 32: the per-word HE
    /// medians and the IDF need a few dozen samples per word; with fewer, words become
    /// noise, so a small training set gets fewer, better-trained words (Bench/RESULTS.md,
    /// parameter sweeps: vocabulary size).
    public var minDescriptorsPerWord: Int = 32
    /// PCA output dimension (0 = no PCA; also none when ≥ the input dimension). Default 128: the
    /// k-d forest and k-means cost grow with d while recall of the forest falls with d, and
    /// 128 dims keep HE's 128 orthogonal bits possible.
    public var pcaDims: Int = 128
    /// PCA is learned on a seeded sample of at most this many rows (default 100,000).
    public var pcaSampleSize: Int = 100_000
    /// k-means iterations (default 10).
    public var iterations: Int = 10
    /// Seed of every random step (k-means, forest, HE projection, PCA sample).
    public var seed: UInt64 = 42
    /// Hamming-embedding bits: 64, 128 (MOF default) or 256.
    public var heBits: Int = 128
    /// Assignment step of k-means: AKM (k-d forest, default) or exact.
    public var searcher: SearcherKind = .kdForest(KDForestOptions())
    /// Called on each training step.
    public var progress: (@Sendable (TrainProgress) -> Void)? = nil
    public init() {}
}

/// Errors of vocabulary training.
public enum TrainError: Error, CustomStringConvertible {
    case emptyTrainingSet(LayerKey)
    case rowCountMismatch(descriptors: Int, imageOfRow: Int)
    case badImageIndex(row: Int, image: Int32, imageCount: Int)
    case unsupportedBits(Int)
    public var description: String {
        switch self {
        case .emptyTrainingSet(let k): return "no training descriptors for layer \(k)"
        case .rowCountMismatch(let d, let i): return "\(d) descriptor rows but \(i) image indices"
        case .badImageIndex(let r, let im, let n): return "row \(r): image index \(im) outside 0..<\(n)"
        case .unsupportedBits(let b): return "Hamming embedding bits must be 64, 128 or 256, got \(b)"
        }
    }
}

/// Trains one layer's vocabulary: PCA → (A)KM → Hamming embedding → IDF.
public enum VocabularyTrainer {
    public static func train(layer: LayerKey, descriptors: Matrix, imageOfRow: [Int32], imageCount: Int,
                             options: TrainOptions) throws -> LayerVocabulary {
        let clock = ContinuousClock.now
        let n = descriptors.rows
        guard n > 0, descriptors.cols > 0 else { throw TrainError.emptyTrainingSet(layer) }
        guard imageOfRow.count == n else {
            throw TrainError.rowCountMismatch(descriptors: n, imageOfRow: imageOfRow.count)
        }
        if let bad = imageOfRow.firstIndex(where: { $0 < 0 || Int($0) >= imageCount }) {
            throw TrainError.badImageIndex(row: bad, image: imageOfRow[bad], imageCount: imageCount)
        }
        guard [64, 128, 256].contains(options.heBits) else { throw TrainError.unsupportedBits(options.heBits) }
        var rng = SeededGenerator(seed: options.seed)
        var pca: PCA? = nil
        var x = descriptors
        if options.pcaDims > 0 && options.pcaDims < descriptors.cols {
            options.progress?(.pca(inputDim: descriptors.cols, outputDim: options.pcaDims))
            let sample: Matrix
            if n > options.pcaSampleSize {
                var perm = Array(0..<n)
                for i in 0..<options.pcaSampleSize { perm.swapAt(i, i + Int(rng.next() % UInt64(n - i))) }
                sample = descriptors.rows(Array(perm[0..<options.pcaSampleSize]).sorted())
            } else { sample = descriptors }
            let p = try PCA.learn(data: sample, outputDim: options.pcaDims)
            x = p.apply(descriptors)
            pca = p
        }
        let words = max(1, min(options.words, n / max(1, options.minDescriptorsPerWord)))
        var km = KMeansOptions(k: words, iterations: options.iterations, seed: rng.next())
        km.keepPreviousIfCloser = true
        let progress = options.progress
        let result = kMeans(data: x, options: km, searcher: options.searcher) {
            progress?(.kMeans(iteration: $0, objective: $1))
        }
        options.progress?(.hammingEmbedding(bits: options.heBits))
        let projection = HammingEmbedding.randomProjection(bits: options.heBits, dim: x.cols, seed: rng.next())
        let he = HammingEmbedding.train(projection: projection, data: x, assignment: result.assignment, words: words)
        let idf = LayerVocabulary.inverseDocumentFrequency(assignment: result.assignment, imageOfRow: imageOfRow,
                                                           imageCount: imageCount, words: words)
        var forest: KDForestOptions
        if case .kdForest(let o) = options.searcher { forest = o } else { forest = KDForestOptions() }
        forest.seed = options.seed
        let stats = LayerTrainingStats(descriptorCount: n, imageCount: imageCount,
                                       meanQuantizationError: result.objective.last ?? 0,
                                       clusterSizes: result.clusterSizes)
        let v = LayerVocabulary(key: layer, pca: pca, centroids: result.centroids, hamming: he, idf: idf,
                                stats: stats, forestOptions: forest)
        let el = ContinuousClock.now - clock
        options.progress?(.done(seconds: Double(el.components.seconds) + Double(el.components.attoseconds) * 1e-18))
        return v
    }
}
