import TesseraCore

/// Everything one forward pass yields for one image.
public struct PatchDescriptors: Sendable {
    /// Per requested layer: n×d, one row per patch (signed square root, then L2-normalised).
    public var layers: [LayerKey: Matrix]
    /// Top-left pixel (x, y) of each patch, in the resized image, in row order.
    public var positions: [(x: Int, y: Int)]
    /// The whole-image head map (1280×h×w), for global descriptors.
    public var headMap: FeatureMap
    /// Further whole-image maps that were asked for (`PatchExtractor.describe(_:keeping:)`),
    /// for global descriptors of other layers.
    public var maps: [Tap: FeatureMap] = [:]
    /// Size of the image the patches were taken from (after the resize policy).
    public var width: Int
    public var height: Int
    public var patchCount: Int { positions.count }

    public init(layers: [LayerKey: Matrix], positions: [(x: Int, y: Int)], headMap: FeatureMap,
                width: Int, height: Int) {
        self.layers = layers
        self.positions = positions
        self.headMap = headMap
        self.width = width
        self.height = height
    }
}

/// Signed square root then L2 normalisation of every row (METHOD.md §1).
public func signedSqrtL2(_ m: inout Matrix) {
    let rows = m.rows, cols = m.cols
    m.withUnsafeMutableBufferPointer { p in
        for r in 0..<rows {
            var norm: Float = 0
            for c in 0..<cols {
                let v = p[r * cols + c]
                let s = v < 0 ? -(-v).squareRoot() : v.squareRoot()
                p[r * cols + c] = s
                norm += s * s
            }
            let inv: Float = norm > 0 ? 1 / norm.squareRoot() : 0
            for c in 0..<cols { p[r * cols + c] *= inv }
        }
    }
}
