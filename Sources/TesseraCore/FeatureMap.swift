/// A C×H×W activation map, channel-major: value (c, y, x) lives at `data[(c * height + y) * width + x]`.
public struct FeatureMap: Sendable, Equatable {
    public var channels: Int
    public var height: Int
    public var width: Int
    public var data: [Float]

    public init(channels: Int, height: Int, width: Int, data: [Float]) {
        precondition(data.count == channels * height * width)
        self.channels = channels; self.height = height; self.width = width; self.data = data
    }

    public init(channels: Int, height: Int, width: Int) {
        self.init(channels: channels, height: height, width: width,
                  data: [Float](repeating: 0, count: channels * height * width))
    }

    /// Average over all positions, one value per channel.
    public func globalAverage() -> [Float] {
        let hw = height * width
        return (0..<channels).map { c in
            var s: Float = 0
            for i in 0..<hw { s += data[c * hw + i] }
            return s / Float(max(hw, 1))
        }
    }
}
