import Foundation
import TesseraCore

/// Size and balance of an index (what asmk-style reports show).
public struct IndexStats: Equatable, Sendable {
    /// A word and its posting count.
    public struct WordCount: Equatable, Sendable {
        public var word: UInt32
        public var postings: Int
    }
    /// Per-layer figures.
    public struct Layer: Equatable, Sendable {
        public var key: LayerKey
        public var postings: Int
        /// Words with at least one posting.
        public var nonEmptyWords: Int
        /// The longest lists, longest first (ties by word).
        public var longestLists: [WordCount]
        /// Sealed posting blocks (`blk.<layer>`) and the postings they hold; the rest are in tails.
        public var sealedBlocks: Int
        public var postingsInBlocks: Int
    }

    public var images: Int
    /// One past the largest id ever assigned (ids are never reused).
    public var nextImageID: ImageID
    public var layers: [Layer]
    /// Bytes of pages in use (file high-water mark minus LMDB's free list).
    public var bytesInUse: Int
    /// Size of `data.mdb` (LMDB never shrinks it; `compact(to:)` does).
    public var fileBytes: Int

    /// Bytes in use per indexed image (0 for an empty index).
    public var bytesPerImage: Double { images == 0 ? 0 : Double(bytesInUse) / Double(images) }
}

extension IndexStore {
    /// Counts computed from the stored data itself (never from running totals),
    /// so they stay exact across adds and removes.
    public func stats(longest: Int = 5) throws -> IndexStats {
        try withSnapshot { s in
            var layers = [IndexStats.Layer]()
            for (l, key) in meta.layerKeys.enumerated() {
                var nonEmpty = 0, postings = 0
                var top = [IndexStats.WordCount]()
                try s.forEachWord(layer: l) { word, count in
                    nonEmpty += 1
                    postings += count
                    top.append(.init(word: word, postings: count))
                    if top.count > 4 * max(longest, 1) { trim(&top, longest) }
                }
                trim(&top, longest)
                let blocks = try s.blockCount(layer: l)
                layers.append(.init(key: key, postings: postings,
                                    nonEmptyWords: nonEmpty, longestLists: top,
                                    sealedBlocks: blocks.blocks, postingsInBlocks: blocks.postings))
            }
            let space = try s.spaceInUse()
            let file = (try? FileManager.default.attributesOfItem(
                atPath: directory.appendingPathComponent("data.mdb").path)[.size] as? Int) ?? 0
            return IndexStats(images: try s.imageCount(), nextImageID: ImageID(try s.imageIDBound()), layers: layers,
                              bytesInUse: space.usedPages * space.pageSize, fileBytes: file)
        }
    }
}

private func trim(_ top: inout [IndexStats.WordCount], _ n: Int) {
    top.sort { $0.postings != $1.postings ? $0.postings > $1.postings : $0.word < $1.word }
    if top.count > n { top.removeLast(top.count - n) }
}
