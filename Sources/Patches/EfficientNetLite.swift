import TesseraCore
import Foundation

/// EfficientNet-Lite (ImageNet) with BatchNorm folded into the convolutions, its
/// architecture derived from the weight shapes (METHOD.md §1): stem 3×3/2 conv, MBConv
/// blocks (expand 1×1 → depthwise k×k → project 1×1, residual when stride 1 and the
/// channel count is unchanged, no squeeze-excitation), head 1×1 conv to 1280, global
/// average pool, FC. ReLU6 everywhere except after the project conv.
///
/// Strides are not stored in the weights; they follow EfficientNet's stage plan: a
/// block starts a new stage when its output width changes, and the first block of
/// stages 2, 3, 4 and 6 (1-based) has stride 2 — so Lite0, Lite1 and Lite2 all load.
public final class EfficientNetLite: @unchecked Sendable {
    /// BatchNorm epsilon of the TF-trained Lite weights.
    public static let batchNormEpsilon: Float = 1e-3

    struct Conv {
        var weights: [Float]      // Cout × (Cin·k·k), BN folded
        var bias: [Float]         // Cout, BN folded
        var inChannels: Int
        var outChannels: Int
        var kernel: Int
        /// 1×1 weights packed for the fused kernel (`ConvolutionKernels.packPointwise`), or nil.
        var packed: [Float]?
    }

    struct Block {
        var expand: Conv?
        var depthwise: Conv       // inChannels = outChannels = channels, weights C × k·k
        var project: Conv
        var stride: Int
        var residual: Bool
    }

    let stem: Conv
    let blocks: [Block]
    let head: Conv
    let fcWeights: [Float]        // classes × headChannels
    let fcBias: [Float]
    public let classes: Int
    public var headChannels: Int { head.outChannels }
    public var blockCount: Int { blocks.count }
    /// SHA-256 of the weights file: the model's identity in vocabularies and indexes.
    public let weightsSHA256: String

    /// Loads a legacy torch weights file (e.g. `efficientnet-lite0-57934424.pth`).
    public convenience init(contentsOf url: URL) throws {
        guard let data = try? Data(contentsOf: url) else { throw TorchFileError.unreadable(url.path) }
        let tensors = try data.withUnsafeBytes { try TorchLegacyFile.parse($0) }
        try self.init(tensors: tensors, sha256: SHA256.hex(data))
    }

    public init(tensors t: [String: Tensor], sha256: String) throws {
        func tensor(_ name: String) throws -> Tensor {
            guard let x = t[name] else { throw TorchFileError.missingTensor(name) }
            return x
        }
        func folded(_ conv: String, _ bn: String, depthwise: Bool = false) throws -> Conv {
            let w = try tensor("\(conv).weight")
            guard w.shape.count == 4 else { throw TorchFileError.badShape("\(conv).weight \(w.shape)") }
            let cout = w.shape[0], k = w.shape[2]
            guard w.shape[3] == k else { throw TorchFileError.badShape("\(conv).weight \(w.shape) is not square") }
            let gamma = try tensor("\(bn).weight"), beta = try tensor("\(bn).bias")
            let mean = try tensor("\(bn).running_mean"), variance = try tensor("\(bn).running_var")
            guard [gamma.count, beta.count, mean.count, variance.count].allSatisfy({ $0 == cout }) else {
                throw TorchFileError.badShape("\(bn) does not match \(conv) (\(cout) channels)")
            }
            let per = w.count / cout
            var weights = w.values, bias = [Float](repeating: 0, count: cout)
            for c in 0..<cout {
                let scale = gamma.values[c] / (variance.values[c] + EfficientNetLite.batchNormEpsilon).squareRoot()
                for i in 0..<per { weights[c * per + i] *= scale }
                bias[c] = beta.values[c] - mean.values[c] * scale
            }
            let cin = depthwise ? cout : w.shape[1]
            let packed = k == 1 && !depthwise
                ? ConvolutionKernels.packPointwise(weights, outChannels: cout, inChannels: cin) : nil
            return Conv(weights: weights, bias: bias, inChannels: cin, outChannels: cout, kernel: k, packed: packed)
        }

        stem = try folded("_conv_stem", "_bn0")
        var blocks: [Block] = []
        var i = 0
        var stage = 0
        var previousOut = stem.outChannels
        var previousStageOut = -1
        while t["_blocks.\(i)._depthwise_conv.weight"] != nil {
            let p = "_blocks.\(i)."
            let expand = t[p + "_expand_conv.weight"] != nil ? try folded(p + "_expand_conv", p + "_bn0") : nil
            let dw = try folded(p + "_depthwise_conv", p + "_bn1", depthwise: true)
            let project = try folded(p + "_project_conv", p + "_bn2")
            let inChannels = expand?.inChannels ?? dw.inChannels
            guard inChannels == previousOut else {
                throw TorchFileError.badShape(
                    "block \(i) takes \(inChannels) channels, previous layer gives \(previousOut)")
            }
            var stride = 1
            if project.outChannels != previousStageOut {
                stage += 1
                stride = [2, 3, 4, 6].contains(stage) ? 2 : 1
                previousStageOut = project.outChannels
            }
            let residual = stride == 1 && inChannels == project.outChannels
            blocks.append(Block(expand: expand, depthwise: dw, project: project, stride: stride, residual: residual))
            previousOut = project.outChannels
            i += 1
        }
        guard !blocks.isEmpty else { throw TorchFileError.missingTensor("_blocks.0._depthwise_conv.weight") }
        self.blocks = blocks
        head = try folded("_conv_head", "_bn1")
        let fcw = try tensor("_fc.weight"), fcb = try tensor("_fc.bias")
        guard fcw.shape.count == 2, fcw.shape[1] == head.outChannels, fcb.count == fcw.shape[0] else {
            throw TorchFileError.badShape("_fc.weight \(fcw.shape)")
        }
        fcWeights = fcw.values
        fcBias = fcb.values
        classes = fcw.shape[0]
        weightsSHA256 = sha256
        ConvolutionKernels.retainLargeBuffers
    }

