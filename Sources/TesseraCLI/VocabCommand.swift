import ArgumentParser
import Foundation
import Fusion
import Quantizer
import TesseraCore
import TesseraEngine

extension GlobalPooling: ExpressibleByArgument {}

struct VocabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vocab", abstract: "Train and inspect visual vocabularies.",
        subcommands: [VocabTrainCommand.self, VocabStatsCommand.self])
}

struct VocabTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Learn per-layer vocabularies (AKM), Hamming embeddings and IDF from a folder of images.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var patch: PatchFlags
    @Option(help: "Folder (searched recursively) or files of training images.") var images: [String]
    @Option(help: "Visual words per layer (capped to descriptors / --min-per-word on small sets).") var words = 20_000
    @Option(help: "Training descriptors per word at least (caps --words).") var minPerWord = 32
    @Option(help: "PCA dimension before clustering (0 = none).") var pca = 128
    @Option(help: "Total descriptors kept per layer (reservoir sample).") var maxDescriptors = 500_000
    @Option(help: "Descriptors kept per image.") var maxPerImage = 200
    @Option(help: "k-means iterations.") var iterations = 10
    @Option(help: "Hamming-embedding bits (64, 128, 256).") var heBits = 128
    @Option(help: "Random seed (every step is reproducible from it).") var seed: UInt64 = 42
    @Flag(help: "Exact k-means (BLAS) instead of approximate k-means (k-d forest).") var exact = false
    @Option(help: "Global descriptor pooling stored in indexes built with this vocabulary.") var global: GlobalPooling = .rmac
    @Option(help: "Extra scales of the global descriptor, comma-separated fractions (\"\" = single scale).") var globalScales = "0.7071,0.5"
    @Option(help: "Output vocabulary file.") var out: String

    func run() throws {
        let net = try ModelLocator.loadNetwork(explicit: modelOptions.model)
        var g = GlobalDescriptorOptions(); g.pooling = global
        g.extraScales = try parseScales(globalScales)
        let extractor = try FeatureExtractor(network: net, patchOptions: try patch.options(), global: g)
        var o = VocabularyBuildOptions()
        o.train.words = words; o.train.minDescriptorsPerWord = minPerWord; o.train.pcaDims = pca; o.train.iterations = iterations
        o.train.heBits = heBits; o.train.seed = seed
        if exact { o.train.searcher = .exact }
        o.maxDescriptors = maxDescriptors; o.maxDescriptorsPerImage = maxPerImage
        let files = ImageFiles.collect(images)
        guard !files.isEmpty else { throw ValidationError("no JPEG files under \(images.joined(separator: " "))") }
        let start = Date()
        let built = try VocabularyBuilder.build(images: files, folderDescription: images.joined(separator: " "),
                                                extractor: extractor, options: o)
        let url = URL(fileURLWithPath: out)
        try built.vocabulary.write(to: url)
        try built.whitening?.write(to: SearchIndex.whiteningURL(for: url))
        print("vocabulary: \(out)")
        print("trained on \(built.vocabulary.trainingSet.imageCount) images (\(built.skipped.count) skipped) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        for l in built.vocabulary.layers {
            print("  \(l.key): \(l.words) words, \(l.stats.descriptorCount) descriptors, dim \(l.inputDim) → \(l.centroids.cols), HE \(l.hamming.bits) bits, mean quantisation error \(String(format: "%.4f", l.stats.meanQuantizationError))")
        }
        if built.whitening != nil { print("global whitening: \(SearchIndex.whiteningURL(for: url).path)") }
        if !built.skipped.isEmpty { throw ExitCode(1) }
    }
}

struct VocabStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Per-layer statistics of a vocabulary file.")
    @Argument(help: "Vocabulary file.") var file: String

    func run() throws {
        let v = try Vocabulary.load(from: URL(fileURLWithPath: file))
        print("model sha256: \(v.modelSHA256)")
        print("training set: \(v.trainingSet.folder) — \(v.trainingSet.imageCount) images, \(v.trainingSet.descriptorCount) descriptors")
        print("settings: \(v.patchSettings)")
        print("layer\twords\tempty\tmin\tmedian\tmax\timbalance\tdescriptors\tquant.error\tpca\the_bits")
        for l in v.layers {
            let sizes = l.stats.clusterSizes.map(Int.init).sorted()
            let n = Double(sizes.reduce(0, +))
            // Imbalance factor (Jégou et al.): k · Σ p_i², 1 for perfectly even clusters.
            let imbalance = n > 0 ? Double(sizes.count) * sizes.reduce(0.0) { $0 + (Double($1) / n) * (Double($1) / n) } : 0
            print("\(l.key)\t\(l.words)\t\(sizes.filter { $0 == 0 }.count)\t\(sizes.first ?? 0)\t\(sizes.isEmpty ? 0 : sizes[sizes.count / 2])\t\(sizes.last ?? 0)\t\(String(format: "%.3f", imbalance))\t\(l.stats.descriptorCount)\t\(String(format: "%.4f", l.stats.meanQuantizationError))\t\(l.pca.map { "\(l.inputDim)→\($0.outputDim)" } ?? "none")\t\(l.hamming.bits)")
        }
    }
}
