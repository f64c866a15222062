import Foundation
import TesseraCore

/// What `IndexSnapshot.consistencyCheck` found: the counts it walked and every broken invariant, in words
/// (the first `IndexCheck.problemLimit`; `problemCount` counts them all).
public struct IndexCheck: Sendable {
    public var images = 0
    public var postings = 0
    public var problems: [String] = []
    public var problemCount = 0
    public var isConsistent: Bool { problemCount == 0 }

    static let problemLimit = 100

    mutating func problem(_ text: @autoclosure () -> String) {
        problemCount += 1
        if problems.count < Self.problemLimit { problems.append(text()) }
    }
}

extension IndexSnapshot {
    /// Verifies the index's invariants (LAYOUT.md) on this snapshot, reading every record once:
    /// - each image record decodes, its id is below `nextImageID`, and its path and content-hash
    ///   entries lead back to it; every path, hash, word-list and geometry entry belongs to an image;
    /// - every posting names an existing image, postings are sorted by image within each block;
    /// - per image and layer, the distinct words of its postings are exactly its stored word list,
    ///   and it has no more postings than features (exact repeats collapse, `ImagePostings`);
    /// - with `idf` (the vocabulary's, per layer), each stored norm ‖I‖ = √(Σ idf²) over the
    ///   image's descriptors is at least the same sum over its postings (equal but for collapsed
    ///   repeats), and finite.
    /// Memory: one word per distinct (image, word) pair of a layer at a time.
    public func consistencyCheck(idf: [[Float]]? = nil) throws -> IndexCheck {
        var report = IndexCheck()
        let meta = self.meta
        let layers = meta.layerKeys.count
        let bound = try imageIDBound()
        var records = [ImageRecord?](repeating: nil, count: bound)
        for r in try imagesForCheck(&report) {
            guard Int(r.id) < bound else {
                report.problem("image \(r.id) is at or above nextImageID \(bound)")
                continue
            }
            records[Int(r.id)] = r
            report.images += 1
            if r.featureCounts.count != layers || r.norms.count != layers {
                report.problem("image \(r.id): \(r.featureCounts.count) feature counts and \(r.norms.count) norms "
                               + "for \(layers) layers")
            }
            if try image(path: r.path)?.id != r.id {
                report.problem("image \(r.id): its path entry does not lead to it")
            }
            if try imageID(contentHash: r.contentHash) != r.id {
                report.problem("image \(r.id): its content-hash entry does not lead to it")
            }
        }
        func exists(_ id: ImageID) -> Bool { Int(id) < bound && records[Int(id)] != nil }
        for (name, ids) in [("path", try entryIDs(store.dbs.paths)), ("content-hash", try entryIDs(store.dbs.hashes)),
                            ("word-list", try entryIDs(store.dbs.imageWords, keyed: true)),
                            ("geometry", try entryIDs(store.dbs.geometry, keyed: true))] {
            for id in ids where !exists(id) { report.problem("a \(name) entry names image \(id), which is absent") }
        }
        let stored = try storedWords(layers: layers, &report)
        for l in 0..<layers {
            // The distinct words of each image's postings, gathered word by word (so ascending).
            var words = [[UInt32]](repeating: [], count: bound)
            var counts = [Int](repeating: 0, count: bound)
            var sums = [Double](repeating: 0, count: bound)
            var all: [UInt32] = []
            try forEachWord(layer: l) { w, _ in all.append(w) }
            try forEachPostingBlock(layer: l, words: all) { k, block, _ in
                let w = all[k]
                let weight = idf.flatMap { l < $0.count && Int(w) < $0[l].count ? Double($0[l][Int(w)]) : nil } ?? 0
                var previous: ImageID? = nil
                for i in 0..<block.count {
                    let id = block.image(at: i)
                    report.postings += 1
                    if let p = previous, id < p {
                        report.problem("layer \(l), word \(w): postings out of image order (\(p) before \(id))")
                    }
                    previous = id
                    guard exists(id) else {
                        report.problem("layer \(l), word \(w): a posting names image \(id), which is absent")
                        continue
                    }
                    counts[Int(id)] += 1
                    sums[Int(id)] += weight * weight
                    if words[Int(id)].last != w { words[Int(id)].append(w) }
                }
            }
            for case let r? in records where r.featureCounts.count == layers && r.norms.count == layers {
                let i = Int(r.id)
                guard let s = stored[i], l < s.count else {
                    if l == 0 { report.problem("image \(r.id): no stored word list") }
                    continue
                }
                if s[l] != words[i] {
                    report.problem("image \(r.id), layer \(l): \(words[i].count) words in its postings, "
                                   + "\(s[l].count) in its stored word list")
                }
                if counts[i] > r.featureCounts[l] {
                    report.problem("image \(r.id), layer \(l): \(counts[i]) postings for "
                                   + "\(r.featureCounts[l]) features")
                }
                let norm = r.norms[l]
                if !norm.isFinite || norm < 0 {
                    report.problem("image \(r.id), layer \(l): norm \(norm)")
                } else if idf != nil && Double(norm) < sums[i].squareRoot() * (1 - 1e-4) - 1e-6 {
                    report.problem(String(format: "image %u, layer %d: norm %.5f below %.5f from its postings",
                                          r.id, l, norm, sums[i].squareRoot()))
                }
            }
        }
        return report
    }

    /// Every image record; one that does not decode is a problem, not an error.
    private func imagesForCheck(_ report: inout IndexCheck) throws -> [ImageRecord] {
        try txn.withCursor(store.dbs.images) { cursor in
            var out = [ImageRecord]()
            var entry = try cursor.get(.first)
            while let e = entry {
                if e.key.count != 4 {
                    report.problem("an image key of \(e.key.count) bytes")
                } else {
                    let id = readBigEndianUInt32(e.key)
                    do { out.append(try ImageRecord.decode(id: id, e.value)) } catch {
                        report.problem("image \(id): record does not decode (\(error))")
                    }
                }
                entry = try cursor.get(.next)
            }
            return out
        }
    }

    /// The ids a database names: its values (path and hash entries), or with `keyed`, its keys.
    private func entryIDs(_ db: LMDBDatabase, keyed: Bool = false) throws -> [ImageID] {
        try txn.withCursor(db) { cursor in
            var out = [ImageID]()
            var entry = try cursor.get(.first)
            while let e = entry {
                let bytes = keyed ? e.key : e.value
                out.append(bytes.count == 4 ? readBigEndianUInt32(bytes) : .max)
                entry = try cursor.get(.next)
            }
            return out
        }
    }

    /// Each image's stored distinct words per layer, by id (nil where absent or undecodable).
    private func storedWords(layers: Int, _ report: inout IndexCheck) throws -> [[[UInt32]]?] {
        let bound = try imageIDBound()
        return try txn.withCursor(store.dbs.imageWords) { cursor in
            var out = [[[UInt32]]?](repeating: nil, count: bound)
            var entry = try cursor.get(.first)
            while let e = entry {
                if e.key.count == 4 {
                    let id = readBigEndianUInt32(e.key)
                    do {
                        let words = try IndexDatabases.decodeWords(e.value, layers: layers, id: id)
                        if Int(id) < bound { out[Int(id)] = words }
                    } catch {
                        report.problem("image \(id): word list does not decode (\(error))")
                    }
                }
                entry = try cursor.get(.next)
            }
            return out
        }
    }

    /// The id under which a content hash is indexed.
    func imageID(contentHash: String) throws -> ImageID? {
        try txn.value(store.dbs.hashes, key: IndexDatabases.hashKey(contentHash, maxKeySize: store.maxKeySize))
            .map(decodeID)
    }
}
