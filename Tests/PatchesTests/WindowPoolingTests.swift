import XCTest
@testable import Patches
import TesseraCore

/// Window pooling (MOF eq. 1 and 2, and the FC layer's average) against its definition: every
/// window clipped to the map, windows overlapping, starting outside, and covering the map.
final class WindowPoolingTests: XCTestCase {
    func testPoolingMatchesTheDefinition() {
        var rng = SeededGenerator(seed: 5)
        let (C, H, W) = (3, 11, 19)
        let map = FeatureMap(channels: C, height: H, width: W,
                             data: (0..<(C * H * W)).map { _ in Float.random(in: -2...2, using: &rng) })
        let grids: [([Int], [Int], Int)] = [([0, 3, 6, 12], [0, 4, 8], 7), ([-2, 17], [9], 5), ([0], [0], 19)]
        for (xs, ys, side) in grids {
            for pooling in Pooling.allCases {
                let got = WindowPooling.pool(map, xs: xs, ys: ys, side: side, pooling: pooling)
                for (j, y) in ys.enumerated() {
                    for (i, x) in xs.enumerated() {
                        let y0 = min(max(y, 0), H - 1), y1 = max(min(y + side, H), y0 + 1)
                        let x0 = min(max(x, 0), W - 1), x1 = max(min(x + side, W), x0 + 1)
                        for c in 0..<C {
                            var values: [Float] = []
                            for yy in y0..<y1 { for xx in x0..<x1 { values.append(map.data[(c * H + yy) * W + xx]) } }
                            let want: Float = pooling == .max ? values.max()!
                                : values.reduce(0, +) / (pooling == .fc ? Float(values.count) : 1)
                            XCTAssertEqual(got[j * xs.count + i, c], want, accuracy: 1e-5,
                                           "\(pooling) window (\(x), \(y)) side \(side) channel \(c)")
                        }
                    }
                }
            }
        }
    }
}
