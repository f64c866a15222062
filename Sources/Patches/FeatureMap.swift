/// A C×H×W activation map, channel-major: value (c, y, x) lives at `data[(c * height + y) * width + x]`.
public struct FeatureMap: Sendable {
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

    /// The network input for an RGB8 image: RGB planes, (x − 127) / 128 (METHOD.md §1).
    public init(networkInputFrom image: RGBImage) {
        let n = image.width * image.height
        var d = [Float](repeating: 0, count: 3 * n)
        image.pixels.withUnsafeBufferPointer { px in
            d.withUnsafeMutableBufferPointer { out in
                for i in 0..<n {
                    out[i] = (Float(px[3 * i]) - 127) / 128
                    out[n + i] = (Float(px[3 * i + 1]) - 127) / 128
                    out[2 * n + i] = (Float(px[3 * i + 2]) - 127) / 128
                }
            }
        }
        self.init(channels: 3, height: image.height, width: image.width, data: d)
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
