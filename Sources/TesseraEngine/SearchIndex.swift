import Foundation
import Fusion
import GlobalDescriptors
import Index
import Quantizer
import TesseraCore

/// What `add` did.
public struct AddReport: Sendable {
    public var added: [String] = []
    public var alreadyIndexed: [String] = []
    public var failed: [(path: String, reason: String)] = []
    public var seconds = 0.0
    public var decodeSeconds = 0.0
    public var networkSeconds = 0.0
    public var quantizeSeconds = 0.0
    public var writeSeconds = 0.0
}

/// An index directory together with the vocabulary and the network it was built with:
/// the engine's public API for adding, removing and querying images.
///
/// Directory layout: the LMDB environment of `IndexStore` (see Sources/Index/LAYOUT.md) plus
/// `vocabulary.path`, a text file naming the vocabulary file the index was created with.
/// The vocabulary's checksum and the model's SHA-256 are the index's identity: opening it with
/// another vocabulary or model is an error naming both.
public final class SearchIndex: @unchecked Sendable {
    public let directory: URL
    public let store: IndexStore
    public let vocabulary: Vocabulary
    public let vocabularyURL: URL
    public let extractor: FeatureExtractor
    public let whitening: PCAWhitening?
    /// The vocabulary, network and whitening this index was opened with, kept so the other
    /// shards of a sharded index can open with the same ones (`init(…, sharing:)`).
    let querySide: QuerySide

    /// Images written per LMDB transaction.
    public var batchSize = 16
    /// Threads that decode and describe images ahead of the writer in `add`.
    public var extractionWorkers = 2

    static let vocabularyPathFile = "vocabulary.path"

    /// Opens the index at `directory`, creating it when `create` is set and none exists.
    /// `vocabulary` defaults to the one the index was created with; `postingBlockBytes` applies
    /// only to an index created here (`IndexMeta.postingBlockBytes`); `storeOptions` sizes the
    /// LMDB map.
    public convenience init(directory: URL, vocabulary explicitVocabulary: URL?, modelPath: String?,
                            create: Bool = false, readOnly: Bool = false,
                            postingBlockBytes: Int = IndexMeta.defaultPostingBlockBytes,
                            storeOptions: IndexStoreOptions = IndexStoreOptions()) throws {
        try self.init(directory: directory, vocabulary: explicitVocabulary, modelPath: modelPath, create: create,
                      readOnly: readOnly, postingBlockBytes: postingBlockBytes, storeOptions: storeOptions,
                      sharing: nil)
    }

    /// `init` reusing `shared` (another shard's) when it was loaded from a vocabulary of the
    /// same checksum, instead of loading the network and the vocabulary once more.
    init(directory: URL, vocabulary explicitVocabulary: URL?, modelPath: String?, create: Bool = false,
         readOnly: Bool = false, postingBlockBytes: Int = IndexMeta.defaultPostingBlockBytes,
         storeOptions: IndexStoreOptions = IndexStoreOptions(), sharing shared: QuerySide?) throws {
        self.directory = directory
        let exists = FileManager.default.fileExists(atPath: directory.appendingPathComponent("data.mdb").path)
        if !exists && !create { throw IndexError.notFound(directory.path) }
        let recordFile = directory.appendingPathComponent(Self.vocabularyPathFile)
        let recorded = FileManager.default.fileExists(atPath: recordFile.path)
            ? try String(contentsOf: recordFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) : nil
        guard let vocabURL = explicitVocabulary ?? recorded.map({ URL(fileURLWithPath: $0) }) else {
            throw EngineError.missingVocabulary(index: directory.path, created: exists)
        }
        let vocabularyID = try Self.vocabularyID(vocabURL)
        let side = try shared.flatMap { $0.vocabularyID == vocabularyID ? $0 : nil }
            ?? QuerySide(vocabulary: vocabURL, modelPath: modelPath)
        let vocab = side.vocabulary
        self.querySide = side
        self.vocabulary = vocab
        self.vocabularyURL = vocabURL
        self.extractor = side.extractor
        self.whitening = side.whitening
        let identity = IndexIdentity(vocabularyID: vocabularyID, modelSHA256: side.extractor.network.weightsSHA256)
        if !exists && create {
            let meta = IndexMeta(identity: identity, patchSettings: vocab.patchSettings,
                                 layerKeys: vocab.layers.map(\.key),
                                 signatureWords: vocab.layers.first.map { $0.hamming.bits / 64 } ?? 2,
                                 postingBlockBytes: postingBlockBytes)
            store = try IndexStore.create(at: directory, meta: meta, options: storeOptions)
            try vocabURL.standardizedFileURL.path.write(to: directory.appendingPathComponent(Self.vocabularyPathFile),
                                                        atomically: true, encoding: .utf8)
        } else {
            var options = storeOptions
            options.readOnly = options.readOnly || readOnly
            store = try IndexStore.open(at: directory, expecting: identity, options: options)
        }
    }

