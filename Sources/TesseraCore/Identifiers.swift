/// Dense id of an indexed image, assigned by the index in insertion order (never reused).
public typealias ImageID = UInt32

/// Names one descriptor source: a tapped CNN layer and the pooling applied to its
/// map over a patch window, e.g. `"block11.expand/max"`, `"head/sum"`, `"logits/fc"`.
public struct LayerKey: Hashable, Codable, Sendable, CustomStringConvertible, Comparable {
    public var layer: String
    public var pooling: Pooling
    public init(layer: String, pooling: Pooling) { self.layer = layer; self.pooling = pooling }

    /// Parses `"layer/pooling"`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, let p = Pooling(rawValue: String(parts[1])) else { return nil }
        self.init(layer: String(parts[0]), pooling: p)
    }

    public var description: String { "\(layer)/\(pooling.rawValue)" }
    public static func < (a: LayerKey, b: LayerKey) -> Bool { a.description < b.description }
}

/// How a conv map is pooled over a patch window into one vector per channel.
public enum Pooling: String, Codable, Sendable, CaseIterable {
    /// MOF eq. (1): per-channel sum over the window.
    case sum
    /// MOF eq. (2): per-channel maximum over the window.
    case max
    /// A fully-connected layer applied to the window's average-pooled map (no spatial pooling choice).
    case fc
}
