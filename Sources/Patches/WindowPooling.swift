import Dispatch
import TesseraCore

/// Pools square windows of a C×H×W map into one C-vector per window: MOF eq. (1) (sum) and
/// eq. (2) (max); `.fc` averages (the FC layer's input). The windows form a grid — every
/// combination of a top row in `ys` and a left column in `xs`, `side` cells each, clipped to
/// the map — so pooling is separable: first along rows for every left column, then along
/// columns, which costs H·|xs|·side + |ys|·|xs|·side per channel instead of |ys|·|xs|·side².
/// Output row j·|xs| + i pools the window at (xs[i], ys[j]); channels are split into 8 groups
/// run by Dispatch over the cores.
enum WindowPooling {
    static func pool(_ map: FeatureMap, xs: [Int], ys: [Int], side: Int, pooling: Pooling) -> Matrix {
        let C = map.channels, H = map.height, W = map.width
        let nx = xs.count, ny = ys.count
        var out = Matrix(rows: nx * ny, cols: C)
        let isMax = pooling == .max
        let xr = xs.map { x -> (Int, Int) in let a = min(max(x, 0), W - 1); return (a, max(min(x + side, W), a + 1)) }
        let yr = ys.map { y -> (Int, Int) in let a = min(max(y, 0), H - 1); return (a, max(min(y + side, H), a + 1)) }
        map.data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                let srcBase = src.baseAddress!, dstBase = dst.baseAddress!
                let groups = min(C, 8)
                DispatchQueue.concurrentPerform(iterations: groups) { g in
                    var rowPooled = [Float](repeating: 0, count: H * nx)
                    for c in (C * g / groups)..<(C * (g + 1) / groups) {
                        let plane = srcBase + c * H * W
                        for y in 0..<H {
                            let row = plane + y * W
                            for (i, (x0, x1)) in xr.enumerated() {
                                var acc: Float = isMax ? -.infinity : 0
                                for x in x0..<x1 { acc = isMax ? max(acc, row[x]) : acc + row[x] }
                                rowPooled[y * nx + i] = acc
                            }
                        }
                        for (j, (y0, y1)) in yr.enumerated() {
                            for (i, (x0, x1)) in xr.enumerated() {
                                var acc: Float = isMax ? -.infinity : 0
                                for y in y0..<y1 { let v = rowPooled[y * nx + i]; acc = isMax ? max(acc, v) : acc + v }
                                if pooling == .fc { acc /= Float((y1 - y0) * (x1 - x0)) }
                                dstBase[(j * nx + i) * C + c] = acc
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
