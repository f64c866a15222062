import TesseraCore
import CConvolution
import COpenBLAS
import Dispatch

/// glibc's `mallopt` (malloc.h is not part of the Glibc module); parameters from malloc.h.
@_silgen_name("mallopt") private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
private let mallocTrimThreshold: Int32 = -1, mallocMmapThreshold: Int32 = -3

/// The convolution kernels of the forward pass, on channel-major (C×H×W) maps.
/// BatchNorm is already folded into `weights`/`bias` (see `EfficientNetLite`).
enum ConvolutionKernels {
    /// Keeps the forward pass's large activation buffers in the heap between passes instead of
    /// returning them to the kernel (glibc maps blocks above 32 MiB afresh each time, and every
    /// fresh page costs a zero-fill fault). Called once when a network is loaded.
    static let retainLargeBuffers: Void = {
        #if os(Linux)
        _ = glibcMallopt(mallocMmapThreshold, 256 << 20)
        _ = glibcMallopt(mallocTrimThreshold, 512 << 20)
        #endif
    }()

    /// TensorFlow "SAME" padding: output = ceil(input / stride); the total padding
    /// max((out − 1)·s + k − in, 0) is split with the extra pixel at the bottom/right.
    static func samePadding(input: Int, kernel: Int, stride: Int) -> (output: Int, before: Int) {
        let out = (input + stride - 1) / stride
        let total = max((out - 1) * stride + kernel - input, 0)
        return (out, total / 2)
    }

    @inline(__always) static func relu6(_ x: Float) -> Float { min(max(x, 0), 6) }

    /// `weights` (Cout × Cin) packed for CConvolution's fused 1×1 kernel, or nil where the CPU
    /// lacks AVX-512 (the OpenBLAS path then runs). Done once per conv when a network loads.
    static func packPointwise(_ weights: [Float], outChannels: Int, inChannels: Int) -> [Float]? {
        guard bestKernel == TESSERA_CONV_AVX512 else { return nil }
        let n = Int(tessera_pointwise_packed_count(Int32(outChannels), Int32(inChannels)))
        return [Float](unsafeUninitializedCapacity: n) { buffer, count in
            weights.withUnsafeBufferPointer {
                tessera_pointwise_pack($0.baseAddress, Int32(outChannels), Int32(inChannels), buffer.baseAddress)
            }
            count = n
        }
    }

