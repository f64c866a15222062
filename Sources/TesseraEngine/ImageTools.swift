import Foundation
import Patches
import TesseraCore

/// ImageNet classification of whole images: a sanity check of the decoder and the network.
public struct ImageClassifier {
    let network: EfficientNetLite
    let labels: [String]

    public init(modelPath: String?) throws {
        network = try ModelLocator.loadNetwork(explicit: modelPath)
        labels = ModelLocator.labels()
    }

    /// The `top` classes of the image at `path`: (class index, probability, label), best first.
    /// The network sees the image with its shorter side at 224 (the training resolution).
    public func classify(_ path: String, top: Int) throws -> [(index: Int, probability: Float, label: String)] {
        var image = try JPEGDecoder.decode(URL(fileURLWithPath: path), minLongSide: 224)
        let s = 224.0 / Double(min(image.width, image.height))
        image = image.resized(width: max(1, Int((Double(image.width) * s).rounded())),
                              height: max(1, Int((Double(image.height) * s).rounded())))
        let p = network.classify(image)
        return p.indices.sorted { p[$0] > p[$1] }.prefix(top).map { ($0, p[$0], $0 < labels.count ? labels[$0] : "?") }
    }
}

/// Writes an image's patch descriptors, grid and head map as NumPy .npy files plus a
/// `manifest.json`, for inspection outside Tessera.
public enum FeatureDump {
    /// Returns a one-line summary of what was written into `directory`.
    public static func write(image: String, patchOptions: PatchOptions, modelPath: String?,
                             to directory: URL) throws -> String {
        let net = try ModelLocator.loadNetwork(explicit: modelPath)
        let extractor = try PatchExtractor(network: net, options: patchOptions)
        let d = extractor.describe(try extractor.loadImage(URL(fileURLWithPath: image)))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var files: [String: Any] = [:]
        for (key, m) in d.layers {
            let name = key.description.replacingOccurrences(of: "/", with: "_") + ".npy"
            try NpyFile.write(m, to: directory.appendingPathComponent(name))
            files[key.description] = ["file": name, "shape": [m.rows, m.cols]]
        }
        try NpyFile.write(d.positions.flatMap { [Float($0.x), Float($0.y)] }, shape: [d.patchCount, 2],
                          to: directory.appendingPathComponent("positions.npy"))
        let mapShape = [d.headMap.channels, d.headMap.height, d.headMap.width]
        try NpyFile.write(d.headMap.data, shape: mapShape, to: directory.appendingPathComponent("head_map.npy"))
        let manifest: [String: Any] = [
            "image": image, "width": d.width, "height": d.height, "patches": d.patchCount,
            "mode": patchOptions.mode.rawValue, "model_sha256": net.weightsSHA256,
            "layers": files, "positions": "positions.npy (x, y of each patch's top-left pixel)",
            "head_map": ["file": "head_map.npy", "shape": mapShape],
        ]
        let json = try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys])
        try json.write(to: directory.appendingPathComponent("manifest.json"))
        return "wrote \(d.patchCount) patches x \(d.layers.count) layers (\(d.width)x\(d.height)) to \(directory.path)"
    }
}
