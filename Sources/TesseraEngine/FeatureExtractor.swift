import Foundation
import GlobalDescriptors
import Patches
import TesseraCore

/// Which whole-image map a global descriptor pools.
public enum GlobalSource: String, Sendable, Hashable, Codable, CaseIterable {
    /// The head (1280 channels, stride 32): the last conv layer.
    case head
    /// Block 11's expand output (672 channels, stride 16): a mid-level map with a smaller
    /// receptive field, closer to the parts of an object in clutter.
    case block11
    /// Both, CGD-style: the two multi-scale descriptors, each L2-normalised, concatenated, L2-normalised.
    case combined = "head+block11"

    /// The network's taps this source pools.
    var taps: [Tap] {
        switch self {
        case .head: return [.head]
        case .block11: return [.blockExpand(11)]
        case .combined: return [.head, .blockExpand(11)]
        }
    }
}

/// Options of the global descriptor pooled from a whole-image map (METHOD.md §5).
public struct GlobalDescriptorOptions: Sendable, Hashable, Codable {
    /// Pooling of the map. Default R-MAC (regional max-pooling): it keeps the layout of
    /// the scene and did best for reranking on both development sets (Bench/RESULTS.md).
    public var pooling: GlobalPooling = .rmac
    /// The map pooled. Default the head.
    public var source: GlobalSource = .head
    /// Extra scales (fractions of the patch image) whose descriptors are summed in; [] = single
    /// scale. Default 1/√2 and 1/2 (Radenović et al.'s multi-scale): 75% more pixels through the network.
    public var extraScales: [Double] = [0.7071, 0.5]

    public init(pooling: GlobalPooling = .rmac, source: GlobalSource = .head, extraScales: [Double] = [0.7071, 0.5]) {
        self.pooling = pooling; self.source = source; self.extraScales = extraScales
    }

    enum CodingKeys: String, CodingKey { case pooling, source, extraScales }

    /// Settings written before `source` existed read as the head.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pooling = try c.decode(GlobalPooling.self, forKey: .pooling)
        source = try c.decodeIfPresent(GlobalSource.self, forKey: .source) ?? .head
        extraScales = try c.decode([Double].self, forKey: .extraScales)
    }

    public var identity: String {
        "global=\(pooling.rawValue)" + (source == .head ? "" : "@\(source.rawValue)")
            + " scales=\(([1.0] + extraScales).map { String(format: "%.3f", $0) }.joined(separator: ","))"
    }

    /// A short name for reports: the pooling, the map when it is not the head, and the scales.
    public var name: String {
        pooling.rawValue + (source == .head ? "" : "@\(source.rawValue)")
            + (extraScales.isEmpty ? "" : " ×\(1 + extraScales.count) scales")
    }
}

/// One image, decoded and described: what indexing and querying need.
public struct ExtractedImage: Sendable {
    public var path: String
    public var contentHash: String
    /// Size of the image the patches were taken from (after the resize policy).
    public var width: Int
    public var height: Int
    public var descriptors: PatchDescriptors
    /// The image scale each patch was taken at (1 = the image itself), one per descriptor row.
    public var patchScales: [Float]
    /// The patches' side in pixels of the scale they were taken at (`PatchOptions.patchSize`).
    public var patchSide: Int
    /// L2-normalised global descriptor.
    public var global: [Float]
    /// Further global descriptors of the same image, when the extractor was asked for them
    /// (`FeatureExtractor.alsoDescribe`): benchmarks compare them without re-running the CNN.
    public var otherGlobals: [GlobalDescriptorOptions: [Float]] = [:]
    /// Seconds spent decoding and in the network.
    public var decodeSeconds: Double
    public var networkSeconds: Double

    /// Each patch's frame: its centre and side in this image's pixels (a patch taken at image
    /// scale s covers 224/s pixels of it).
    public var frames: [PatchFrame] {
        let patch = Float(patchSide)
        return zip(descriptors.positions, patchScales).map { p, s in
            let side = patch / s
            return PatchFrame(x: Float(p.x) + side / 2, y: Float(p.y) + side / 2, side: side)
        }
    }
}

/// File → decoded image → patch descriptors of every layer + the global descriptor, from
/// one forward pass plus one per extra global scale.
public final class FeatureExtractor: @unchecked Sendable {
    public let patches: PatchExtractor
    public let global: GlobalDescriptorOptions
    /// Patch descriptors from every scale's pass (`EngineSettings.multiScalePatches`).
    public let multiScalePatches: Bool
    /// Further global descriptors computed for `ExtractedImage.otherGlobals` (benchmarks).
    public var alsoDescribe: [GlobalDescriptorOptions] = []
    public var network: EfficientNetLite { patches.network }

    public init(network: EfficientNetLite, patchOptions: PatchOptions,
                global: GlobalDescriptorOptions = GlobalDescriptorOptions(), multiScalePatches: Bool = false) throws {
        self.patches = try PatchExtractor(network: network, options: patchOptions)
        self.global = global
        self.multiScalePatches = multiScalePatches
    }

    public convenience init(network: EfficientNetLite, settings: EngineSettings) throws {
        try self.init(network: network, patchOptions: settings.patch, global: settings.global,
                      multiScalePatches: settings.multiScalePatches)
    }

    /// The settings a vocabulary and an index built with this extractor record.
    public var settings: EngineSettings {
        EngineSettings(patch: patches.options, global: global, multiScalePatches: multiScalePatches)
    }

