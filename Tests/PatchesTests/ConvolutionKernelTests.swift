import CConvolution
import XCTest
@testable import Patches
import TesseraCore

/// The kernels of CConvolution (AVX-512 where the CPU has it, and the portable one) against
/// direct loops over their definitions, at kernel sizes, strides and map sizes that put padding
/// on every side, leave partial vectors and tiles, and make maps narrower than a tap.
final class ConvolutionKernelTests: XCTestCase {
    private var kernels: [tessera_conv_kernel] {
        tessera_conv_kernel_supported(TESSERA_CONV_AVX512) != 0 ? [TESSERA_CONV_PORTABLE, TESSERA_CONV_AVX512]
                                                                : [TESSERA_CONV_PORTABLE]
    }
    private let sizes = [(1, 1), (2, 3), (5, 7), (7, 17), (15, 33), (30, 40), (9, 70)]

    private func random(_ n: Int, _ range: ClosedRange<Float>, _ rng: inout SeededGenerator) -> [Float] {
        (0..<n).map { _ in Float.random(in: range, using: &rng) }
    }

    private func assertClose(_ got: FeatureMap, _ want: FeatureMap, _ label: String) {
        XCTAssertEqual([got.channels, got.height, got.width], [want.channels, want.height, want.width], label)
        let worst = zip(got.data, want.data).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-5, label)
    }

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

    func testDepthwiseMatchesTheDefinition() {
        var rng = SeededGenerator(seed: 7)
        for kernel in kernels {
            for k in [3, 5] {
                for s in [1, 2] {
                    for (h, w) in sizes {
                        let x = FeatureMap(channels: 3, height: h, width: w, data: random(3 * h * w, -1...3, &rng))
                        let weights = random(3 * k * k, -0.5...0.5, &rng), bias = random(3, -0.2...0.8, &rng)
                        let got = ConvolutionKernels.depthwise(x, weights: weights, bias: bias, kernel: k, stride: s,
                                                               using: kernel)
                        assertClose(got, direct(x, weights, bias, k: k, s: s),
                                    "depthwise, kernel \(kernel.rawValue) k\(k) s\(s) \(h)×\(w)")
                    }
                }
            }
        }
    }

    /// out(o, y, x) = b_o + Σ_{c,i,j} w_o(c, i, j) · in(c, y·s + i − top, x·s + j − left), ReLU6 if asked.
    private func directFull(_ x: FeatureMap, _ w: [Float], _ b: [Float], out: Int, k: Int, s: Int,
                            relu: Bool) -> FeatureMap {
        let (oh, top) = ConvolutionKernels.samePadding(input: x.height, kernel: k, stride: s)
        let (ow, left) = ConvolutionKernels.samePadding(input: x.width, kernel: k, stride: s)
        var y = FeatureMap(channels: out, height: oh, width: ow)
        for o in 0..<out {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var acc = b[o]
                    for c in 0..<x.channels {
                        for i in 0..<k {
                            for j in 0..<k {
                                let iy = oy * s + i - top, ix = ox * s + j - left
                                guard iy >= 0, iy < x.height, ix >= 0, ix < x.width else { continue }
                                acc += w[((o * x.channels + c) * k + i) * k + j]
                                    * x.data[(c * x.height + iy) * x.width + ix]
                            }
                        }
                    }
                    y.data[(o * oh + oy) * ow + ox] = relu ? min(max(acc, 0), 6) : acc
                }
            }
        }
        return y
    }

    /// The stem's shape (3 → 32 channels, 3×3, stride 2) and its neighbours: stride 1, no
    /// ReLU6, and 4 input channels (36 taps, beyond the AVX-512 kernel's 27: the portable path).
    func testFullConvolutionMatchesTheDefinition() {
        var rng = SeededGenerator(seed: 11)
        for kernel in kernels {
            for (channels, s, relu) in [(3, 2, true), (3, 1, false), (4, 2, true)] {
                for (h, w) in sizes {
                    let x = FeatureMap(channels: channels, height: h, width: w,
                                       data: random(channels * h * w, -1...3, &rng))
                    let weights = random(32 * channels * 9, -0.5...0.5, &rng), bias = random(32, -0.2...0.8, &rng)
                    let got = ConvolutionKernels.full(x, weights: weights, bias: bias, outChannels: 32, kernel: 3,
                                                      stride: s, relu: relu, using: kernel)
                    assertClose(got, directFull(x, weights, bias, out: 32, k: 3, s: s, relu: relu),
                                "full, kernel \(kernel.rawValue) \(channels) channels s\(s) \(h)×\(w)")
                }
            }
        }
    }

    /// The fused 1×1 kernel and the OpenBLAS path against the definition, with and without
    /// residual and ReLU6, at channel counts that leave partial weight panels and positions
    /// that leave partial vectors, blocks and chunks.
    func testPointwiseMatchesTheDefinition() {
        var rng = SeededGenerator(seed: 13)
        for (outChannels, inChannels, h, w) in [(7, 5, 1, 1), (13, 33, 3, 7), (6, 16, 7, 10), (25, 3, 33, 35)] {
            let x = FeatureMap(channels: inChannels, height: h, width: w,
                               data: random(inChannels * h * w, -1...3, &rng))
            let weights = random(outChannels * inChannels, -0.5...0.5, &rng), bias = random(outChannels, -1...1, &rng)
            let residual = FeatureMap(channels: outChannels, height: h, width: w,
                                      data: random(outChannels * h * w, -2...2, &rng))
            for (relu, withResidual) in [(true, false), (false, true), (true, true)] {
                var want = FeatureMap(channels: outChannels, height: h, width: w)
                for o in 0..<outChannels {
                    for i in 0..<(h * w) {
                        var acc = bias[o] + (withResidual ? residual.data[o * h * w + i] : 0)
                        for c in 0..<inChannels { acc += weights[o * inChannels + c] * x.data[c * h * w + i] }
                        want.data[o * h * w + i] = relu ? min(max(acc, 0), 6) : acc
                    }
                }
                let packed = ConvolutionKernels.packPointwise(weights, outChannels: outChannels, inChannels: inChannels)
                for p in packed == nil ? [nil] : [nil, packed] {
                    let got = ConvolutionKernels.pointwise(x, weights: weights, bias: bias, outChannels: outChannels,
                                                           relu: relu, residual: withResidual ? residual : nil,
                                                           packed: p)
                    assertClose(got, want, "pointwise \(p == nil ? "OpenBLAS" : "fused") \(outChannels)×\(inChannels) "
                                + "\(h)×\(w) relu \(relu) residual \(withResidual)")
                }
            }
        }
    }
}
