import TesseraCore
/// An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B.
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBImage: \(pixels.count) bytes for \(width)x\(height)")
        self.width = width; self.height = height; self.pixels = pixels
    }

    /// Applies an EXIF orientation (1…8) so the result is upright.
    public func oriented(_ orientation: Int) -> RGBImage {
        guard orientation >= 2 && orientation <= 8 else { return self }
        let swap = orientation >= 5
        let ow = swap ? height : width, oh = swap ? width : height
        var out = [UInt8](repeating: 0, count: pixels.count)
        for y in 0..<oh {
            for x in 0..<ow {
                // Source pixel for output (x, y), per the EXIF definitions.
                let (sx, sy): (Int, Int)
                switch orientation {
                case 2: (sx, sy) = (width - 1 - x, y)                 // mirror horizontal
                case 3: (sx, sy) = (width - 1 - x, height - 1 - y)    // rotate 180
                case 4: (sx, sy) = (x, height - 1 - y)                // mirror vertical
                case 5: (sx, sy) = (y, x)                             // transpose
                case 6: (sx, sy) = (y, height - 1 - x)                // rotate 90 CW
                case 7: (sx, sy) = (width - 1 - y, height - 1 - x)    // transverse
                default: (sx, sy) = (width - 1 - y, x)                // 8: rotate 90 CCW
                }
                let s = (sy * width + sx) * 3, d = (y * ow + x) * 3
                out[d] = pixels[s]; out[d + 1] = pixels[s + 1]; out[d + 2] = pixels[s + 2]
            }
        }
        return RGBImage(width: ow, height: oh, pixels: out)
    }

    /// The rectangle [x, x+w) × [y, y+h) (must lie inside the image).
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> RGBImage {
        precondition(x >= 0 && y >= 0 && x + w <= width && y + h <= height)
        var out = [UInt8]()
        out.reserveCapacity(w * h * 3)
        for r in y..<(y + h) { out.append(contentsOf: pixels[((r * width + x) * 3)..<((r * width + x + w) * 3)]) }
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// Resampled to `newWidth`×`newHeight` with a separable triangle (bilinear) filter whose
    /// support widens with the shrink factor, so downscaling is anti-aliased (area-like) and
    /// upscaling is plain bilinear interpolation. Pixel centres are aligned (half-pixel offsets).
    public func resized(width newWidth: Int, height newHeight: Int) -> RGBImage {
        if newWidth == width && newHeight == height { return self }
        let horizontal = Self.filterWeights(from: width, to: newWidth)
        let vertical = Self.filterWeights(from: height, to: newHeight)
        // Horizontal pass into floats (height × newWidth × 3).
        var tmp = [Float](repeating: 0, count: height * newWidth * 3)
        for y in 0..<height {
            for x in 0..<newWidth {
                let (start, ws) = horizontal[x]
                var r: Float = 0, g: Float = 0, b: Float = 0
                for (i, w) in ws.enumerated() {
                    let s = (y * width + start + i) * 3
                    r += w * Float(pixels[s]); g += w * Float(pixels[s + 1]); b += w * Float(pixels[s + 2])
                }
                let d = (y * newWidth + x) * 3
                tmp[d] = r; tmp[d + 1] = g; tmp[d + 2] = b
            }
        }
        var out = [UInt8](repeating: 0, count: newHeight * newWidth * 3)
        for y in 0..<newHeight {
            let (start, ws) = vertical[y]
            for x in 0..<(newWidth * 3) {
                var v: Float = 0
                for (i, w) in ws.enumerated() { v += w * tmp[(start + i) * newWidth * 3 + x] }
                out[y * newWidth * 3 + x] = UInt8(max(0, min(255, v.rounded())))
            }
        }
        return RGBImage(width: newWidth, height: newHeight, pixels: out)
    }

    /// Per output index: first source index and normalised triangle-filter weights.
    static func filterWeights(from n: Int, to m: Int) -> [(Int, [Float])] {
        let scale = Double(n) / Double(m)
        let support = max(scale, 1.0)          // filter radius in source pixels
        return (0..<m).map { i in
            let centre = (Double(i) + 0.5) * scale - 0.5
            let lo = max(0, Int((centre - support).rounded(.up)))
            let hi = min(n - 1, Int((centre + support).rounded(.down)))
            var ws = [Float]()
            var total = 0.0
            if lo <= hi {
                for j in lo...hi {
                    let w = max(0, 1 - abs(Double(j) - centre) / support)
                    ws.append(Float(w)); total += w
                }
            }
            if total <= 0 {
                let j = min(n - 1, max(0, Int(centre.rounded())))
                return (j, [1])
            }
            return (lo, ws.map { $0 / Float(total) })
        }
    }
}
