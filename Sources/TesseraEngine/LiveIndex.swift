import Foundation
import Index
import Patches
import TesseraCore

/// What adding one uploaded image did.
public enum UploadOutcome: Sendable, Equatable {
    /// Indexed under this new id.
    case added(ImageID)
    /// The same content is already indexed under this id; nothing was written.
    case alreadyIndexed(ImageID)
}

/// A warm index for a long-running process (the query server, a shard): the vocabulary, the
/// network and the LMDB environment are opened once, and the database side of the search
/// (norms, paths, global descriptors: `SearchPipeline`) is prepared once per committed state
/// and reused by every query until a write, by this process or another, commits.
///
/// Every query reads one LMDB snapshot; the prepared side is used only with a snapshot of the
/// generation it was prepared from (`IndexSnapshot.generation`), so no query mixes two states
/// of the index. The store takes `writer.lock` per write (`WriterLocking.perWrite`): another
/// process may add between this one's writes, and this one's queries see it next.
/// Queries may run on several threads at once; writes are serialised by the store.
public final class LiveIndex: @unchecked Sendable {
    public let index: SearchIndex
    /// Where uploaded images are kept, named by their SHA-256 (the index stores paths).
    public let uploads: URL

    /// Prepared database sides of the current generation, by whitening and DBA.
    private var prepared: [PreparedKey: SearchPipeline] = [:]
    private var preparedGeneration = -1
    private let preparing = NSLock()

    private struct PreparedKey: Hashable {
        var whiten: Bool
        var databaseAugmentation: Int
        init(_ o: QueryOptions) { whiten = o.whiten; databaseAugmentation = o.databaseAugmentation }
    }

    /// Opens the index at `directory` with the vocabulary it was created with.
    public convenience init(directory: URL, modelPath: String?, readOnly: Bool = false) throws {
        try self.init(directory: directory, modelPath: modelPath, readOnly: readOnly, sharing: nil)
    }

    /// `sharing`: another shard's vocabulary and network, reused when the vocabulary is the same.
    convenience init(directory: URL, modelPath: String?, readOnly: Bool, sharing: SearchIndex.QuerySide?) throws {
        self.init(index: try SearchIndex(directory: directory, vocabulary: nil, modelPath: modelPath,
                                         readOnly: readOnly,
                                         storeOptions: IndexStoreOptions(readOnly: readOnly, writerLocking: .perWrite),
                                         sharing: sharing))
    }

    /// Serves an index this process has already opened (a shard of a `ShardedIndex`).
    public init(index: SearchIndex) {
        self.index = index
        uploads = index.directory.appendingPathComponent("uploads", isDirectory: true)
    }

    public var isReadOnly: Bool { index.store.options.readOnly }

    // MARK: Queries

    /// Decodes and describes an uploaded JPEG (the CNN pass; no snapshot is open meanwhile).
    public func extract(_ data: Data, name: String) throws -> ExtractedImage {
        try index.extractor.extract(data: data, name: name)
    }

    /// Ranks the index for an extracted query under `options`, on the newest committed state.
    public func search(_ x: ExtractedImage, options: QueryOptions) throws -> QueryResult {
        try withPipeline(options) { try $0.search(x) }
    }

    /// Runs `body` with a search on one snapshot of the newest committed state, its database
    /// side prepared once per generation.
    public func withPipeline<R>(_ options: QueryOptions, _ body: (SearchPipeline) throws -> R) throws -> R {
        try index.store.withSnapshot { snap in
            try body(try pipeline(for: snap, options: options))
        }
    }

    private func pipeline(for snap: IndexSnapshot, options: QueryOptions) throws -> SearchPipeline {
        let key = PreparedKey(options)
        let base: SearchPipeline = try preparing.withLock {
            if snap.generation != preparedGeneration {
                prepared.removeAll()
                preparedGeneration = snap.generation
            }
            if let p = prepared[key] { return p }
            let p = try index.pipeline(on: snap, options: options)
            prepared[key] = p
            return p
        }
        return try base.reading(snap, geometry: snap, options: options)
    }

    /// The generation of the newest committed state (grows with every commit).
    public func generation() throws -> Int { try index.store.withSnapshot { $0.generation } }

    // MARK: Reading the image table

    /// At most `limit` images with ids ≥ `first`, by id.
    public func images(from first: ImageID, limit: Int) throws -> [ImageRecord] {
        try index.store.withSnapshot { try $0.images(from: first, limit: limit) }
    }

    public func image(id: ImageID) throws -> ImageRecord? {
        try index.store.withSnapshot { try $0.image(id: id) }
    }

    /// Images, postings per layer, bytes: walks every layer's lists (`IndexStore.stats`).
    public func stats() throws -> IndexStats { try index.store.stats() }

    /// Images in the newest committed state, from LMDB's record count (no walk; for metrics).
    public func imageCount() throws -> Int { try index.store.withSnapshot { try $0.imageCount() } }

    /// A JPEG thumbnail of image `id`, its longer side at most `longSide` pixels (decoded with
    /// DCT scaling, so cheap); nil when no image has this id. Throws when the file is gone or unreadable.
    public func thumbnail(id: ImageID, longSide: Int = 256) throws -> Data? {
        guard let record = try image(id: id) else { return nil }
        let image = try JPEGDecoder.decode(URL(fileURLWithPath: record.path), minLongSide: longSide)
        return try JPEGEncoder.thumbnail(image, longSide: longSide)
    }

    // MARK: Writing

    /// Adds an uploaded JPEG: it is decoded and described first (a bad image throws and
    /// nothing is kept), then saved as `uploads/<sha256>.jpg` and indexed under that path.
    public func add(upload data: Data) throws -> UploadOutcome {
        let hash = SHA256.hex(data)
        if let id = try index.store.contains(contentHash: hash) { return .alreadyIndexed(id) }
        try FileManager.default.createDirectory(at: uploads, withIntermediateDirectories: true)
        let file = uploads.appendingPathComponent("\(hash).jpg")
        let x = try index.extractor.extract(data: data, name: file.path)
        if !FileManager.default.fileExists(atPath: file.path) { try data.write(to: file, options: .atomic) }
        let outcome = try index.store.add([try index.databaseEntry(x)])
        switch outcome.first {
        case .added(let id)?: return .added(id)
        case .duplicate(let id)?: return .alreadyIndexed(id)
        case nil: throw EngineError.invalidInput("nothing was added")
        }
    }

    /// Adds image files or folders already on this machine (`SearchIndex.add`).
    public func add(files: [String]) throws -> AddReport { try index.add(files, showProgress: false) }

    /// Removes an image by id; its uploaded file goes too when it was an upload. False when
    /// no image has this id.
    public func remove(id: ImageID) throws -> Bool {
        guard let record = try image(id: id) else { return false }
        let removed = try index.store.remove(paths: [record.path]) > 0
        let file = URL(fileURLWithPath: record.path)
        if removed && file.deletingLastPathComponent().standardizedFileURL.path == uploads.standardizedFileURL.path {
            try? FileManager.default.removeItem(at: file)
        }
        return removed
    }
}
