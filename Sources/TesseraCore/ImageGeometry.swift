/// Where one patch lies in its image: the centre and side of its square, in the pixels of the
/// image the patches were taken from (a patch taken at image scale s has side 224/s).
public struct PatchFrame: Sendable, Equatable, Codable {
    public var x: Float
    public var y: Float
    public var side: Float
    public init(x: Float, y: Float, side: Float) { self.x = x; self.y = y; self.side = side }
}

/// An image's patches as spatial verification needs them: each patch's frame and, per layer,
/// its words and signatures (the database side: k = 1, row i = patch i).
public struct ImageGeometry: Sendable, Equatable {
    public var frames: [PatchFrame]
    /// One per layer; `layers[l].count == frames.count`.
    public var layers: [QuantizedLayer]
    public init(frames: [PatchFrame], layers: [QuantizedLayer]) { self.frames = frames; self.layers = layers }
}

/// Reads the stored geometry of database images (the LMDB index, or memory in tests).
public protocol GeometryReader {
    /// The geometry of image `id`, or nil when the image is absent or was indexed without one.
    func geometry(of id: ImageID) throws -> ImageGeometry?
}
