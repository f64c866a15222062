import ArgumentParser
import Foundation
import TesseraEngine

struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "ImageNet top-K classes of whole images (a sanity check of decoder and network).")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Classes per image.") var top = 5
    @Argument(help: "JPEG files.") var images: [String]

    func run() throws {
        let classifier = try ImageClassifier(modelPath: modelOptions.model)
        var failed = 0
        for path in images {
            do {
                let classes = try classifier.classify(path, top: top)
                if images.count > 1 { print("# \(path)") }
                for (rank, c) in classes.enumerated() {
                    print("\(rank + 1)\t\(c.index)\t\(String(format: "%.4f", c.probability))\t\(c.label)")
                }
            } catch {
                failed += 1
                printError("skipped: \(error)")
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }
}

/// One line on standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
