import Foundation
import TesseraCore

/// In-memory inverted files with the same content, byte for byte, as an
/// `IndexStore` given the same images: per layer, word → one contiguous buffer
/// of `PostingLayout` records sorted as LMDB sorts duplicates (image id, then
/// signature bytes), exact repeats collapsed (see `ImagePostings`).
///
/// For tests, small collections and queries against a fixed set; not thread-safe
/// for concurrent mutation.
public final class MemoryInvertedLists: InvertedListsReader {
    public let signatureWords: Int
    public let layerCount: Int
    private let stride: Int
    private var lists: [[UInt32: [UInt8]]]
    /// Distinct words per layer of every image, to remove it.
    private var imageWords: [ImageID: [[UInt32]]] = [:]

    public init(layerCount: Int, signatureWords: Int) {
        self.layerCount = layerCount
        self.signatureWords = signatureWords
        self.stride = PostingLayout.stride(signatureWords: signatureWords)
        self.lists = Array(repeating: [:], count: layerCount)
    }

    /// Image ids currently held.
    public var imageIDs: [ImageID] { imageWords.keys.sorted() }

    /// Adds image `id` with one quantised layer per inverted file (every
    /// assignment other than `QuantizedLayer.none` counts, as in `IndexStore.add`).
    public func add(id: ImageID, layers: [QuantizedLayer]) throws {
        guard layers.count == layerCount else {
            throw IndexError.invalidInput("\(layers.count) quantised layers, expected \(layerCount)")
        }
        guard imageWords[id] == nil else { throw IndexError.invalidInput("image \(id) already present") }
        var perLayerWords = [[UInt32]]()
        for (l, q) in layers.enumerated() {
            guard q.signatureWords == signatureWords else {
                throw IndexError.invalidInput(
                    "layer \(l): \(q.signatureWords)-word signatures, expected \(signatureWords)")
            }
            let postings = ImagePostings(q)
            perLayerWords.append(postings.distinctWords)
            let runs = PostingRuns([(id: id, postings: postings)], signatureWords: signatureWords)
            for run in runs.runs {
                let new = runs.records[(run.start * stride)..<((run.start + run.count) * stride)]
                merge(new, into: &lists[l][run.word, default: []])
            }
        }
        imageWords[id] = perLayerWords
    }

    /// Removes image `id`'s postings; returns false when it was not present.
    @discardableResult
    public func remove(id: ImageID) -> Bool {
        guard let perLayer = imageWords.removeValue(forKey: id) else { return false }
        let key = id.bigEndian
        for (l, words) in perLayer.enumerated() {
            for w in words {
                guard var list = lists[l][w] else { continue }
                var kept = [UInt8]()
                kept.reserveCapacity(list.count)
                list.withUnsafeBytes { raw in
                    for r in 0..<(raw.count / stride)
                    where raw.loadUnaligned(fromByteOffset: r * stride, as: UInt32.self) != key {
                        kept.append(contentsOf: raw[(r * stride)..<((r + 1) * stride)])
                    }
                }
                list = kept
                lists[l][w] = list.isEmpty ? nil : list
            }
        }
        return true
    }

    /// Non-empty words of `layer`, ascending.
    public func words(layer: Int) -> [UInt32] { lists[layer].keys.sorted() }

    /// Lends the word's list as one block.
    public func forEachPostingBlock(layer: Int, word: UInt32, _ body: (PostingList) throws -> Void) throws {
        try check(layer: layer)
        guard let list = lists[layer][word] else { return }
        try list.withUnsafeBytes { try body(PostingList(bytes: $0, signatureWords: signatureWords)) }
    }

    private func check(layer: Int) throws {
        guard (0..<layerCount).contains(layer) else {
            throw IndexError.invalidInput("layer \(layer) (the lists have \(layerCount))")
        }
    }

    /// Every word's list is one block, so `next` is the next word's list.
    public func forEachPostingBlock(layer: Int, words: [UInt32],
                                    _ body: (Int, PostingList, UnsafeRawPointer?) throws -> Void) throws {
        try check(layer: layer)
        let found = words.indices.compactMap { k in lists[layer][words[k]].flatMap { $0.isEmpty ? nil : (k, $0) } }
        for (i, (k, list)) in found.enumerated() {
            try list.withUnsafeBytes { bytes in
                let block = PostingList(bytes: bytes, signatureWords: signatureWords)
                guard i + 1 < found.count else { return try body(k, block, nil) }
                try found[i + 1].1.withUnsafeBytes { try body(k, block, $0.baseAddress) }
            }
        }
    }

    /// Merges sorted, repeat-free records `b` into the sorted, repeat-free list `a` (memcmp order), dropping repeats.
    private func merge(_ b: ArraySlice<UInt8>, into a: inout [UInt8]) {
        let s = stride
        // Fast path, in place: everything new sorts after the existing list (ids grow).
        let appends = a.isEmpty || a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in memcmp(pa.baseAddress! + pa.count - s, pb.baseAddress!, s) < 0 }
        }
        if appends { a.append(contentsOf: b); return }
        a = a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in
                var out = [UInt8]()
                out.reserveCapacity(pa.count + pb.count)
                var i = 0, j = 0
                while i < pa.count || j < pb.count {
                    let c: Int32
                    if i == pa.count { c = 1 } else if j == pb.count { c = -1 } else {
                        c = memcmp(pa.baseAddress! + i, pb.baseAddress! + j, s)
                    }
                    if c <= 0 {
                        out.append(contentsOf: pa[i..<(i + s)]); i += s
                        if c == 0 { j += s }
                    } else {
                        out.append(contentsOf: pb[j..<(j + s)]); j += s
                    }
                }
                return out
            }
        }
    }
}
