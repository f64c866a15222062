import ArgumentParser
import TesseraEngine

extension GlobalPooling: ExpressibleByArgument {}
extension GlobalSource: ExpressibleByArgument {}

/// `--whitening-shrinkage`: how the global whitening's covariance is estimated.
enum ShrinkageChoice: String, ExpressibleByArgument {
    case none
    case ledoitWolf = "ledoit-wolf"
}

/// Vocabulary and global-descriptor flags, shared by `vocab train` and `bench`.
struct VocabularyFlags: ParsableArguments {
    @Option(help: "Visual words per layer (capped to descriptors / --min-per-word on small sets).") var words = 20_000
    @Option(help: "Training descriptors per word at least (caps --words).") var minPerWord = 32
    @Option(help: "PCA dimension before clustering (0 = none).") var pca = 128
    @Option(help: "Total descriptors kept per layer (reservoir sample).") var maxDescriptors = 500_000
    @Option(help: "Descriptors kept per image.") var maxPerImage = 200
    @Option(help: "k-means iterations.") var iterations = 10
    @Option(help: "Hamming-embedding bits (64, 128, 256).") var heBits = 128
    @Option(help: "Random seed (every step is reproducible from it).") var seed: UInt64 = 42
    @Flag(help: "Exact k-means (BLAS) instead of approximate k-means (k-d forest).") var exact = false
    @Option(help: "Global descriptor pooling (stored with the vocabulary; used for reranking).")
    var global: GlobalPooling = .rmac
    @Option(help: "The map the global descriptor pools: head, block11 or head+block11 (both, concatenated).")
    var globalSource: GlobalSource = .head
    @Option(help: "Extra scales of the global descriptor, comma-separated fractions (\"\" = single scale).")
    var globalScales = "0.7071,0.5"
    @Flag(help: "Multi-scale patches: also take patch descriptors at the extra scales (same vocabularies).")
    var multiScalePatches = false
    @Option(help: "Covariance of the global whitening: none (sample) or ledoit-wolf (shrunk towards the identity).")
    var whiteningShrinkage: ShrinkageChoice = .none

    func buildOptions() -> VocabularyBuildOptions {
        var o = VocabularyBuildOptions()
        o.train.words = words; o.train.minDescriptorsPerWord = minPerWord; o.train.pcaDims = pca
        o.train.iterations = iterations; o.train.heBits = heBits; o.train.seed = seed
        if exact { o.train.searcher = .exact }
        if whiteningShrinkage == .ledoitWolf { o.whitening.shrinkage = .ledoitWolf }
        o.maxDescriptors = maxDescriptors; o.maxDescriptorsPerImage = maxPerImage
        return o
    }

    func globalOptions() throws -> GlobalDescriptorOptions {
        var g = GlobalDescriptorOptions()
        g.pooling = global
        g.source = globalSource
        g.extraScales = try globalScales.split(separator: ",").map { s in
            guard let v = Double(s), v > 0, v <= 1 else {
                throw ValidationError("bad scale \(s): expected a fraction in (0, 1]")
            }
            return v
        }
        return g
    }
}
