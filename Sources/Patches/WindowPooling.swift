import Dispatch
import TesseraCore

/// Pools square windows of a C×H×W map into one C-vector per window: MOF eq. (1) (sum) and
/// eq. (2) (max); `.fc` averages (the FC layer's input). The windows form a grid — every
/// combination of a top row in `ys` and a left column in `xs`, `side` cells each, clipped to
/// the map — so pooling is separable. For each top row, the window's rows are first combined
/// into one row (contiguous, 8 lanes at a time); then each window's columns of that row come
/// from a table built once per row: for max, the maxima of every run of 2^l columns (a window
/// is the max of two overlapping runs), for sums, prefix sums (in Double, so differences keep
/// Float accuracy). Output row j·|xs| + i pools the window at (xs[i], ys[j]); channels are
/// split into 8 groups run by Dispatch over the cores.
enum WindowPooling {
    static func pool(_ map: FeatureMap, xs: [Int], ys: [Int], side: Int, pooling: Pooling) -> Matrix {
        let C = map.channels, H = map.height, W = map.width
        let nx = xs.count
        var out = Matrix(rows: nx * ys.count, cols: C)
        let isMax = pooling == .max
        let xr = xs.map { x -> (Int, Int) in let a = min(max(x, 0), W - 1); return (a, max(min(x + side, W), a + 1)) }
        let yr = ys.map { y -> (Int, Int) in let a = min(max(y, 0), H - 1); return (a, max(min(y + side, H), a + 1)) }
        // Window i's columns [x0, x1) are the runs of 2^level columns at x0 and at x1 − 2^level;
        // flat Int arrays read through pointers in the loops (no reference counting there).
        let columns = xr.flatMap { (x0, x1) -> [Int] in
            let level = Int.bitWidth - 1 - (x1 - x0).leadingZeroBitCount
            return [x0, x1, level * W + x0, level * W + x1 - (1 << level)]
        }
        let rows = yr.flatMap { [$0.0, $0.1] }
        let levels = Int.bitWidth - (xr.map { $1 - $0 }.max() ?? 1).leadingZeroBitCount
        let ny = yr.count
        map.data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                columns.withUnsafeBufferPointer { cols in
                    rows.withUnsafeBufferPointer { rws in
                        let srcBase = src.baseAddress!, dstBase = dst.baseAddress!
                        let col = cols.baseAddress!, rowRange = rws.baseAddress!
                        let groups = min(C, 8)
                        DispatchQueue.concurrentPerform(iterations: groups) { g in
                            // Level l, column x: max of the band's columns x ..< x + 2^l (level 0: the band).
                            let table = UnsafeMutablePointer<Float>.allocate(capacity: levels * W)
                            let prefix = UnsafeMutablePointer<Double>.allocate(capacity: W + 1)
                            defer { table.deallocate(); prefix.deallocate() }
                            for c in (C * g / groups)..<(C * (g + 1) / groups) {
                                let plane = srcBase + c * H * W
                                for j in 0..<ny {
                                    let y0 = rowRange[2 * j], y1 = rowRange[2 * j + 1]
                                    table.update(from: plane + y0 * W, count: W)
                                    for y in (y0 + 1)..<y1 { combine(table, table, plane + y * W, W, max: isMax) }
                                    if isMax {
                                        for l in 1..<levels {
                                            let half = 1 << (l - 1)
                                            combine(table + l * W, table + (l - 1) * W, table + (l - 1) * W + half,
                                                    W - (1 << l) + 1, max: true)
                                        }
                                    } else {
                                        prefix[0] = 0
                                        for x in 0..<W { prefix[x + 1] = prefix[x] + Double(table[x]) }
                                    }
                                    let area = Float(y1 - y0)
                                    for i in 0..<nx {
                                        let w = col + 4 * i
                                        let value: Float
                                        if isMax {
                                            value = max(table[w[2]], table[w[3]])
                                        } else {
                                            let sum = Float(prefix[w[1]] - prefix[w[0]])
                                            value = pooling == .fc ? sum / (area * Float(w[1] - w[0])) : sum
                                        }
                                        dstBase[(j * nx + i) * C + c] = value
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// out[x] = max(a[x], b[x]) (or a[x] + b[x]) for x < n, eight lanes at a time; `out` may be `a`.
    @inline(__always)
    private static func combine(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>,
                                _ b: UnsafePointer<Float>, _ n: Int, max: Bool) {
        var x = 0
        while x + 8 <= n {
            let u = UnsafeRawPointer(a + x).loadUnaligned(as: SIMD8<Float>.self)
            let v = UnsafeRawPointer(b + x).loadUnaligned(as: SIMD8<Float>.self)
            // A compare and blend (pointwiseMax's NaN rules would scalarise it).
            let y = max ? u.replacing(with: v, where: u .< v) : u + v
            UnsafeMutableRawPointer(out + x).storeBytes(of: y, as: SIMD8<Float>.self)
            x += 8
        }
        while x < n { out[x] = max ? (a[x] < b[x] ? b[x] : a[x]) : a[x] + b[x]; x += 1 }
    }
}
