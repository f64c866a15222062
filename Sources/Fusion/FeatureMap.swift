/// A whole-image conv map, channel-major: value (c, y, x) lives at `data[(c * height + y) * width + x]`
/// (C×H×W; the EfficientNet head gives C = 1280, non-negative after ReLU6).
public struct FeatureMap: Sendable, Equatable {
    public var channels: Int
    public var height: Int
    public var width: Int
    public var data: [Float]

    public init(channels: Int, height: Int, width: Int, data: [Float]) throws {
        guard channels > 0, height > 0, width > 0, data.count == channels * height * width else {
            throw GlobalDescriptorError.badMap("map of \(data.count) values is not \(channels)×\(height)×\(width)")
        }
        self.channels = channels; self.height = height; self.width = width; self.data = data
    }
}

/// Problems with the inputs of global descriptors and whitening.
public enum GlobalDescriptorError: Error, Equatable, CustomStringConvertible {
    case badMap(String)
    case dimensionMismatch(expected: Int, got: Int)
    case noScales
    case emptyCombination

    public var description: String {
        switch self {
        case .badMap(let why): return "global descriptor: \(why)"
        case let .dimensionMismatch(e, g): return "global descriptor: expected dimension \(e), got \(g)"
        case .noScales: return "global descriptor: no feature map given"
        case .emptyCombination: return "global descriptor: CGD combination needs at least one part (and no nested .cgd)"
        }
    }
}
