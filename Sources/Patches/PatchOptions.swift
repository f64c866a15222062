import TesseraCore

/// How patch descriptors are computed (METHOD.md §1).
public enum PatchMode: String, Codable, Sendable, CaseIterable {
    /// One pass over the whole image; each patch pools a window of the feature maps.
    case shared
    /// Every patch through the network on its own (the reference; ~patch-count times slower).
    case perPatch = "per-patch"
}

/// Options of `PatchExtractor`. Every field has the documented default.
public struct PatchOptions: Codable, Sendable, Equatable {
    /// Patch side in pixels (MOF: 224).
    public var patchSize: Int = 224
    /// Grid stride in pixels (MOF: 32); must be a multiple of 32 in `shared` mode.
    public var stride: Int = 32
    /// Resize policy: the longer side is scaled (up or down) to `maxSide`; 0 keeps the
    /// native size. After that an image whose shorter side is below `patchSize` is scaled
    /// up so it holds at least one patch.
    public var maxSide: Int = 640
    /// `shared` (default) or `per-patch`.
    public var mode: PatchMode = .shared
    /// The descriptor sources: default the intermediate conv (block 11's expand output,
    /// 672 ch, stride 16), the last conv (head, 1280 ch, stride 32), both max-pooled, and
    /// the FC layer (1000 logits of the window's average-pooled head).
    public var layers: [LayerKey] = PatchOptions.defaultLayers

    public static let defaultLayers: [LayerKey] = [
        LayerKey(layer: "block11.expand", pooling: .max),
        LayerKey(layer: "head", pooling: .max),
        LayerKey(layer: "logits", pooling: .fc),
    ]

    public init() {}

    /// A stable text form, stored with vocabularies and indexes to detect mismatches.
    public var identity: String {
        "patch=\(patchSize) stride=\(stride) maxSide=\(maxSide) mode=\(mode.rawValue) "
            + "layers=\(layers.map(\.description).joined(separator: ","))"
    }
}
