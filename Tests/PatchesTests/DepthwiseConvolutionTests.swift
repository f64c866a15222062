import CConvolution
import XCTest
@testable import Patches
import TesseraCore

/// The depthwise kernels of CConvolution (AVX-512 where the CPU has it, and the portable one)
/// against a direct loop over the definition, at kernel sizes, strides and map sizes that put
/// padding on every side, leave partial vectors and tiles, and make maps narrower than a tap.
final class DepthwiseConvolutionTests: XCTestCase {
    /// out(c, y, x) = ReLU6(b_c + Σ w_c(i, j) · in(c, y·s + i − top, x·s + j − left)).
    private func direct(_ x: FeatureMap, _ w: [Float], _ b: [Float], k: Int, s: Int) -> FeatureMap {
        let (oh, top) = ConvolutionKernels.samePadding(input: x.height, kernel: k, stride: s)
        let (ow, left) = ConvolutionKernels.samePadding(input: x.width, kernel: k, stride: s)
        var y = FeatureMap(channels: x.channels, height: oh, width: ow)
        for c in 0..<x.channels {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var acc = b[c]
                    for i in 0..<k {
                        for j in 0..<k {
                            let iy = oy * s + i - top, ix = ox * s + j - left
                            if iy >= 0, iy < x.height, ix >= 0, ix < x.width {
                                acc += w[(c * k + i) * k + j] * x.data[(c * x.height + iy) * x.width + ix]
                            }
                        }
                    }
                    y.data[(c * oh + oy) * ow + ox] = min(max(acc, 0), 6)
                }
            }
        }
        return y
    }

    func testEveryKernelMatchesTheDefinition() {
        var kernels = [TESSERA_CONV_PORTABLE]
        if tessera_conv_kernel_supported(TESSERA_CONV_AVX512) != 0 { kernels.append(TESSERA_CONV_AVX512) }
        var rng = SeededGenerator(seed: 7)
        let sizes = [(1, 1), (2, 3), (5, 7), (7, 17), (15, 33), (30, 40), (9, 70)]
        for kernel in kernels {
            for k in [3, 5] {
                for s in [1, 2] {
                    for (h, w) in sizes {
                        let channels = 3
                        let values = (0..<(channels * h * w)).map { _ in Float.random(in: -1...3, using: &rng) }
                        let x = FeatureMap(channels: channels, height: h, width: w, data: values)
                        let weights = (0..<(channels * k * k)).map { _ in Float.random(in: -0.5...0.5, using: &rng) }
                        let bias = (0..<channels).map { _ in Float.random(in: -0.2...0.8, using: &rng) }
                        let want = direct(x, weights, bias, k: k, s: s)
                        let got = ConvolutionKernels.depthwise(x, weights: weights, bias: bias, kernel: k, stride: s,
                                                               using: kernel)
                        XCTAssertEqual([got.height, got.width], [want.height, want.width])
                        let worst = zip(got.data, want.data).map { abs($0 - $1) }.max() ?? 0
                        XCTAssertLessThan(worst, 1e-5, "kernel \(kernel.rawValue) k\(k) s\(s) \(h)×\(w)")
                    }
                }
            }
        }
    }
}
