import ArgumentParser
import Foundation
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
    @Option(parsing: .upToNextOption, help: "Folders (searched recursively) or files of training images.")
    var images: [String]
    @OptionGroup var vocabulary: VocabularyFlags
    @Option(help: "Output vocabulary file.") var out: String

    func run() throws {
        let net = try ModelLocator.loadNetwork(explicit: modelOptions.model)
        let extractor = try FeatureExtractor(network: net, patchOptions: try patch.options(),
                                             global: try vocabulary.globalOptions(),
                                             multiScalePatches: vocabulary.multiScalePatches)
        let files = ImageFiles.collect(images)
        guard !files.isEmpty else { throw ValidationError("no JPEG files under \(images.joined(separator: " "))") }
        let start = Date()
        let built = try VocabularyBuilder.build(images: files, folderDescription: images.joined(separator: " "),
                                                extractor: extractor, options: vocabulary.buildOptions())
        let url = URL(fileURLWithPath: out)
        try built.write(to: url)
        print("vocabulary: \(out)")
        print("trained on \(built.vocabulary.trainingSet.imageCount) images (\(built.skipped.count) skipped) in "
              + String(format: "%.1f s", Date().timeIntervalSince(start)))
        for l in built.vocabulary.layerSummaries {
            print("  \(l.key): \(l.words) words, \(l.descriptors) descriptors, PCA \(l.pca), HE \(l.hammingBits) bits, "
                  + String(format: "mean quantisation error %.4f", l.meanQuantizationError))
        }
        if built.whitening != nil { print("global whitening: \(SearchIndex.whiteningURL(for: url).path)") }
        if !built.skipped.isEmpty { throw ExitCode(1) }
    }
}

struct VocabStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats",
                                                    abstract: "Per-layer statistics of a vocabulary file.")
    @Argument(help: "Vocabulary file.") var file: String

    func run() throws {
        let v = try Vocabulary.load(from: URL(fileURLWithPath: file))
        print("model sha256: \(v.modelSHA256)")
        print("training set: \(v.trainingSet.folder) — \(v.trainingSet.imageCount) images, "
              + "\(v.trainingSet.descriptorCount) descriptors")
        print("settings: \(v.patchSettings)")
        print("layer\twords\tempty\tmin\tmedian\tmax\timbalance\tdescriptors\tquant.error\tpca\the_bits")
        for l in v.layerSummaries {
            let fields: [String] = [l.key, "\(l.words)", "\(l.emptyWords)", "\(l.smallest)", "\(l.median)",
                                    "\(l.largest)", String(format: "%.3f", l.imbalance), "\(l.descriptors)",
                                    String(format: "%.4f", l.meanQuantizationError), l.pca, "\(l.hammingBits)"]
            print(fields.joined(separator: "\t"))
        }
        guard let w = try SearchIndex.loadWhitening(for: URL(fileURLWithPath: file), recorded: v.whiteningChecksum)
        else {
            print("global whitening: none")
            return
        }
        let n = w.trainingCount > 0 ? "\(w.trainingCount) training vectors" : "training vectors not recorded"
        print("global whitening: \(w.inputDimension) → \(w.outputDimension) dims, \(n), "
              + String(format: "covariance shrinkage %.3f", w.shrinkage))
        if w.trainingCount > 0 && w.trainingCount < 2 * w.inputDimension {
            print("  note: fewer than two training vectors per dimension; the sample covariance is noisy "
                  + "(a shrunk estimate, --whitening-shrinkage ledoit-wolf, bounds it)")
        }
    }
}
