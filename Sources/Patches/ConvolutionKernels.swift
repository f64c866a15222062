import TesseraCore
import COpenBLAS
import Dispatch

/// The convolution kernels of the forward pass, on channel-major (C×H×W) maps.
/// BatchNorm is already folded into `weights`/`bias` (see `EfficientNetLite`).
enum ConvolutionKernels {
    /// TensorFlow "SAME" padding: output = ceil(input / stride); the total padding
    /// max((out − 1)·s + k − in, 0) is split with the extra pixel at the bottom/right.
    static func samePadding(input: Int, kernel: Int, stride: Int) -> (output: Int, before: Int) {
        let out = (input + stride - 1) / stride
        let total = max((out - 1) * stride + kernel - input, 0)
        return (out, total / 2)
    }

    @inline(__always) static func relu6(_ x: Float) -> Float { min(max(x, 0), 6) }

    /// 1×1 convolution as one SGEMM: Y (Cout×HW) = W (Cout×Cin) · X (Cin×HW) + b, then ReLU6 if asked.
    static func pointwise(_ x: FeatureMap, weights: [Float], bias: [Float], outChannels: Int, relu: Bool,
                          residual: FeatureMap? = nil) -> FeatureMap {
        let hw = x.height * x.width
        var y = [Float](repeating: 0, count: outChannels * hw)
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

    static func clampRelu6(_ p: UnsafeMutableBufferPointer<Float>) {
        let n = p.count
        let chunks = 8
        DispatchQueue.concurrentPerform(iterations: chunks) { t in
            let lo = n * t / chunks, hi = n * (t + 1) / chunks
            for i in lo..<hi { p[i] = relu6(p[i]) }
        }
    }

    /// Full k×k convolution with stride and SAME padding, via im2col + SGEMM (used by the stem).
    static func full(_ x: FeatureMap, weights: [Float], bias: [Float], outChannels: Int, kernel k: Int,
                     stride s: Int, relu: Bool) -> FeatureMap {
        let (oh, padTop) = samePadding(input: x.height, kernel: k, stride: s)
        let (ow, padLeft) = samePadding(input: x.width, kernel: k, stride: s)
        let rows = x.channels * k * k
        let ohw = oh * ow
        var cols = [Float](repeating: 0, count: rows * ohw)
        cols.withUnsafeMutableBufferPointer { col in
            x.data.withUnsafeBufferPointer { src in
                for c in 0..<x.channels {
                    for ky in 0..<k {
                        for kx in 0..<k {
                            let r = (c * k + ky) * k + kx
                            for oy in 0..<oh {
                                let iy = oy * s + ky - padTop
                                if iy < 0 || iy >= x.height { continue }
                                let srow = (c * x.height + iy) * x.width
                                let drow = r * ohw + oy * ow
                                for ox in 0..<ow {
                                    let ix = ox * s + kx - padLeft
                                    if ix >= 0 && ix < x.width { col[drow + ox] = src[srow + ix] }
                                }
                            }
                        }
                    }
                }
            }
        }
        let im = FeatureMap(channels: rows, height: oh, width: ow, data: cols)
        return pointwise(im, weights: weights, bias: bias, outChannels: outChannels, relu: relu)
    }

    /// Depthwise k×k convolution (one filter per channel), stride s, SAME padding, bias, ReLU6.
    /// Channels are split over both cores; the inner loop runs along a contiguous output row.
    static func depthwise(_ x: FeatureMap, weights: [Float], bias: [Float], kernel k: Int, stride s: Int) -> FeatureMap {
        let (oh, padTop) = samePadding(input: x.height, kernel: k, stride: s)
        let (ow, padLeft) = samePadding(input: x.width, kernel: k, stride: s)
        let C = x.channels, H = x.height, W = x.width
        var y = [Float](repeating: 0, count: C * oh * ow)
        y.withUnsafeMutableBufferPointer { out in
            x.data.withUnsafeBufferPointer { src in
                weights.withUnsafeBufferPointer { wt in
                    let outBase = out.baseAddress!
                    let srcBase = src.baseAddress!
                    let wBase = wt.baseAddress!
                    DispatchQueue.concurrentPerform(iterations: C) { c in
                        let o = outBase + c * oh * ow
                        let inp = srcBase + c * H * W
                        let b = bias[c]
                        for i in 0..<(oh * ow) { o[i] = b }
                        for oy in 0..<oh {
                            let orow = o + oy * ow
                            for ky in 0..<k {
                                let iy = oy * s + ky - padTop
                                if iy < 0 || iy >= H { continue }
                                let irow = inp + iy * W
                                for kx in 0..<k {
                                    let w = wBase[(c * k + ky) * k + kx]
                                    // valid ox: 0 <= ox*s + kx - padLeft < W
                                    let off = kx - padLeft
                                    let lo = off >= 0 ? 0 : (-off + s - 1) / s
                                    let hi = min(ow, (W - 1 - off) / s + 1)
                                    if lo >= hi { continue }
                                    if s == 1 {
                                        let ip = irow + off
                                        for ox in lo..<hi { orow[ox] += w * ip[ox] }
                                    } else {
                                        for ox in lo..<hi { orow[ox] += w * irow[ox * s + off] }
                                    }
                                }
                            }
                        }
                        for i in 0..<(oh * ow) { o[i] = relu6(o[i]) }
                    }
                }
            }
        }
        return FeatureMap(channels: C, height: oh, width: ow, data: y)
    }
}
