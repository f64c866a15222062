import TesseraCore

extension FeatureMap {
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
}
