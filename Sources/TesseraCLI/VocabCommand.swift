import ArgumentParser
import Foundation
import Fusion
import Quantizer
import TesseraCore
import TesseraEngine

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
    @OptionGroup var vocabulary: VocabularyFlags
    @Option(help: "Output vocabulary file.") var out: String

    func run() throws {
        let net = try ModelLocator.loadNetwork(explicit: modelOptions.model)
        let extractor = try FeatureExtractor(network: net, patchOptions: try patch.options(), global: try vocabulary.globalOptions())
        let o = vocabulary.buildOptions()
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
