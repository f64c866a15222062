import Foundation
import TesseraCore

/// What the vocabulary was trained on.
public struct TrainingSetInfo: Sendable, Equatable, Codable {
    /// Folder (or other description) of the training images.
    public var folder: String
    /// Number of training images.
    public var imageCount: Int
    /// Number of training descriptors (all layers' rows counted once per layer: the maximum).
    public var descriptorCount: Int
    public init(folder: String, imageCount: Int, descriptorCount: Int) {
        self.folder = folder; self.imageCount = imageCount; self.descriptorCount = descriptorCount
    }
}

/// All layers' vocabularies plus what they depend on: the CNN's identity (SHA-256 of the
/// model file) and the patch settings (opaque JSON text given by the caller). Stored in
/// one file, see ``write(to:)`` and ``load(from:expectedModelSHA256:expectedLayers:)``.
public struct Vocabulary: Sendable {
    /// Per-layer vocabularies, in the order they were given.
    public var layers: [LayerVocabulary]
    /// SHA-256 (hex) of the CNN weights the descriptors came from.
    public var modelSHA256: String
    /// Patch extraction settings as JSON text (opaque here).
    public var patchSettings: String
    /// The training set.
    public var trainingSet: TrainingSetInfo
    /// Creation time.
    public var created: Date
    /// Which global-descriptor whitening file belongs beside this vocabulary: the checksum (hex)
    /// of the one trained with it, `"none"` when it was trained without one, nil in files that
    /// predate the record. Opaque here; the engine checks it when it loads the whitening, so a
    /// stale or half-replaced file beside the vocabulary is refused, not used.
    public var whiteningChecksum: String?

    public init(layers: [LayerVocabulary], modelSHA256: String, patchSettings: String,
                trainingSet: TrainingSetInfo, created: Date = Date(), whiteningChecksum: String? = nil) {
        self.layers = layers; self.modelSHA256 = modelSHA256; self.patchSettings = patchSettings
        self.trainingSet = trainingSet; self.created = created; self.whiteningChecksum = whiteningChecksum
    }

    /// The layer vocabulary for `key`, if present.
    public func layer(_ key: LayerKey) -> LayerVocabulary? { layers.first { $0.key == key } }
}
