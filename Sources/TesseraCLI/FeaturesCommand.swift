import ArgumentParser
import Foundation
import TesseraCore
import TesseraEngine

extension PatchMode: ExpressibleByArgument {}

/// Patch options as flags, shared by every command that extracts descriptors.
struct PatchFlags: ParsableArguments {
    @Option(help: "shared (one pass, windows of the maps) or per-patch (reference).") var mode: PatchMode = .shared
    @Option(help: """
        Descriptor layers, comma-separated LAYER/POOLING (blockN[.expand]/sum|max, head/sum|max, logits/fc).
        """)
    var layers: String = PatchOptions.defaultLayers.map(\.description).joined(separator: ",")
    @Option(help: "Longer image side after resizing (0 = native size).") var maxSide = 640
    @Option(help: "Patch grid stride in pixels.") var patchStride = 32

    func options() throws -> PatchOptions {
        var o = PatchOptions()
        o.mode = mode
        o.maxSide = maxSide
        o.stride = patchStride
        o.layers = try layers.split(separator: ",").map { s in
            guard let k = LayerKey(String(s)) else { throw ValidationError("bad layer \(s): expected LAYER/POOLING") }
            return k
        }
        return o
    }
}

struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Write an image's patch descriptors, grid and head map as NumPy .npy files.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var patch: PatchFlags
    @Option(help: "Output directory.") var out: String
    @Argument(help: "A JPEG file.") var image: String

    func run() throws {
        print(try FeatureDump.write(image: image, patchOptions: try patch.options(), modelPath: modelOptions.model,
                                    to: URL(fileURLWithPath: out)))
    }
}
