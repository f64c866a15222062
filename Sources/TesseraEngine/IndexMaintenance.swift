import Foundation
import Index
import Quantizer

/// Index operations that need no vocabulary or network: listing, statistics, removal and
/// compaction work on the LMDB store alone.
extension SearchIndex {
    /// The indexed images (id, size, path), in id order.
    public static func images(in directory: URL) throws -> [ImageRecord] {
        try IndexStore.open(at: directory, expecting: nil, options: IndexStoreOptions(readOnly: true)).images()
    }

    /// Images, postings per layer, bytes per image and the longest lists.
    public static func stats(of directory: URL) throws -> IndexStats {
        try IndexStore.open(at: directory, expecting: nil, options: IndexStoreOptions(readOnly: true)).stats()
    }

    /// Removes images by path (resolved like `add` resolves them); returns how many were indexed.
    public static func remove(_ paths: [String], from directory: URL) throws -> Int {
        try remove(paths, from: try IndexStore.open(at: directory, expecting: nil))
    }

    /// Verifies the index's invariants on one snapshot (`IndexSnapshot.consistencyCheck`); the
    /// norms are checked against the IDF of the vocabulary the index records, when that file is
    /// there (`vocabularyChecked`).
    public static func check(_ directory: URL) throws -> (report: IndexCheck, vocabularyChecked: Bool) {
        let store = try IndexStore.open(at: directory, expecting: nil, options: IndexStoreOptions(readOnly: true))
        let record = directory.appendingPathComponent(vocabularyPathFile)
        let idf: [[Float]]? = (try? String(contentsOf: record, encoding: .utf8))
            .map { URL(fileURLWithPath: $0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            .flatMap { try? Vocabulary.load(from: $0) }
            .flatMap { v in v.layers.map(\.key) == store.meta.layerKeys ? v.layers.map(\.idf) : nil }
        return (try store.withSnapshot { try $0.consistencyCheck(idf: idf) }, idf != nil)
    }

    /// Writes a compacted copy of the index to `destination` (absent or empty), with the
    /// record of its vocabulary.
    public static func compact(_ directory: URL, to destination: URL) throws {
        let store = try IndexStore.open(at: directory, expecting: nil, options: IndexStoreOptions(readOnly: true))
        // The vocabulary record first: the copy becomes an index only when its data.mdb lands.
        let record = directory.appendingPathComponent(vocabularyPathFile)
        let copied = destination.appendingPathComponent(vocabularyPathFile)
        if FileManager.default.fileExists(atPath: record.path) {
            guard !FileManager.default.fileExists(atPath: destination.appendingPathComponent("data.mdb").path) else {
                throw IndexError.alreadyExists(destination.path)
            }
            try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(at: copied)
            try FileManager.default.copyItem(at: record, to: copied)
        }
        try store.compact(to: destination)
    }
}
