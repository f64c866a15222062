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

    public init(layers: [LayerVocabulary], modelSHA256: String, patchSettings: String,
                trainingSet: TrainingSetInfo, created: Date = Date()) {
        self.layers = layers; self.modelSHA256 = modelSHA256; self.patchSettings = patchSettings
        self.trainingSet = trainingSet; self.created = created
    }

    /// The layer vocabulary for `key`, if present.
    public func layer(_ key: LayerKey) -> LayerVocabulary? { layers.first { $0.key == key } }
}
