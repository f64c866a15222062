import Foundation
import GlobalDescriptors
import Quantizer
import TesseraCore

/// Options of `tessera vocab train`.
public struct VocabularyBuildOptions: Sendable {
    /// Per-layer training (words, PCA, iterations, seed, HE bits, searcher). See `TrainOptions`.
    public var train = TrainOptions()
    /// At most this many patches of one image are kept (seeded uniform sample). Default 200.
    public var maxDescriptorsPerImage = 200
    /// At most this many descriptors per layer in total, kept by seeded reservoir sampling while
    /// images stream by, so memory stays bounded whatever the folder size. Default 500,000.
    public var maxDescriptors = 500_000
    /// Learn a PCA-whitening of the global descriptor on the same images. Default true.
    public var learnWhitening = true
    /// How that whitening is learned (covariance shrinkage). Default the sample covariance.
    public var whitening = WhiteningOptions()
    public init() {}
}

/// The outcome of training: the vocabulary, the whitening of global descriptors and the images skipped.
public struct BuiltVocabulary {
    public var vocabulary: Vocabulary
    public var whitening: PCAWhitening?
    public var skipped: [(path: String, reason: String)]

    /// Where `write(to:)` stages the whitening: present after the write only when the write
    /// was stopped before the pair was whole.
    static func stagedWhiteningURL(for url: URL) -> URL {
        SearchIndex.whiteningURL(for: url).appendingPathExtension("partial")
    }

    /// Writes the vocabulary to `url` and its whitening, if any, beside it
    /// (`SearchIndex.whiteningURL(for:)`), where `SearchIndex` finds it. The vocabulary records
    /// the whitening's checksum, or "none", so the pair is checked on load. Order: the whitening
    /// is staged under a temporary name, the vocabulary replaces the old one atomically, then the
    /// whitening is renamed into place; a kill at any point leaves the old pair, or a new
    /// vocabulary whose whitening is missing or stale, which loading refuses with the reason.
    public func write(to url: URL) throws {
        var v = vocabulary
        let whiteningURL = SearchIndex.whiteningURL(for: url)
        guard let whitening else {
            v.whiteningChecksum = "none"
            try v.write(to: url)
            try? FileManager.default.removeItem(at: whiteningURL)  // stale: the vocabulary says none
            return
        }
        let bytes = whitening.serialized()
        v.whiteningChecksum = PCAWhitening.fileChecksum(bytes)
        let staged = Self.stagedWhiteningURL(for: url)
        do { try Data(bytes).write(to: staged, options: .atomic) } catch {
            throw WhiteningError.io("cannot write \(staged.path): \(error.localizedDescription)")
        }
        try v.write(to: url)
        guard rename(staged.path, whiteningURL.path) == 0 else {
            throw WhiteningError.io("cannot move \(staged.lastPathComponent) to \(whiteningURL.path): "
                                    + String(cString: strerror(errno)))
        }
    }
}

/// Streams training images through the network, samples descriptors per layer and trains one
/// vocabulary per layer (METHOD.md §2).
public enum VocabularyBuilder {
    public static func build(images: [String], folderDescription: String, extractor: FeatureExtractor,
                             options: VocabularyBuildOptions, showProgress: Bool = true,
                             features: ((String) throws -> ExtractedImage)? = nil) throws -> BuiltVocabulary {
        let layers = extractor.patches.options.layers
        var reservoirs = layers.map { _ in Reservoir(capacity: options.maxDescriptors, seed: options.train.seed) }
        var globals = Matrix(rows: 0, cols: 0)
        var skipped: [(String, String)] = []
        var rng = SeededGenerator(seed: options.train.seed ^ 0xA11CE)
        var used = 0
        let bar = ProgressBar("images  ", total: images.count, enabled: showProgress)
        // Two threads describe the next images while this one samples (in the images' order,
        // so the reservoirs and the result are the same as one thread's).
        let prefetch = OrderedPrefetch(images, workers: 2) { path in
            try features?(path) ?? extractor.extract(path)
        }
        defer { prefetch.cancel() }
        while let (path, described) = prefetch.next() {
            do {
                let x = try described.get()
                let n = x.descriptors.patchCount
                var rows = Array(0..<n)
                if n > options.maxDescriptorsPerImage {
                    rows.shuffle(using: &rng)
                    rows = Array(rows.prefix(options.maxDescriptorsPerImage)).sorted()
                }
                for (l, key) in layers.enumerated() {
                    let m = x.descriptors.layers[key]!
                    for r in rows {
                        reservoirs[l].offer(m.data[(r * m.cols)..<((r + 1) * m.cols)], dim: m.cols, image: Int32(used))
                    }
                }
                globals.append(rowsOf: Matrix(rows: 1, cols: x.global.count, data: x.global))
                used += 1
            } catch {
                skipped.append((path, "\(error)"))
                bar.message("skipped: \(error)")
            }
            bar.advance()
        }
        guard used > 0 else { throw EngineError.invalidInput("no usable training image among \(images.count)") }
        var trained: [LayerVocabulary] = []
        for (l, key) in layers.enumerated() {
            let r = reservoirs[l]
            let data = Matrix(rows: r.count, cols: r.dim, data: r.values)
            var train = options.train
            let iterations = train.iterations
            let kbar = ProgressBar("k-means \(key)", total: iterations + 1, enabled: showProgress)
            train.progress = { p in
                if case .kMeans(_, let objective) = p {
                    kbar.advance(note: String(format: "objective %.4f", objective))
                }
            }
            trained.append(try VocabularyTrainer.train(layer: key, descriptors: data, imageOfRow: r.images,
                                                       imageCount: used, options: train))
        }
        let whitening = options.learnWhitening && globals.rows > 1
            ? try PCAWhitening.learn(from: globals, options: options.whitening) : nil
        let vocab = Vocabulary(layers: trained, modelSHA256: extractor.network.weightsSHA256,
                               patchSettings: extractor.settings.json(),
                               trainingSet: TrainingSetInfo(folder: folderDescription, imageCount: used,
                                                            descriptorCount: reservoirs.map(\.count).max() ?? 0))
        return BuiltVocabulary(vocabulary: vocab, whitening: whitening, skipped: skipped)
    }
}

/// Uniform reservoir sampling of descriptor rows (Vitter's algorithm R), seeded.
struct Reservoir {
    let capacity: Int
    var dim = 0
    var values: [Float] = []
    var images: [Int32] = []
    var seen = 0
    var rng: SeededGenerator
    init(capacity: Int, seed: UInt64) { self.capacity = capacity; rng = SeededGenerator(seed: seed) }
    var count: Int { images.count }

    mutating func offer(_ row: ArraySlice<Float>, dim d: Int, image: Int32) {
        dim = d
        seen += 1
        if images.count < capacity {
            values.append(contentsOf: row); images.append(image)
        } else {
            let j = Int.random(in: 0..<seen, using: &rng)
            if j < capacity {
                values.replaceSubrange((j * d)..<((j + 1) * d), with: row)
                images[j] = image
            }
        }
    }
}
