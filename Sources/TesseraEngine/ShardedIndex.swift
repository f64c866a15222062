import Foundation
import Index
import TesseraCore

/// A document-partitioned index on this machine: a `ShardManifest` and the ordinary indexes
/// it lists (`shard-00`, `shard-01`, … beside it). Adding routes each image by its content
/// hash (`ShardManifest.shard(forContentHash:)`), so the same photo always lands in the same
/// shard and is indexed once; searching goes through a `ShardCoordinator`.
///
/// Each shard is an LMDB index of its own, with its own writer lock, and each keeps the
/// guarantees of one index (a killed add leaves whole images). The manifest's counts are
/// rewritten (atomically) after every add or remove.
public final class ShardedIndex {
    public let manifestURL: URL
    public private(set) var manifest: ShardManifest
    /// The shards, in manifest order (all local: a sharded index with URLs is only searched).
    public let shards: [SearchIndex]

    /// Creates `count` empty shards in `directory` (which must not hold a manifest) with
    /// `vocabulary`, and their manifest, `directory/shards.json`.
    public static func create(at directory: URL, shards count: Int, vocabulary: URL,
                              modelPath: String?) throws -> ShardedIndex {
        guard (1...4096).contains(count) else { throw EngineError.invalidInput("--shards must be 1 to 4096") }
        let url = directory.appendingPathComponent(ShardManifest.fileName)
        guard !FileManager.default.fileExists(atPath: url.path) else {
            throw EngineError.invalidInput("\(url.path) exists: a sharded index is already there")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let width = max(2, String(count - 1).count)
        let names = (0..<count).map { "shard-" + String(format: "%0\(width)d", $0) }
        var indexes: [SearchIndex] = []
        for name in names {
            indexes.append(try SearchIndex(directory: directory.appendingPathComponent(name), vocabulary: vocabulary,
                                           modelPath: modelPath, create: true, sharing: indexes.first?.querySide))
        }
        let manifest = ShardManifest(identity: ShardIdentity(of: indexes[0]),
                                     vocabulary: vocabulary.standardizedFileURL.path,
                                     shards: names.map { ShardManifest.Shard(path: $0) })
        try manifest.write(to: url)
        return ShardedIndex(manifestURL: url, manifest: manifest, shards: indexes)
    }

    private init(manifestURL: URL, manifest: ShardManifest, shards: [SearchIndex]) {
        self.manifestURL = manifestURL; self.manifest = manifest; self.shards = shards
    }

    /// Opens the sharded index whose manifest is `url`; every shard must be a local directory
    /// with the manifest's identity. The shards share one network and vocabulary.
    public init(manifest url: URL, modelPath: String?, readOnly: Bool = false) throws {
        let m = try ShardManifest.load(from: url)
        manifestURL = url
        manifest = m
        var opened: [SearchIndex] = []
        for i in m.shards.indices {
            guard let dir = m.directory(of: i, manifest: url) else {
                throw EngineError.invalidInput("shard \(i) is a URL (\(m.shards[i].url ?? "")): only local shards "
                                               + "can be written here; add to that server instead")
            }
            let index = try SearchIndex(directory: dir, vocabulary: nil, modelPath: modelPath, readOnly: readOnly,
                                        sharing: opened.first?.querySide)
            let diff = m.identity.differences(from: ShardIdentity(of: index))
            guard diff.isEmpty else { throw ShardError.identityMismatch(shard: i, differences: diff) }
            opened.append(index)
        }
        shards = opened
    }

    /// Adds images (files or folders, recursively), each to the shard its content hash names.
    /// A path indexed in another shard with other content is replaced: removed there once the
    /// new content is in. Unreadable files are reported, never fatal.
    public func add(_ paths: [String], showProgress: Bool = true,
                    features: ((String) throws -> ExtractedImage)? = nil) throws -> AddReport {
        var report = AddReport()
        let start = Date()
        var routed = [[String]](repeating: [], count: shards.count)
        for path in ImageFiles.collect(paths) {
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                routed[ShardManifest.shard(forContentHash: SHA256.hex(data), count: shards.count)].append(path)
            } catch {
                report.failed.append((path, "cannot read the file: \(error.localizedDescription)"))
            }
        }
        for (s, files) in routed.enumerated() where !files.isEmpty {
            let r = try shards[s].add(files, showProgress: showProgress, features: features)
            for (other, index) in shards.enumerated() where other != s {
                let stale = try r.added.filter { try index.store.image(path: $0) != nil }
                if !stale.isEmpty { _ = try index.remove(stale) }
            }
            report.added += r.added
            report.alreadyIndexed += r.alreadyIndexed
            report.failed += r.failed
            report.decodeSeconds += r.decodeSeconds
            report.networkSeconds += r.networkSeconds
            report.quantizeSeconds += r.quantizeSeconds
            report.writeSeconds += r.writeSeconds
        }
        try recordCounts()
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    /// Moves the images of indexes built elsewhere (parts: ordinary indexes of the manifest's
    /// vocabulary and model, e.g. one per machine, each on its local disk) into the shards
    /// their content hashes name, renumbered there (`merge(parts:into:…)`), and records the counts.
    public func merge(parts: [URL], batchSize: Int = 64) throws -> AddReport {
        let stores = Dictionary(uniqueKeysWithValues: shards.enumerated().map { ($0.offset, $0.element.store) })
        let report = try Self.merge(parts: parts, into: stores, manifest: manifest, batchSize: batchSize)
        try recordCounts()
        return report
    }

    /// `merge(parts:)` into shard `shard` alone: only the parts' images that route to it are
    /// moved, and only that shard's index is opened (no network, no other shard's writer lock),
    /// so one process per shard can merge at once. The manifest is not rewritten: run
    /// `refreshCounts(manifest:)` when every shard is done.
    public static func merge(parts: [URL], intoShard shard: Int, manifest url: URL,
                             batchSize: Int = 64) throws -> AddReport {
        let m = try ShardManifest.load(from: url)
        guard m.shards.indices.contains(shard), let dir = m.directory(of: shard, manifest: url) else {
            throw EngineError.invalidInput("the manifest has no local shard \(shard) (it has \(m.shards.count))")
        }
        let store = try IndexStore.open(at: dir, expecting: m.identity.indexIdentity)
        return try merge(parts: parts, into: [shard: store], manifest: m, batchSize: batchSize)
    }

    /// The images of `parts` that route to the shards in `stores`, added there. Each image is
    /// rebuilt from its stored record and patch geometry (the words and signatures of every
    /// patch), so its postings, norms and scores are the ones it had. An image already in its
    /// shard is skipped, so a killed merge can be run again; a path indexed there with other
    /// content, or an image stored without geometry, is reported and skipped. A batch is one
    /// transaction per shard.
    static func merge(parts: [URL], into stores: [Int: IndexStore], manifest: ShardManifest,
                      batchSize: Int) throws -> AddReport {
        var report = AddReport()
        let start = Date()
        var pending: [Int: [NewImage]] = [:]
        func flush(_ s: Int) throws {
            guard let batch = pending[s], !batch.isEmpty, let store = stores[s] else { return }
            let t = Date()
            for (image, outcome) in zip(batch, try store.add(batch)) {
                if case .added = outcome { report.added.append(image.path) } else {
                    report.alreadyIndexed.append(image.path)
                }
            }
            report.writeSeconds += Date().timeIntervalSince(t)
            pending[s] = []
        }
        for part in parts {
            let source = try IndexStore.open(at: part, expecting: manifest.identity.indexIdentity,
                                             options: IndexStoreOptions(readOnly: true))
            guard source.meta.patchSettings == manifest.identity.patchSettings else {
                throw EngineError.invalidInput("\(part.path): patch settings \(source.meta.patchSettings), the shards "
                                               + "have \(manifest.identity.patchSettings)")
            }
            try source.withSnapshot { snap in
                for record in try snap.images() {
                    let s = ShardManifest.shard(forContentHash: record.contentHash, count: manifest.shards.count)
                    guard let store = stores[s] else { continue }
                    guard let geometry = try snap.geometry(of: record.id) else {
                        report.failed.append((record.path, "stored without patch geometry: index the file again"))
                        continue
                    }
                    if let other = try store.image(path: record.path), other.contentHash != record.contentHash {
                        report.failed.append((record.path, "indexed in shard \(s) with other content: remove it first"))
                        continue
                    }
                    pending[s, default: []].append(NewImage(
                        path: record.path, contentHash: record.contentHash, width: record.width, height: record.height,
                        norms: record.norms, globalDescriptor: record.globalDescriptor, layers: geometry.layers,
                        frames: geometry.frames))
                    if pending[s, default: []].count >= batchSize { try flush(s) }
                }
            }
            for s in stores.keys.sorted() { try flush(s) }
        }
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    /// Rewrites the manifest's image counts from the shards as stored now (a new generation
    /// when they changed), opening each shard read-only. Returns the manifest as written.
    @discardableResult
    public static func refreshCounts(manifest url: URL) throws -> ShardManifest {
        var m = try ShardManifest.load(from: url)
        let counts = try m.shards.indices.map { i -> Int in
            guard let dir = m.directory(of: i, manifest: url) else { return m.shards[i].images }
            let store = try IndexStore.open(at: dir, expecting: m.identity.indexIdentity,
                                            options: IndexStoreOptions(readOnly: true))
            return try store.withSnapshot { try $0.imageCount() }
        }
        guard counts != m.shards.map(\.images) else { return m }
        for i in counts.indices { m.shards[i].images = counts[i] }
        m.generation += 1
        try m.write(to: url)
        return m
    }

    /// Removes images by path from whichever shard holds them; returns how many were indexed.
    public func remove(_ paths: [String]) throws -> Int {
        let removed = try shards.reduce(0) { $0 + (try $1.remove(paths)) }
        try recordCounts()
        return removed
    }

    /// Images per shard, as stored now.
    public func counts() throws -> [Int] {
        try shards.map { try $0.store.withSnapshot { try $0.imageCount() } }
    }

    /// A coordinator over the shards, opened in this process.
    public func coordinator(deadline: TimeInterval? = nil) throws -> ShardCoordinator {
        let first = shards[0]
        return ShardCoordinator(identity: manifest.identity, vocabulary: first.vocabulary, whitening: first.whitening,
                                extractor: first.extractor,
                                shards: shards.map { LocalShard(LiveIndex(index: $0)) }, deadline: deadline)
    }

    private func recordCounts() throws {
        let now = try counts()
        guard now != manifest.shards.map(\.images) else { return }
        for i in now.indices { manifest.shards[i].images = now[i] }
        manifest.generation += 1
        try manifest.write(to: manifestURL)
    }
}

extension ShardCoordinator {
    /// A coordinator for the manifest at `url`: directory shards opened in this process
    /// (read-only), URL shards reached over HTTP (`RemoteShard`), queries quantised with the
    /// manifest's vocabulary.
    public static func open(manifest url: URL, modelPath: String?, deadline: TimeInterval? = nil) throws
        -> ShardCoordinator {
        let m = try ShardManifest.load(from: url)
        let side = try SearchIndex.QuerySide(vocabulary: m.vocabularyURL(manifest: url), modelPath: modelPath)
        guard side.vocabularyID == m.identity.vocabularyID else {
            throw EngineError.invalidInput("the vocabulary \(m.vocabulary) (\(side.vocabularyID)) is not the one the "
                                           + "shards were built with (\(m.identity.vocabularyID))")
        }
        let shards: [any SearchShard] = try m.shards.indices.map { i in
            if let dir = m.directory(of: i, manifest: url) {
                return LocalShard(try LiveIndex(directory: dir, modelPath: modelPath, readOnly: true, sharing: side))
            }
            return try RemoteShard(baseURL: m.shards[i].url ?? "")
        }
        return ShardCoordinator(identity: m.identity, vocabulary: side.vocabulary, whitening: side.whitening,
                                extractor: side.extractor, shards: shards, deadline: deadline)
    }
}
