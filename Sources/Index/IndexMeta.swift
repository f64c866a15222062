import TesseraCore

/// What an index must agree with to be queried: the vocabulary and the CNN model.
public struct IndexIdentity: Codable, Equatable, Sendable {
    /// Identity of the vocabulary file (its checksum or id).
    public var vocabularyID: String
    /// SHA-256 (hex) of the CNN weights.
    public var modelSHA256: String
    public init(vocabularyID: String, modelSHA256: String) {
        self.vocabularyID = vocabularyID; self.modelSHA256 = modelSHA256
    }
}

/// The settings an index is created with, stored in its `meta` database (JSON under key `"meta"`).
public struct IndexMeta: Codable, Equatable, Sendable {
    /// The on-disk format this code writes.
    public static let currentFormatVersion = 1

    /// Format version of the stored index (default: `currentFormatVersion`).
    public var formatVersion: Int
    /// Vocabulary and model the postings were computed with.
    public var identity: IndexIdentity
    /// Patch extraction settings, opaque to the index (e.g. JSON from `Patches`).
    public var patchSettings: String
    /// One entry per inverted file, in layer-index order (`inv.0`, `inv.1`, ...).
    public var layerKeys: [LayerKey]
    /// 64-bit words per Hamming signature (2 for 128 bits).
    public var signatureWords: Int

    public init(identity: IndexIdentity, patchSettings: String, layerKeys: [LayerKey], signatureWords: Int,
                formatVersion: Int = IndexMeta.currentFormatVersion) {
        self.formatVersion = formatVersion
        self.identity = identity
        self.patchSettings = patchSettings
        self.layerKeys = layerKeys
        self.signatureWords = signatureWords
    }

    /// Bytes of one posting record.
    public var postingStride: Int { PostingLayout.stride(signatureWords: signatureWords) }
}
