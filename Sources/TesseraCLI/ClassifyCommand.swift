import ArgumentParser
import Foundation
import Patches
import TesseraEngine

struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "ImageNet top-K classes of whole images (a sanity check of decoder and network).")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Classes per image.") var top = 5
    @Argument(help: "JPEG files.") var images: [String]

    func run() throws {
        let net = try ModelLocator.loadNetwork(explicit: modelOptions.model)
        let labels = ModelLocator.labels()
        var failed = 0
        for path in images {
            do {
                var image = try JPEGDecoder.decode(URL(fileURLWithPath: path), minLongSide: 224)
                // Network input: shorter side 224 (the training resolution), aspect kept.
                let s = 224.0 / Double(min(image.width, image.height))
                image = image.resized(width: max(1, Int((Double(image.width) * s).rounded())),
                                      height: max(1, Int((Double(image.height) * s).rounded())))
                let p = net.classify(image)
                if images.count > 1 { print("# \(path)") }
                for (rank, i) in p.indices.sorted(by: { p[$0] > p[$1] }).prefix(top).enumerated() {
                    let label = i < labels.count ? labels[i] : "?"
                    print("\(rank + 1)\t\(i)\t\(String(format: "%.4f", p[i]))\t\(label)")
                }
            } catch {
                failed += 1
                FileHandle.standardError.write("skipped: \(error)\n".data(using: .utf8)!)
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