    /// Channels and total stride of a tap (see `Tap`).
    public func geometry(of tap: Tap) -> (channels: Int, stride: Int) {
        var stride = 2
        switch tap {
        case .head: return (head.outChannels, 32)
        case .blockExpand(let b), .blockOutput(let b):
            precondition(b < blocks.count, "block \(b) does not exist")
            for j in 0..<b { stride *= blocks[j].stride }
            if case .blockExpand = tap {
                return (blocks[b].expand?.outChannels ?? blocks[b].depthwise.outChannels, stride)
            }
            return (blocks[b].project.outChannels, stride * blocks[b].stride)
        }
    }

    /// Runs the network on `input` (3×H×W, already normalised) and returns the requested
    /// maps. Stops after the last block needed unless the head is tapped.
    public func forward(_ input: FeatureMap, taps: Set<Tap>, profile: ForwardProfile? = nil) -> [Tap: FeatureMap] {
        func timed<T>(_ kind: String, _ madds: Int, _ body: () -> T) -> T {
            ForwardProfile.measure(profile, kind, madds: Double(madds), body)
        }
        var out: [Tap: FeatureMap] = [:]
        let stemOut = ((input.height + 1) / 2) * ((input.width + 1) / 2)
        var x = timed("stem", stemOut * stem.weights.count) {
            ConvolutionKernels.full(input, weights: stem.weights, bias: stem.bias, outChannels: stem.outChannels,
                                    kernel: stem.kernel, stride: 2, relu: true)
        }
        let lastBlock: Int = taps.contains(.head) ? blocks.count - 1 : taps.map { t -> Int in
            switch t { case .blockExpand(let b), .blockOutput(let b): return b; case .head: return blocks.count - 1 }
        }.max() ?? -1
        if lastBlock >= 0 {
            for (b, block) in blocks.enumerated() where b <= lastBlock {
                var h = x
                let hw = x.height * x.width
                if let e = block.expand {
                    h = timed("pointwise", hw * e.weights.count) {
                        ConvolutionKernels.pointwise(x, weights: e.weights, bias: e.bias, outChannels: e.outChannels,
                                                     relu: true, packed: e.packed)
                    }
                }
                if taps.contains(.blockExpand(b)) { out[.blockExpand(b)] = h }
                let dwOut = ((h.height + block.stride - 1) / block.stride)
                    * ((h.width + block.stride - 1) / block.stride)
                h = timed("depthwise", dwOut * block.depthwise.weights.count) {
                    ConvolutionKernels.depthwise(h, weights: block.depthwise.weights, bias: block.depthwise.bias,
                                                 kernel: block.depthwise.kernel, stride: block.stride)
                }
                let input = x
                x = timed("pointwise", h.height * h.width * block.project.weights.count) {
                    ConvolutionKernels.pointwise(h, weights: block.project.weights, bias: block.project.bias,
                                                 outChannels: block.project.outChannels, relu: false,
                                                 residual: block.residual ? input : nil, packed: block.project.packed)
                }
                if taps.contains(.blockOutput(b)) { out[.blockOutput(b)] = x }
            }
        }
        if taps.contains(.head) {
            out[.head] = timed("pointwise", x.height * x.width * head.weights.count) {
                ConvolutionKernels.pointwise(x, weights: head.weights, bias: head.bias, outChannels: head.outChannels,
                                             relu: true, packed: head.packed)
            }
        }
        return out
    }

    /// The FC layer on a pooled head vector: logits (classes) = W · v + b (the same SGEMM path
    /// as the patch descriptors, so the reference test covers it).
    public func logits(pooledHead v: [Float]) -> [Float] {
        precondition(v.count == head.outChannels)
        return logits(pooledHeads: Matrix(rows: 1, cols: v.count, data: v)).data
    }

    /// Logits for many pooled head vectors at once (n × 1280 → n × classes), one SGEMM.
    public func logits(pooledHeads m: Matrix) -> Matrix {
        FullyConnected.apply(weights: fcWeights, bias: fcBias, outputs: classes, to: m)
    }

    /// Softmax class probabilities of a whole image.
    public func classify(_ image: RGBImage) -> [Float] {
        let maps = forward(FeatureMap(networkInputFrom: image), taps: [.head])
        let z = logits(pooledHead: maps[.head]!.globalAverage())
        let m = z.max() ?? 0
        let e = z.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}

/// A layer whose activations can be tapped.
public enum Tap: Hashable, Sendable, CustomStringConvertible {
    /// Output of block b's expand conv (after ReLU6), e.g. block 11: 672 channels at stride 16.
    case blockExpand(Int)
    /// Output of block b (after the project conv and residual; linear, can be negative).
    case blockOutput(Int)
    /// The head conv (1280 channels, stride 32, after ReLU6).
    case head

    public var description: String {
        switch self {
        case .blockExpand(let b): return "block\(b).expand"
        case .blockOutput(let b): return "block\(b)"
        case .head: return "head"
        }
    }

    public init?(_ name: String) {
        if name == "head" { self = .head; return }
        guard name.hasPrefix("block") else { return nil }
        let rest = name.dropFirst(5)
        if rest.hasSuffix(".expand"), let b = Int(rest.dropLast(7)) { self = .blockExpand(b); return }
        if let b = Int(rest) { self = .blockOutput(b); return }
        return nil
    }
}