    /// What a query needs besides the postings: the vocabulary (checked against the model),
    /// the network with the vocabulary's patch settings, and the whitening beside the vocabulary.
    /// Its checksums are taken once here, for the index identity and the shard identity.
    struct QuerySide {
        var vocabulary: Vocabulary
        var extractor: FeatureExtractor
        var whitening: PCAWhitening?
        /// The vocabulary file's checksum (`vocabularyID(_:)`).
        var vocabularyID: String
        /// SHA-256 of the whitening's bytes; "none" without whitening (`ShardIdentity`).
        var whiteningSHA256: String
        init(vocabulary url: URL, modelPath: String?) throws {
            let network = try ModelLocator.loadNetwork(explicit: modelPath)
            vocabulary = try Vocabulary.load(from: url, expectedModelSHA256: network.weightsSHA256)
            extractor = try FeatureExtractor(network: network,
                                             settings: try EngineSettings.parse(vocabulary.patchSettings))
            whitening = try SearchIndex.loadWhitening(for: url, recorded: vocabulary.whiteningChecksum)
            vocabularyID = try SearchIndex.vocabularyID(url)
            whiteningSHA256 = whitening.map { SHA256.hex($0.serialized()) } ?? "none"
        }
    }

    /// Where the global-descriptor whitening trained with a vocabulary lives.
    public static func whiteningURL(for vocabulary: URL) -> URL { vocabulary.appendingPathExtension("whiten") }

