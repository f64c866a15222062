import Foundation
import TesseraCore

public enum PatchError: Error, CustomStringConvertible {
    case unknownLayer(String)
    case badOptions(String)
    public var description: String {
        switch self {
        case .unknownLayer(let s):
            return "unknown layer \(s) (use blockN, blockN.expand, head or logits with /sum, /max or /fc)"
        case .badOptions(let s): return "bad patch options: \(s)"
        }
    }
}

/// Dense multi-layer CNN patch descriptors of one image (METHOD.md §1): 224×224 patches on a
/// stride-32 grid, activations of the requested layers pooled per patch (eq. 1–2), signed
/// square root and L2 per vector; plus the whole-image head map.
public final class PatchExtractor: @unchecked Sendable {
    public let network: EfficientNetLite
    public let options: PatchOptions

    public init(network: EfficientNetLite, options: PatchOptions) throws {
        self.network = network
        self.options = options
        guard options.patchSize > 0, options.stride > 0, options.maxSide >= 0 else {
            throw PatchError.badOptions("patch size, stride must be > 0 and max side ≥ 0")
        }
        if options.mode == .shared && (options.stride % 32 != 0 || options.patchSize % 32 != 0) {
            throw PatchError.badOptions("shared mode needs a stride and patch size that are multiples of 32")
        }
        for key in options.layers {
            switch (key.layer, key.pooling) {
            case ("logits", .fc): continue
            case (_, .fc): throw PatchError.unknownLayer(key.description)
            default:
                guard let tap = Tap(key.layer) else { throw PatchError.unknownLayer(key.description) }
                if case .blockExpand(let b) = tap, b >= network.blockCount {
                    throw PatchError.unknownLayer(key.description)
                }
                if case .blockOutput(let b) = tap, b >= network.blockCount {
                    throw PatchError.unknownLayer(key.description)
                }
            }
        }
    }

    /// The resize policy of `PatchOptions.maxSide`: target size for a `w`×`h` image.
    public func targetSize(width w: Int, height h: Int) -> (width: Int, height: Int) {
        var scale = options.maxSide > 0 ? Double(options.maxSide) / Double(max(w, h)) : 1
        if Double(min(w, h)) * scale < Double(options.patchSize) {
            scale = Double(options.patchSize) / Double(min(w, h))
        }
        if abs(scale - 1) < 1e-9 { return (w, h) }
        return (max(options.patchSize, Int((Double(w) * scale).rounded())),
                max(options.patchSize, Int((Double(h) * scale).rounded())))
    }

    /// Decodes `url` and applies the resize policy.
    public func loadImage(_ url: URL) throws -> RGBImage {
        let image = try JPEGDecoder.decode(url, minLongSide: options.maxSide)
        return try resizedForPatches(image, name: url.path)
    }

    /// Decodes a JPEG held in memory (`name` labels errors) and applies the resize policy.
    public func loadImage(data: Data, name: String) throws -> RGBImage {
        let image = try JPEGDecoder.decode(data, name: name, minLongSide: options.maxSide)
        return try resizedForPatches(image, name: name)
    }

    /// Images below 16 pixels on a side hold nothing to match and are refused.
    public static let minimumSide = 16

    func resizedForPatches(_ image: RGBImage, name: String) throws -> RGBImage {
        guard image.width >= Self.minimumSide && image.height >= Self.minimumSide else {
            throw ImageDecodeError.tooSmall(name, image.width, image.height)
        }
        let t = targetSize(width: image.width, height: image.height)
        return image.resized(width: t.width, height: t.height)
    }

    /// Top-left corners of the patch grid (row-major), anchored at the image's top-left.
    public func grid(width: Int, height: Int) -> [(x: Int, y: Int)] {
        let nx = max(0, (width - options.patchSize) / options.stride) + 1
        let ny = max(0, (height - options.patchSize) / options.stride) + 1
        var out: [(x: Int, y: Int)] = []
        for j in 0..<ny { for i in 0..<nx { out.append((i * options.stride, j * options.stride)) } }
        return out
    }

    var taps: Set<Tap> {
        var t: Set<Tap> = [.head]
        for key in options.layers where key.layer != "logits" { if let tap = Tap(key.layer) { t.insert(tap) } }
        return t
    }

    /// Descriptors of an already-resized image, and its whole-image maps of `keeping` (the
    /// head map always).
    public func describe(_ image: RGBImage, keeping: Set<Tap> = [],
                         profile: ForwardProfile? = nil) -> PatchDescriptors {
        switch options.mode {
        case .shared: return describeShared(image, keeping, profile)
        case .perPatch: return describePerPatch(image, keeping, profile)
        }
    }

    func describeShared(_ image: RGBImage, _ keeping: Set<Tap>, _ profile: ForwardProfile?) -> PatchDescriptors {
        let maps = network.forward(FeatureMap(networkInputFrom: image), taps: taps.union(keeping), profile: profile)
        let positions = grid(width: image.width, height: image.height)
        var layers: [LayerKey: Matrix] = [:]
        for key in options.layers {
            let tap: Tap = key.layer == "logits" ? .head : Tap(key.layer)!
            let s = network.geometry(of: tap).stride
            let xs = Array(Set(positions.map(\.x))).sorted().map { $0 / s }
            let ys = Array(Set(positions.map(\.y))).sorted().map { $0 / s }
            let pooled = ForwardProfile.measure(profile, "pooling") {
                WindowPooling.pool(maps[tap]!, xs: xs, ys: ys, side: options.patchSize / s, pooling: key.pooling)
            }
            var m = key.layer == "logits" ? network.logits(pooledHeads: pooled) : pooled
            signedSqrtL2(&m)
            layers[key] = m
        }
        var d = PatchDescriptors(layers: layers, positions: positions, headMap: maps[.head]!,
                                 width: image.width, height: image.height)
        for tap in keeping { d.maps[tap] = maps[tap] }
        return d
    }

    func describePerPatch(_ image: RGBImage, _ keeping: Set<Tap>, _ profile: ForwardProfile?) -> PatchDescriptors {
        let positions = grid(width: image.width, height: image.height)
        var layers: [LayerKey: Matrix] = [:]
        for key in options.layers { layers[key] = Matrix(rows: 0, cols: 0) }
        let p = options.patchSize
        for pos in positions {
            let crop = image.cropped(x: pos.x, y: pos.y, width: min(p, image.width - pos.x),
                                     height: min(p, image.height - pos.y))
            let maps = network.forward(FeatureMap(networkInputFrom: crop), taps: taps, profile: profile)
            for key in options.layers {
                let tap: Tap = key.layer == "logits" ? .head : Tap(key.layer)!
                let map = maps[tap]!
                let pooled = ForwardProfile.measure(profile, "pooling") {
                    WindowPooling.pool(map, xs: [0], ys: [0], side: max(map.width, map.height), pooling: key.pooling)
                }
                layers[key]!.append(rowsOf: key.layer == "logits" ? network.logits(pooledHeads: pooled) : pooled)
            }
        }
        for key in options.layers { signedSqrtL2(&layers[key]!) }
        let whole = network.forward(FeatureMap(networkInputFrom: image), taps: keeping.union([.head]), profile: profile)
        var d = PatchDescriptors(layers: layers, positions: positions, headMap: whole[.head]!,
                                 width: image.width, height: image.height)
        for tap in keeping { d.maps[tap] = whole[tap] }
        return d
    }
}
