import TesseraCore

/// An indexed image as stored in the `images` database.
///
/// Binary record (all integers little-endian, no padding), keyed by the
/// big-endian `ImageID`:
///
/// | field | encoding |
/// |---|---|
/// | record version | `u32` = 1 |
/// | path | `u32` byte count + UTF-8 |
/// | content hash | `u32` byte count + UTF-8 (hex SHA-256) |
/// | width, height | `u32`, `u32` |
/// | layer count L | `u32` |
/// | feature counts | L × `u32` (descriptors per layer) |
/// | norms | L × `f32` (per-layer image norms, defined by `Fusion`) |
/// | global descriptor | `u32` dimension D + D × `f32` (may be empty) |
public struct ImageRecord: Equatable, Sendable {
    public var id: ImageID
    public var path: String
    public var contentHash: String
    public var width: Int
    public var height: Int
    /// Descriptors per layer (before quantisation; assignments cut to `QuantizedLayer.none` included).
    public var featureCounts: [Int]
    /// Per-layer norms computed by the caller.
    public var norms: [Float]
    /// Global descriptor (float32, any length, may be empty).
    public var globalDescriptor: [Float]

    public init(id: ImageID, path: String, contentHash: String, width: Int, height: Int,
                featureCounts: [Int], norms: [Float], globalDescriptor: [Float]) {
        self.id = id; self.path = path; self.contentHash = contentHash
        self.width = width; self.height = height
        self.featureCounts = featureCounts; self.norms = norms; self.globalDescriptor = globalDescriptor
    }

    static let recordVersion: UInt32 = 1

    func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.u32(Self.recordVersion)
        w.string(path)
        w.string(contentHash)
        w.u32(UInt32(truncatingIfNeeded: width))
        w.u32(UInt32(truncatingIfNeeded: height))
        w.u32(UInt32(featureCounts.count))
        for c in featureCounts { w.u32(UInt32(truncatingIfNeeded: c)) }
        for n in norms { w.f32(n) }
        w.floats(globalDescriptor)
        return w.bytes
    }

    static func decode(id: ImageID, _ bytes: UnsafeRawBufferPointer) throws -> ImageRecord {
        var r = ByteReader(bytes, what: "image \(id)")
        let version = try r.u32()
        guard version == recordVersion else { throw IndexError.corrupt("image \(id): record version \(version)") }
        let path = try r.string()
        let hash = try r.string()
        let width = Int(try r.u32()), height = Int(try r.u32())
        let layers = Int(try r.u32())
        let counts = try r.u32s(count: layers).map(Int.init)
        var norms = [Float]()
        for _ in 0..<layers { norms.append(try r.f32()) }
        let global = try r.floats()
        return ImageRecord(id: id, path: path, contentHash: hash, width: width, height: height,
                           featureCounts: counts, norms: norms, globalDescriptor: global)
    }
}

/// An image to add: its record fields and one quantised layer per inverted file.
public struct NewImage: Sendable {
    public var path: String
    public var contentHash: String
    public var width: Int
    public var height: Int
    /// Per-layer norms (one per layer; computed by `Fusion`).
    public var norms: [Float]
    public var globalDescriptor: [Float]
    /// One per layer, in layer-index order. Every assignment that is not
    /// `QuantizedLayer.none` becomes a posting; pass `k = 1` (`truncated(to: 1)`)
    /// for the usual database side without multiple assignment.
    public var layers: [QuantizedLayer]
    /// Where each patch (row of every layer) lies, for spatial verification; empty stores no geometry.
    public var frames: [PatchFrame]

    public init(path: String, contentHash: String, width: Int, height: Int,
                norms: [Float], globalDescriptor: [Float] = [], layers: [QuantizedLayer], frames: [PatchFrame] = []) {
        self.path = path; self.contentHash = contentHash; self.width = width; self.height = height
        self.norms = norms; self.globalDescriptor = globalDescriptor; self.layers = layers; self.frames = frames
    }

    /// The geometry record of this image (the first assignment of every patch), or nil without frames.
    var geometry: ImageGeometry? {
        frames.isEmpty ? nil : ImageGeometry(frames: frames, layers: layers.map { $0.truncated(to: 1) })
    }

    func record(id: ImageID) -> ImageRecord {
        ImageRecord(id: id, path: path, contentHash: contentHash, width: width, height: height,
                    featureCounts: layers.map(\.count), norms: norms, globalDescriptor: globalDescriptor)
    }

    /// Checks the image against the index's layer count and signature size.
    func validate(layerCount: Int, signatureWords: Int) throws {
        guard layers.count == layerCount else {
            throw IndexError.invalidInput("\(path): \(layers.count) quantised layers, the index has \(layerCount)")
        }
        guard norms.count == layerCount else {
            throw IndexError.invalidInput("\(path): \(norms.count) norms, the index has \(layerCount) layers")
        }
        for (l, q) in layers.enumerated() where q.signatureWords != signatureWords {
            throw IndexError.invalidInput("\(path): layer \(l) has \(q.signatureWords)-word signatures, "
                                          + "the index stores \(signatureWords)")
        }
        guard !path.isEmpty else { throw IndexError.invalidInput("empty path") }
        if !frames.isEmpty, let bad = layers.firstIndex(where: { $0.count != frames.count }) {
            throw IndexError.invalidInput(
                "\(path): \(frames.count) patch frames, layer \(bad) has \(layers[bad].count) patches")
        }
    }
}
