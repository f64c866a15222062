import TesseraCore

/// Pools windows of a C×H×W map into one C-vector per window: MOF eq. (1) (sum) and
/// eq. (2) (max). Windows are given by their top-left cell and a side in cells and are
/// clipped to the map.
enum WindowPooling {
    /// n×C matrix, row i pooling the window at `origins[i]` of `side`×`side` cells.
    static func pool(_ map: FeatureMap, origins: [(x: Int, y: Int)], side: Int, pooling: Pooling) -> Matrix {
        let C = map.channels, H = map.height, W = map.width
        var out = Matrix(rows: origins.count, cols: C)
        map.data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                for c in 0..<C {
                    let plane = src.baseAddress! + c * H * W
                    for (i, o) in origins.enumerated() {
                        let y0 = min(max(o.y, 0), H - 1), x0 = min(max(o.x, 0), W - 1)
                        let y1 = min(o.y + side, H), x1 = min(o.x + side, W)
                        var acc: Float = pooling == .max ? -.infinity : 0
                        for y in y0..<max(y1, y0 + 1) {
                            let row = plane + y * W
                            for x in x0..<max(x1, x0 + 1) {
                                if pooling == .max { acc = max(acc, row[x]) } else { acc += row[x] }
                            }
                        }
                        if pooling == .fc {   // the FC layer consumes the window's average
                            acc /= Float(max(y1 - y0, 1) * max(x1 - x0, 1))
                        }
                        dst[i * C + c] = acc
                    }
                }
            }
        }
        return out
    }
}