    /// Everything a vocabulary or an index depends on.
    public var identity: String {
        "model=\(network.weightsSHA256) \(patches.options.identity) \(global.identity)"
            + (multiScalePatches ? " patches=multi-scale" : "")
    }

    /// Everything a complete extraction (`extract(_:complete:)`) depends on: what a cache of
    /// them is keyed by, whichever global descriptor is primary and whether patches are multi-scale.
    public var completeIdentity: String {
        let globals = Set([global] + alsoDescribe).map(\.identity).sorted().joined(separator: ";")
        return "model=\(network.weightsSHA256) \(patches.options.identity) globals=\(globals) patches=all-scales"
    }

    /// Decodes and describes one image as the settings say.
    public func extract(_ path: String) throws -> ExtractedImage { select(try extract(path, complete: false)) }

    /// Decodes and describes a JPEG held in memory (an upload) as the settings say; `name`
    /// becomes the result's `path` and labels errors.
    public func extract(data: Data, name: String) throws -> ExtractedImage {
        select(try extract(data: data, name: name, complete: false))
    }

    /// Decodes and describes one image. `complete` takes patches at every scale whatever
    /// `multiScalePatches` says (for a cache that serves both; `select` picks the settings' part).
    public func extract(_ path: String, complete: Bool) throws -> ExtractedImage {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
              let data = try? Data(contentsOf: URL(fileURLWithPath: path)) else { throw ImageDecodeError.missing(path) }
        return try extract(data: data, name: path, complete: complete)
    }

    /// `extract(_:complete:)` of a JPEG held in memory.
    public func extract(data: Data, name: String, complete: Bool) throws -> ExtractedImage {
        let t0 = Date()
        let path = name
        let hash = SHA256.hex(data)
        let image = try patches.loadImage(data: data, name: path)
        let t1 = Date()
        let all = [global] + alsoDescribe
        let keep = Set(all.flatMap(\.source.taps)).subtracting([.head])
        var d = patches.describe(image, keeping: keep)
        var patchScales = [Float](repeating: 1, count: d.patchCount)
        // Whole-image maps by scale: the image itself, then every extra scale any descriptor uses.
        var mapsAt: [Double: [Tap: FeatureMap]] = [1: d.maps.merging([.head: d.headMap]) { a, _ in a }]
        for s in Set(all.flatMap(\.extraScales)).sorted(by: >) {
            let scaled = image.resized(width: max(32, Int(Double(image.width) * s)),
                                       height: max(32, Int(Double(image.height) * s)))
            if (complete || multiScalePatches) && scaled.width >= 224 && scaled.height >= 224 {
                let more = patches.describe(scaled, keeping: keep)
                mapsAt[s] = more.maps.merging([.head: more.headMap]) { a, _ in a }
                let scale = Double(scaled.width) / Double(image.width)
                d.append(more, scale: scale)
                patchScales += [Float](repeating: Float(scale), count: more.patchCount)
            } else {
                mapsAt[s] = network.forward(FeatureMap(networkInputFrom: scaled), taps: keep.union([.head]))
            }
        }
        func describe(_ o: GlobalDescriptorOptions) throws -> [Float] {
            let scales = [1.0] + o.extraScales
            let parts = try o.source.taps.map { tap in
                try GlobalDescriptor.describe(scales: scales.map { mapsAt[$0]![tap]! }, pooling: o.pooling)
            }
            return parts.count == 1 ? parts[0] : VectorMath.l2Normalized(parts.flatMap { $0 })
        }
        let g = try describe(global)
        var others: [GlobalDescriptorOptions: [Float]] = [:]
        for o in alsoDescribe where o != global { others[o] = try describe(o) }
        let t2 = Date()
        return ExtractedImage(path: path, contentHash: hash, width: image.width, height: image.height, descriptors: d,
                              patchScales: patchScales, patchSide: patches.options.patchSize, global: g,
                              otherGlobals: others,
                              decodeSeconds: t1.timeIntervalSince(t0), networkSeconds: t2.timeIntervalSince(t1))
    }

    /// The patches these settings use: those of the image itself unless `multiScalePatches`.
    public func select(_ x: ExtractedImage) -> ExtractedImage {
        guard !multiScalePatches, let first = x.patchScales.firstIndex(where: { $0 != 1 }) else { return x }
        var out = x
        out.descriptors.keepFirst(first)
        out.patchScales = Array(x.patchScales.prefix(first))
        return out
    }
}

extension PatchDescriptors {
    /// Keeps the first `n` patches (the image's own, before any other scale's).
    mutating func keepFirst(_ n: Int) {
        for (key, m) in layers { layers[key] = m.rows(Array(0..<n)) }
        positions = Array(positions.prefix(n))
    }

    /// Appends the patches of the same image described at `scale` (< 1) of its size: their
    /// descriptors after this image's, their positions in this image's pixels.
    mutating func append(_ other: PatchDescriptors, scale: Double) {
        for (key, m) in other.layers { layers[key]?.append(rowsOf: m) }
        positions += other.positions.map {
            (Int((Double($0.x) / scale).rounded()), Int((Double($0.y) / scale).rounded()))
        }
    }

    /// The descriptors of `key`, or an error naming the layers that are there.
    public func matrix(_ key: LayerKey) throws -> Matrix {
        guard let m = layers[key] else {
            let have = layers.keys.sorted().map(\.description).joined(separator: ", ")
            throw EngineError.invalidInput(
                "no descriptors for layer \(key) (have \(have)): vocabulary and patch settings do not match")
        }
        return m
    }
}
