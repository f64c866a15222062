import ArgumentParser
import Foundation
import Patches
import TesseraCore
import TesseraEngine

extension PatchMode: ExpressibleByArgument {}

/// Patch options as flags, shared by every command that extracts descriptors.
struct PatchFlags: ParsableArguments {
    @Option(help: "shared (one pass, windows of the maps) or per-patch (reference).") var mode: PatchMode = .shared
    @Option(help: "Descriptor layers, comma-separated LAYER/POOLING (blockN[.expand]/sum|max, head/sum|max, logits/fc).")
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
        let net = try ModelLocator.loadNetwork(explicit: modelOptions.model)
        let extractor = try PatchExtractor(network: net, options: try patch.options())
        let img = try extractor.loadImage(URL(fileURLWithPath: image))
        let d = extractor.describe(img)
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var files: [String: Any] = [:]
        for (key, m) in d.layers {
            let name = key.description.replacingOccurrences(of: "/", with: "_") + ".npy"
            try NpyFile.write(m, to: dir.appendingPathComponent(name))
            files[key.description] = ["file": name, "shape": [m.rows, m.cols]]
        }
        try NpyFile.write(d.positions.flatMap { [Float($0.x), Float($0.y)] }, shape: [d.patchCount, 2],
                          to: dir.appendingPathComponent("positions.npy"))
        try NpyFile.write(d.headMap.data, shape: [d.headMap.channels, d.headMap.height, d.headMap.width],
                          to: dir.appendingPathComponent("head_map.npy"))
        let manifest: [String: Any] = [
            "image": image, "width": d.width, "height": d.height, "patches": d.patchCount,
            "mode": patch.mode.rawValue, "model_sha256": net.weightsSHA256,
            "layers": files, "positions": "positions.npy (x, y of each patch's top-left pixel)",
            "head_map": ["file": "head_map.npy", "shape": [d.headMap.channels, d.headMap.height, d.headMap.width]],
        ]
        let json = try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys])
        try json.write(to: dir.appendingPathComponent("manifest.json"))
        print("wrote \(d.patchCount) patches x \(d.layers.count) layers (\(d.width)x\(d.height)) to \(out)")
    }
}
