import Foundation
import Index
import TesseraCore

/// What every shard of one sharded index must share, so that their scores are comparable and
/// one query (quantised once by the coordinator) means the same thing everywhere: the
/// vocabulary and model (the index identity), the whitening of global descriptors, and the
/// patch settings the descriptors were extracted with.
public struct ShardIdentity: Codable, Equatable, Sendable, CustomStringConvertible {
    public var vocabularyID: String
    public var modelSHA256: String
    /// SHA-256 of the whitening file's bytes; "none" when the vocabulary has no whitening.
    public var whiteningSHA256: String
    public var patchSettings: String

    public init(vocabularyID: String, modelSHA256: String, whiteningSHA256: String, patchSettings: String) {
        self.vocabularyID = vocabularyID; self.modelSHA256 = modelSHA256
        self.whiteningSHA256 = whiteningSHA256; self.patchSettings = patchSettings
    }

    /// The identity of an opened index.
    public init(of index: SearchIndex) {
        self.init(vocabularyID: index.store.meta.identity.vocabularyID,
                  modelSHA256: index.store.meta.identity.modelSHA256,
                  whiteningSHA256: index.querySide.whiteningSHA256,
                  patchSettings: index.store.meta.patchSettings)
    }

    /// The part of the identity an index stores itself (`IndexMeta.identity`).
    public var indexIdentity: IndexIdentity { IndexIdentity(vocabularyID: vocabularyID, modelSHA256: modelSHA256) }

    public var description: String {
        "vocabulary \(vocabularyID), model \(modelSHA256.prefix(12)), whitening \(whiteningSHA256.prefix(12)), "
            + "patches \(patchSettings)"
    }

    /// The fields where `other` differs, for an error message.
    public func differences(from other: ShardIdentity) -> [String] {
        var out: [String] = []
        if vocabularyID != other.vocabularyID { out.append("vocabulary \(other.vocabularyID) ≠ \(vocabularyID)") }
        if modelSHA256 != other.modelSHA256 { out.append("model \(other.modelSHA256) ≠ \(modelSHA256)") }
        if whiteningSHA256 != other.whiteningSHA256 {
            out.append("whitening \(other.whiteningSHA256) ≠ \(whiteningSHA256)")
        }
        if patchSettings != other.patchSettings { out.append("patches \(other.patchSettings) ≠ \(patchSettings)") }
        return out
    }
}

/// A sharded index: `shards.json` beside (or naming) ordinary Tessera indexes, each holding
/// the images whose content hash routes to it (`shard(forContentHash:)`), so a duplicate
/// always meets its original and duplicate detection stays global.
///
///     { "format": 1, "generation": 3, "identity": {…},
///       "shards": [ {"path": "shard-00", "images": 1250}, {"url": "http://10.0.0.7:8080", "images": 1311} ] }
///
/// A shard is a directory (opened in-process; relative to the manifest's folder) or the URL
/// of a `tessera serve` process holding it. The generation grows with every rewrite, and the
/// file is replaced atomically (written aside, then renamed), so a reader sees the old or the
/// new manifest, never half of one.
public struct ShardManifest: Codable, Equatable, Sendable {
    public struct Shard: Codable, Equatable, Sendable {
        /// The shard's index directory (absolute, or relative to the manifest's folder).
        public var path: String?
        /// The base URL of a `tessera serve` holding the shard.
        public var url: String?
        /// Images in the shard when the manifest was written.
        public var images: Int
        public init(path: String? = nil, url: String? = nil, images: Int = 0) {
            self.path = path; self.url = url; self.images = images
        }
    }

    public static let currentFormat = 1
    public static let fileName = "shards.json"

    public var format = ShardManifest.currentFormat
    public var generation = 1
    public var identity: ShardIdentity
    /// The vocabulary file the coordinator quantises queries with (absolute, or relative to the
    /// manifest's folder); its checksum is `identity.vocabularyID`.
    public var vocabulary: String
    public var shards: [Shard]

    public init(identity: ShardIdentity, vocabulary: String, shards: [Shard]) {
        self.identity = identity; self.vocabulary = vocabulary; self.shards = shards
    }

    /// The shard holding an image of this content hash (hex SHA-256): its first 64 bits
    /// modulo the shard count.
    public static func shard(forContentHash hash: String, count: Int) -> Int {
        guard count > 1, let prefix = UInt64(hash.prefix(16), radix: 16) else { return 0 }
        return Int(prefix % UInt64(count))
    }

    /// Reads and checks a manifest: its format and a shard list that is not empty and names a
    /// path or a URL for every shard.
    public static func load(from url: URL) throws -> ShardManifest {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EngineError.invalidInput("cannot read the shard manifest \(url.path): \(error.localizedDescription)")
        }
        let m: ShardManifest
        do { m = try JSONDecoder().decode(ShardManifest.self, from: data) } catch {
            throw EngineError.invalidInput("\(url.path) is not a shard manifest: \(error)")
        }
        guard m.format == currentFormat else {
            throw EngineError.invalidInput("\(url.path): shard manifest format \(m.format), this build reads "
                                           + "\(currentFormat)")
        }
        guard !m.shards.isEmpty else { throw EngineError.invalidInput("\(url.path) lists no shards") }
        if let i = m.shards.firstIndex(where: { ($0.path == nil) == ($0.url == nil) }) {
            throw EngineError.invalidInput("\(url.path): shard \(i) must have exactly one of \"path\" and \"url\"")
        }
        return m
    }

    /// Writes the manifest atomically: a temporary file in the same folder, renamed over `url`.
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: url, options: .atomic)
    }

    /// Shard `i`'s directory, relative paths resolved against the manifest's folder.
    public func directory(of i: Int, manifest url: URL) -> URL? {
        shards[i].path.map { Self.resolve($0, beside: url) }
    }

    /// The vocabulary file, a relative path resolved against the manifest's folder.
    public func vocabularyURL(manifest url: URL) -> URL { Self.resolve(vocabulary, beside: url) }

    static func resolve(_ path: String, beside manifest: URL) -> URL {
        path.hasPrefix("/") ? URL(fileURLWithPath: path)
                            : manifest.deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL
    }
}
