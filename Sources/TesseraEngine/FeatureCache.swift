import Foundation
import GlobalDescriptors
import Patches
import TesseraCore

/// A disk cache of extracted features, so a benchmark rerun with other scoring options
/// skips the CNN. It stores complete extractions (`FeatureExtractor.extract(_:complete:)`:
/// patches at every scale, every global descriptor asked for) and hands out the part the
/// extractor's settings use, so runs with or without multi-scale patches, or with another of
/// those descriptors as the primary one, share entries. Key = SHA-256 of
/// (`FeatureExtractor.completeIdentity`, the file's content hash).
///
/// Entry layout (little-endian): magic "TSFC", version u32 (= 2), then length-prefixed UTF-8
/// path and content hash, width, height, patch count (u32 each), layer count u32 and per layer
/// [key string, rows u32, cols u32, rows·cols f32], the global descriptors [count u32, then per
/// entry its `GlobalDescriptorOptions.identity` string, count u32, f32…], the positions
/// [x u32, y u32] and the scale of each patch [f32]. Maps are not stored.
public final class FeatureCache: @unchecked Sendable {
    public let directory: URL
    let extractor: FeatureExtractor
    let prefix: String
    public private(set) var hits = 0, misses = 0

    public init(directory: URL, extractor: FeatureExtractor) throws {
        self.directory = directory
        self.extractor = extractor
        self.prefix = extractor.completeIdentity
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Features of `path` as the extractor's settings use them, from the cache when present,
    /// else extracted completely and stored.
    public func features(_ path: String) throws -> ExtractedImage {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)) else { throw ImageDecodeError.missing(path) }
        let key = SHA256.hex(Array((prefix + " " + SHA256.hex(data)).utf8))
        let file = directory.appendingPathComponent(key + ".feat")
        let descriptors = [extractor.global] + extractor.alsoDescribe
        if let cached = try? Data(contentsOf: file),
           var x = Self.decode(cached, primary: extractor.global, descriptors: descriptors,
                               patchSide: extractor.patches.options.patchSize) {
            hits += 1
            x.path = path
            x.decodeSeconds = 0
            x.networkSeconds = 0
            return extractor.select(x)
        }
        misses += 1
        let x = try extractor.extract(path, complete: true)
        // A cache that cannot be written only costs time; the features are returned all the same.
        try? Self.encode(x, primary: extractor.global).write(to: file, options: .atomic)
        return extractor.select(x)
    }

    static func encode(_ x: ExtractedImage, primary: GlobalDescriptorOptions) -> Data {
        var w = ByteWriter()
        w.bytes(Array("TSFC".utf8))
        w.u32(2)
        w.string(x.path)
        w.string(x.contentHash)
        w.u32(x.width)
        w.u32(x.height)
        w.u32(x.descriptors.patchCount)
        let layers = x.descriptors.layers.sorted { $0.key < $1.key }
        w.u32(layers.count)
        for (k, m) in layers {
            w.string(k.description)
            w.u32(m.rows)
            w.u32(m.cols)
            w.floats(m.data)
        }
        let globals = ([(primary.identity, x.global)] + x.otherGlobals.map { ($0.key.identity, $0.value) })
            .sorted { $0.0 < $1.0 }
        w.u32(globals.count)
        for (identity, v) in globals {
            w.string(identity)
            w.u32(v.count)
            w.floats(v)
        }
        for p in x.descriptors.positions {
            w.u32(p.x)
            w.u32(p.y)
        }
        w.floats(x.patchScales)
        return Data(w.out)
    }

    /// Decodes an entry; `primary` becomes `global`, the other `descriptors` found `otherGlobals`.
    static func decode(_ d: Data, primary: GlobalDescriptorOptions, descriptors: [GlobalDescriptorOptions],
                       patchSide: Int) -> ExtractedImage? {
        var r = ByteReader(bytes: [UInt8](d))
        guard r.bytes(4) == Array("TSFC".utf8), r.u32() == 2,
              let path = r.string(), let hash = r.string(), let width = r.u32(), let height = r.u32(),
              let patches = r.u32(), let nl = r.u32() else { return nil }
        var layers: [LayerKey: Matrix] = [:]
        for _ in 0..<nl {
            guard let ks = r.string(), let key = LayerKey(ks), let rows = r.u32(), let cols = r.u32(),
                  let v = r.floats(rows * cols) else { return nil }
            layers[key] = Matrix(rows: rows, cols: cols, data: v)
        }
        guard let ng = r.u32() else { return nil }
        let byIdentity = Dictionary(descriptors.map { ($0.identity, $0) }) { a, _ in a }
        var globals: [GlobalDescriptorOptions: [Float]] = [:]
        for _ in 0..<ng {
            guard let identity = r.string(), let c = r.u32(), let v = r.floats(c) else { return nil }
            if let o = byIdentity[identity] { globals[o] = v }
        }
        var positions: [(x: Int, y: Int)] = []
        for _ in 0..<patches {
            guard let px = r.u32(), let py = r.u32() else { return nil }
            positions.append((px, py))
        }
        guard let scales = r.floats(patches), r.atEnd, let g = globals.removeValue(forKey: primary) else { return nil }
        let desc = PatchDescriptors(layers: layers, positions: positions,
                                    headMap: FeatureMap(channels: 0, height: 0, width: 0), width: width, height: height)
        return ExtractedImage(path: path, contentHash: hash, width: width, height: height, descriptors: desc,
                              patchScales: scales, patchSide: patchSide, global: g, otherGlobals: globals,
                              decodeSeconds: 0, networkSeconds: 0)
    }
}

struct ByteWriter {
    var out: [UInt8] = []
    mutating func bytes(_ b: [UInt8]) { out += b }
    mutating func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out += $0 } }
    mutating func string(_ s: String) { let b = Array(s.utf8); u32(b.count); out += b }
    mutating func floats(_ v: [Float]) { for f in v { withUnsafeBytes(of: f.bitPattern.littleEndian) { out += $0 } } }
}

struct ByteReader {
    let bytes: [UInt8]
    var pos = 0
    var atEnd: Bool { pos == bytes.count }
    mutating func bytes(_ n: Int) -> [UInt8]? {
        guard n >= 0, pos + n <= bytes.count else { return nil }
        defer { pos += n }
        return Array(bytes[pos..<(pos + n)])
    }
    mutating func u32() -> Int? {
        guard let b = bytes(4) else { return nil }
        return Int(UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24)
    }
    mutating func string() -> String? {
        guard let n = u32(), let b = bytes(n) else { return nil }
        return String(decoding: b, as: UTF8.self)
    }
    mutating func floats(_ n: Int) -> [Float]? {
        guard n >= 0, pos + 4 * n <= bytes.count else { return nil }
        var v = [Float](repeating: 0, count: n)
        v.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[pos..<(pos + 4 * n)]))
            }
        }
        pos += 4 * n
        return v
    }
}