    /// 1×1 convolution Y (Cout×HW) = ReLU6?(W (Cout×Cin) · X (Cin×HW) + b [+ residual]).
    /// With `packed` weights (AVX-512): CConvolution's kernel with the bias, residual and ReLU6
    /// fused into its stores, over column blocks run by Dispatch on the cores. Otherwise one
    /// OpenBLAS SGEMM onto the bias (or residual + bias) pre-filled, then the ReLU6 pass.
    static func pointwise(_ x: FeatureMap, weights: [Float], bias: [Float], outChannels: Int, relu: Bool,
                          residual: FeatureMap? = nil, packed: [Float]? = nil) -> FeatureMap {
        if let packed { return fusedPointwise(x, packed: packed, bias: bias, outChannels: outChannels, relu: relu,
                                              residual: residual) }
        let hw = x.height * x.width
        // Every element is written below (bias or residual + bias) before SGEMM accumulates.
        var y = [Float](unsafeUninitializedCapacity: outChannels * hw) { _, n in n = outChannels * hw }
        y.withUnsafeMutableBufferPointer { out in
            for c in 0..<outChannels {
                let b = bias[c]
                let row = UnsafeMutableBufferPointer(rebasing: out[(c * hw)..<((c + 1) * hw)])
                if let r = residual {
                    r.data.withUnsafeBufferPointer { rp in for i in 0..<hw { row[i] = rp[c * hw + i] + b } }
                } else {
                    row.update(repeating: b)
                }
            }
            weights.withUnsafeBufferPointer { w in
                x.data.withUnsafeBufferPointer { xin in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                                Int32(outChannels), Int32(hw), Int32(x.channels),
                                1, w.baseAddress, Int32(x.channels), xin.baseAddress, Int32(hw),
                                1, out.baseAddress, Int32(hw))
                }
            }
            if relu { clampRelu6(out) }
        }
        return FeatureMap(channels: outChannels, height: x.height, width: x.width, data: y)
    }

    /// The fused 1×1 kernel over groups of 64-column blocks, at most 16 groups.
    private static func fusedPointwise(_ x: FeatureMap, packed: [Float], bias: [Float], outChannels: Int,
                                       relu: Bool, residual: FeatureMap?) -> FeatureMap {
        let hw = x.height * x.width
        precondition(packed.count == Int(tessera_pointwise_packed_count(Int32(outChannels), Int32(x.channels))))
        precondition(residual.map { $0.data.count == outChannels * hw } ?? true)
        var y = [Float](unsafeUninitializedCapacity: outChannels * hw) { _, n in n = outChannels * hw }
        let blocks = (hw + 63) / 64, groups = min(blocks, 16)
        y.withUnsafeMutableBufferPointer { out in
            x.data.withUnsafeBufferPointer { xin in
                packed.withUnsafeBufferPointer { w in
                    bias.withUnsafeBufferPointer { b in
                        (residual?.data ?? []).withUnsafeBufferPointer { r in
                            var conv = tessera_pointwise_conv(
                                input: xin.baseAddress, in_channels: Int32(x.channels), positions: Int32(hw),
                                packed_weights: w.baseAddress, bias: b.baseAddress, out_channels: Int32(outChannels),
                                residual: residual == nil ? nil : r.baseAddress, relu6: relu ? 1 : 0,
                                output: out.baseAddress)
                            withUnsafePointer(to: &conv) { p in
                                DispatchQueue.concurrentPerform(iterations: groups) { g in
                                    let first = blocks * g / groups * 64, end = min(hw, blocks * (g + 1) / groups * 64)
                                    tessera_pointwise_columns(p, Int32(first), Int32(end))
                                }
                            }
                        }
                    }
                }
            }
        }
        return FeatureMap(channels: outChannels, height: x.height, width: x.width, data: y)
    }

    static func clampRelu6(_ p: UnsafeMutableBufferPointer<Float>) {
        let n = p.count
        let chunks = 8
        DispatchQueue.concurrentPerform(iterations: chunks) { t in
            let lo = n * t / chunks, hi = n * (t + 1) / chunks
            for i in lo..<hi { p[i] = relu6(p[i]) }
        }
    }

    /// Full k×k convolution with stride and SAME padding, bias and optional ReLU6, computed
    /// directly by CConvolution (the stem: 3 input channels, so no im2col copy or SGEMM with
    /// K = 27). Output rows are split into 16 bands run by Dispatch over the cores.
    static func full(_ x: FeatureMap, weights: [Float], bias: [Float], outChannels: Int, kernel k: Int,
                     stride s: Int, relu: Bool,
                     using machineKernel: tessera_conv_kernel = bestKernel) -> FeatureMap {
        precondition(weights.count == outChannels * x.channels * k * k && bias.count == outChannels)
        let (oh, padTop) = samePadding(input: x.height, kernel: k, stride: s)
        let (ow, padLeft) = samePadding(input: x.width, kernel: k, stride: s)
        var y = [Float](unsafeUninitializedCapacity: outChannels * oh * ow) { _, n in n = outChannels * oh * ow }
        let bands = min(oh, 16)
        y.withUnsafeMutableBufferPointer { out in
            x.data.withUnsafeBufferPointer { src in
                weights.withUnsafeBufferPointer { wt in
                    bias.withUnsafeBufferPointer { bs in
                        var conv = tessera_full_conv(
                            input: src.baseAddress, in_channels: Int32(x.channels), height: Int32(x.height),
                            width: Int32(x.width), weights: wt.baseAddress, bias: bs.baseAddress,
                            out_channels: Int32(outChannels), kernel: Int32(k), stride: Int32(s),
                            pad_top: Int32(padTop), pad_left: Int32(padLeft), relu6: relu ? 1 : 0,
                            output: out.baseAddress, out_height: Int32(oh), out_width: Int32(ow))
                        withUnsafePointer(to: &conv) { p in
                            DispatchQueue.concurrentPerform(iterations: bands) { b in
                                tessera_full_conv_rows(p, Int32(oh * b / bands), Int32(oh * (b + 1) / bands),
                                                       machineKernel)
                            }
                        }
                    }
                }
            }
        }
        return FeatureMap(channels: outChannels, height: oh, width: ow, data: y)
    }

    /// The convolution kernel this CPU runs best (CConvolution: AVX-512 or portable C).
    static let bestKernel = tessera_conv_best_kernel()

    /// Depthwise k×k convolution (one filter per channel), stride 1 or 2, SAME padding, bias,
    /// ReLU6, computed by CConvolution on the input in place. Channels are split into 16
    /// groups run by Dispatch over the cores.
    static func depthwise(_ x: FeatureMap, weights: [Float], bias: [Float], kernel k: Int, stride s: Int,
                          using machineKernel: tessera_conv_kernel = bestKernel) -> FeatureMap {
        precondition(s == 1 || s == 2, "depthwise stride \(s) unsupported")
        precondition(weights.count == x.channels * k * k && bias.count == x.channels)
        let (oh, padTop) = samePadding(input: x.height, kernel: k, stride: s)
        let (ow, padLeft) = samePadding(input: x.width, kernel: k, stride: s)
        let C = x.channels
        var y = [Float](unsafeUninitializedCapacity: C * oh * ow) { _, n in n = C * oh * ow }
        let groups = min(C, 16)
        y.withUnsafeMutableBufferPointer { out in
            x.data.withUnsafeBufferPointer { src in
                weights.withUnsafeBufferPointer { wt in
                    bias.withUnsafeBufferPointer { bs in
                        var conv = tessera_depthwise_conv(
                            input: src.baseAddress, height: Int32(x.height), width: Int32(x.width),
                            weights: wt.baseAddress, bias: bs.baseAddress, kernel: Int32(k), stride: Int32(s),
                            pad_top: Int32(padTop), pad_left: Int32(padLeft), output: out.baseAddress,
                            out_height: Int32(oh), out_width: Int32(ow))
                        withUnsafePointer(to: &conv) { p in
                            DispatchQueue.concurrentPerform(iterations: groups) { g in
                                tessera_depthwise(p, Int32(C * g / groups), Int32(C * (g + 1) / groups), machineKernel)
                            }
                        }
                    }
                }
            }
        }
        return FeatureMap(channels: C, height: oh, width: ow, data: y)
    }
}