    /// The whitening saved beside a vocabulary, as the vocabulary records it
    /// (`Vocabulary.whiteningChecksum`): nil when it was trained without one (a file beside it
    /// is then stale and ignored); the file with that checksum otherwise, and an error when it
    /// is missing, unreadable or another one (a `vocab train` killed between its two files, or
    /// a file copied from elsewhere): never silently different rankings. A vocabulary that
    /// predates the record takes the file beside it when there is one.
    public static func loadWhitening(for vocabularyURL: URL, recorded: String?) throws -> PCAWhitening? {
        let url = whiteningURL(for: vocabularyURL)
        switch recorded {
        case "none": return nil
        case nil:
            guard FileManager.default.fileExists(atPath: url.path) else { return nil }
            return try PCAWhitening(contentsOf: url)
        case let expected?:
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw WhiteningError.io("\(vocabularyURL.path) was trained with a global whitening, and "
                                        + "\(url.lastPathComponent) is missing beside it")
            }
            let bytes = try PCAWhitening.fileBytes(url)
            let found = PCAWhitening.fileChecksum(bytes)
            guard found == expected else {
                throw WhiteningError.io("\(url.path) is not the whitening trained with "
                                        + "\(vocabularyURL.lastPathComponent) (checksum \(found), the vocabulary "
                                        + "records \(expected)): retrain, or restore the pair")
            }
            return try PCAWhitening(serialized: bytes)
        }
    }

    /// The vocabulary's identity: its trailing 64-bit checksum, in hex.
    static func vocabularyID(_ url: URL) throws -> String {
        let h = try FileHandle(forReadingFrom: url)
        defer { try? h.close() }
        let end = try h.seekToEnd()
        try h.seek(toOffset: end >= 8 ? end - 8 : 0)
        let tail = h.readDataToEndOfFile()
        return tail.map { String(format: "%02x", $0) }.joined()
    }

    /// Quantises one extracted image for the database side (single assignment, MOF §2)
    /// and computes its per-layer norms (Fusion's `imageNorm`).
    public func databaseEntry(_ x: ExtractedImage) throws -> NewImage {
        var layers: [QuantizedLayer] = []
        var norms: [Float] = []
        for lv in vocabulary.layers {
            let q = try lv.assign(try x.descriptors.matrix(lv.key), k: 1)
            layers.append(q)
            norms.append(imageNorm(q, idf: lv.idf))
        }
        return NewImage(path: x.path, contentHash: x.contentHash, width: x.width, height: x.height,
                        norms: norms, globalDescriptor: x.global, layers: layers, frames: x.frames)
    }

    /// What an indexing worker made of one file (`add`).
    private enum PreparedImage {
        case unchanged
        case unreadable(String)
        case described(ExtractedImage, replacing: Bool)
    }

    /// Adds images (files or folders, recursively). Files already indexed (same path and
    /// content, or same content elsewhere) are skipped; unreadable ones are reported, never fatal.
    /// Each batch of `batchSize` images is one LMDB transaction: a killed run leaves whole images.
    /// `extractionWorkers` threads decode and describe the next files (`OrderedPrefetch`) while
    /// this one quantises and writes; the images are added in the files' order.
    public func add(_ paths: [String], showProgress: Bool = true,
                    features: ((String) throws -> ExtractedImage)? = nil) throws -> AddReport {
        let files = ImageFiles.collect(paths)
        var report = AddReport()
        let start = Date()
        let bar = ProgressBar("indexing", total: files.count, enabled: showProgress)
        var batch: [NewImage] = []
        func flush() throws {
            guard !batch.isEmpty else { return }
            let t = Date()
            let outcomes = try store.add(batch)
            report.writeSeconds += Date().timeIntervalSince(t)
            for (img, o) in zip(batch, outcomes) {
                if case .added = o { report.added.append(img.path) } else { report.alreadyIndexed.append(img.path) }
            }
            batch.removeAll()
        }
        // Same path already indexed: skip when unchanged, otherwise replace it, but only once
        // the new content has been read successfully (an unreadable new file keeps the old entry).
        // Only reading and describing the image can make it "unreadable"; the index's own errors
        // (storage, a full disk) propagate and stop the run.
        let prefetch = OrderedPrefetch(files, workers: extractionWorkers) {
            [store, extractor] path -> PreparedImage in
            let existing = try store.image(path: path)
            if let existing, let data = try? Data(contentsOf: URL(fileURLWithPath: path)),
               SHA256.hex(data) == existing.contentHash {
                return .unchanged
            }
            do {
                return .described(try features?(path) ?? extractor.extract(path), replacing: existing != nil)
            } catch {
                return .unreadable("\(error)")
            }
        }
        defer { prefetch.cancel() }
        while let (path, prepared) = prefetch.next() {
            defer { bar.advance() }
            switch try prepared.get() {
            case .unchanged:
                report.alreadyIndexed.append(path)
            case .unreadable(let reason):
                report.failed.append((path, reason))
                bar.message("skipped: \(reason)")
            case let .described(x, replacing):
                report.decodeSeconds += x.decodeSeconds
                report.networkSeconds += x.networkSeconds
                if replacing { try flush(); _ = try store.remove(paths: [path]) }
                if try store.contains(contentHash: x.contentHash) != nil { report.alreadyIndexed.append(path); continue }
                let t = Date()
                batch.append(try databaseEntry(x))
                report.quantizeSeconds += Date().timeIntervalSince(t)
                if batch.count >= batchSize { try flush() }
            }
        }
        try flush()
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    /// Removes images by path (as given on the command line: relative paths are resolved as
    /// they were when added). Returns how many were indexed.
    public func remove(_ paths: [String]) throws -> Int {
        try Self.remove(paths, from: store)
    }

    static func remove(_ paths: [String], from store: IndexStore) throws -> Int {
        try store.remove(paths: paths.map { URL(fileURLWithPath: $0).standardizedFileURL.path })
    }
}
