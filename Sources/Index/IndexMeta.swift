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
    /// The on-disk format this code writes (3: sealed posting blocks and per-image geometry,
    /// see LAYOUT.md).
    public static let currentFormatVersion = 3
    /// Defaults of `postingBlockBytes` and `maxPostingBlockBytes`: see LAYOUT.md and Bench/RESULTS.md
    /// for the measurements behind them.
    public static let defaultPostingBlockBytes = 8_192
    public static let defaultMaxPostingBlockBytes = 262_144

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
    /// A word's newest postings (its tail, `inv.<layer>`) are sealed into one contiguous block
    /// (`blk.<layer>`) once they reach this many bytes. Fixed when the index is created.
    public var postingBlockBytes: Int
    /// A new block absorbs the word's previous blocks while they are no larger than it and the
    /// result stays within this many bytes, so long lists end up in few large blocks.
    public var maxPostingBlockBytes: Int

    public init(identity: IndexIdentity, patchSettings: String, layerKeys: [LayerKey], signatureWords: Int,
                postingBlockBytes: Int = IndexMeta.defaultPostingBlockBytes,
                maxPostingBlockBytes: Int = IndexMeta.defaultMaxPostingBlockBytes,
                formatVersion: Int = IndexMeta.currentFormatVersion) {
        self.formatVersion = formatVersion
        self.identity = identity
        self.patchSettings = patchSettings
        self.layerKeys = layerKeys
        self.signatureWords = signatureWords
        self.postingBlockBytes = postingBlockBytes
        self.maxPostingBlockBytes = maxPostingBlockBytes
    }

    /// Bytes of one posting record.
    public var postingStride: Int { PostingLayout.stride(signatureWords: signatureWords) }

    /// The most 64-bit words a signature may have (1,024 bits).
    static let maxSignatureWords = 16
    /// The largest posting block, in bytes (a block is one LMDB value).
    static let maxBlockBytes = 1 << 30

    /// What makes these settings unusable, or nil: a meta record read from a damaged file must
    /// not turn into an overflowing posting stride or a block size that cannot be allocated.
    func problem(maxLayers: Int) -> String? {
        guard !layerKeys.isEmpty, layerKeys.count <= maxLayers else {
            return "\(layerKeys.count) layers (1...\(maxLayers) supported)"
        }
        guard (0...Self.maxSignatureWords).contains(signatureWords) else {
            return "\(signatureWords) signature words (0...\(Self.maxSignatureWords) supported)"
        }
        guard postingBlockBytes > 0, maxPostingBlockBytes >= postingBlockBytes,
              maxPostingBlockBytes <= Self.maxBlockBytes else {
            return "posting blocks of \(postingBlockBytes)...\(maxPostingBlockBytes) bytes "
                + "(positive, ascending, at most \(Self.maxBlockBytes))"
        }
        return nil
    }
}
