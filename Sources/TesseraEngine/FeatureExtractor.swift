import Foundation
import Fusion
import Patches
import TesseraCore

/// Options of the global descriptor pooled from the whole-image head map (METHOD.md §5).
public struct GlobalDescriptorOptions: Sendable, Equatable, Codable {
    /// Pooling of the head map. Default R-MAC (regional max-pooling): it keeps the layout of
    /// the scene and did best for reranking on both development sets (Bench/RESULTS.md).
    public var pooling: GlobalPooling = .rmac
    /// Extra scales (fractions of the patch image) whose descriptors are summed in; [] = single
    /// scale. Default 1/√2 and 1/2 (Radenović et al.'s multi-scale): 75% more pixels through the network.
    public var extraScales: [Double] = [0.7071, 0.5]
    public init() {}
    public var identity: String { "global=\(pooling.rawValue) scales=\(([1.0] + extraScales).map { String(format: "%.3f", $0) }.joined(separator: ","))" }
}

/// One image, decoded and described: what indexing and querying need.
public struct ExtractedImage: Sendable {
    public var path: String
    public var contentHash: String
    /// Size of the image the patches were taken from (after the resize policy).
    public var width: Int
    public var height: Int
    public var descriptors: PatchDescriptors
    /// L2-normalised global descriptor.
    public var global: [Float]
    /// Further global descriptors of the same map (single scale), when the extractor was asked
    /// for them (`FeatureExtractor.alsoPool`): benchmarks compare poolings without re-running the CNN.
    public var otherGlobals: [GlobalPooling: [Float]] = [:]
    /// Seconds spent decoding and in the network.
    public var decodeSeconds: Double
    public var networkSeconds: Double
}

/// File → decoded image → patch descriptors of every layer + the global descriptor, from
/// one forward pass (plus one per extra global scale).
public final class FeatureExtractor: @unchecked Sendable {
    public let patches: PatchExtractor
    public let global: GlobalDescriptorOptions
    /// Extra poolings computed for `ExtractedImage.otherGlobals`.
    public var alsoPool: [GlobalPooling] = []
    public var network: EfficientNetLite { patches.network }

    public init(network: EfficientNetLite, patchOptions: PatchOptions, global: GlobalDescriptorOptions = GlobalDescriptorOptions()) throws {
        self.patches = try PatchExtractor(network: network, options: patchOptions)
        self.global = global
    }

    /// Everything a vocabulary, an index or a cache of features depends on.
    public var identity: String { "model=\(network.weightsSHA256) \(patches.options.identity) \(global.identity)" }

    public func extract(_ path: String) throws -> ExtractedImage {
        let t0 = Date()
        let url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
              let data = try? Data(contentsOf: url) else { throw ImageDecodeError.missing(path) }
        let hash = SHA256.hex(data)
        let image = try patches.loadImage(data: data, name: path)
        let t1 = Date()
        let d = patches.describe(image)
        var maps = [d.headMap]
        for s in global.extraScales {
            let scaled = image.resized(width: max(32, Int(Double(image.width) * s)), height: max(32, Int(Double(image.height) * s)))
            maps.append(network.forward(FeatureMap(networkInputFrom: scaled), taps: [.head])[.head]!)
        }
        let g = try GlobalDescriptor.describe(scales: maps, pooling: global.pooling)
        var others: [GlobalPooling: [Float]] = [:]
        for p in alsoPool { others[p] = try GlobalDescriptor.describe(d.headMap, pooling: p) }
        let t2 = Date()
        return ExtractedImage(path: path, contentHash: hash, width: image.width, height: image.height, descriptors: d,
                              global: g, otherGlobals: others,
                              decodeSeconds: t1.timeIntervalSince(t0), networkSeconds: t2.timeIntervalSince(t1))
    }
}

extension PatchDescriptors {
    /// The descriptors of `key`, or an error naming the layers that are there.
    public func matrix(_ key: LayerKey) throws -> Matrix {
        guard let m = layers[key] else {
            throw EngineError.invalidInput("no descriptors for layer \(key) (have \(layers.keys.sorted().map(\.description).joined(separator: ", "))): vocabulary and patch settings do not match")
        }
        return m
    }
}
