import Foundation
import Quantizer

/// What `tessera vocab stats` shows of one layer of a vocabulary (asmk-style index statistics).
public struct VocabularyLayerSummary: Sendable {
    public var key: String
    public var words: Int
    /// Words no training descriptor fell into, and the smallest, median and largest cluster.
    public var emptyWords: Int, smallest: Int, median: Int, largest: Int
    /// Imbalance factor (Jégou et al.): k · Σ p_i², 1 for perfectly even clusters.
    public var imbalance: Double
    public var descriptors: Int
    public var meanQuantizationError: Float
    /// "inputDim→outputDim", or "none".
    public var pca: String
    public var hammingBits: Int

    public init(_ l: LayerVocabulary) {
        let sizes = l.stats.clusterSizes.map(Int.init).sorted()
        let n = Double(sizes.reduce(0, +))
        key = l.key.description
        words = l.words
        emptyWords = sizes.filter { $0 == 0 }.count
        smallest = sizes.first ?? 0
        median = sizes.isEmpty ? 0 : sizes[sizes.count / 2]
        largest = sizes.last ?? 0
        imbalance = n > 0 ? Double(sizes.count) * sizes.reduce(0.0) { $0 + (Double($1) / n) * (Double($1) / n) } : 0
        descriptors = l.stats.descriptorCount
        meanQuantizationError = l.stats.meanQuantizationError
        pca = l.pca.map { "\(l.inputDim)→\($0.outputDim)" } ?? "none"
        hammingBits = l.hamming.bits
    }
}

extension Vocabulary {
    /// One summary per layer.
    public var layerSummaries: [VocabularyLayerSummary] { layers.map(VocabularyLayerSummary.init) }
}
