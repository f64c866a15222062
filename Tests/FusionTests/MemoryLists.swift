import TesseraCore

/// A tiny in-memory `InvertedListsReader` for tests: (layer, word) → encoded postings.
struct MemoryLists: InvertedListsReader {
    let signatureWords: Int
    var lists: [Int: [UInt32: [UInt8]]] = [:]
    /// Lists are lent in blocks of this many images (as an LMDB index lends sealed blocks).
    var imagesPerBlock = Int.max

    init(signatureWords: Int) { self.signatureWords = signatureWords }

    /// Adds the postings of `images` (id, [(word, signature)]) to `layer`; ids must be added in ascending order.
    mutating func add(layer: Int, image: ImageID, features: [(UInt32, [UInt64])]) {
        for (w, sig) in features {
            precondition(sig.count == signatureWords)
            lists[layer, default: [:]][w, default: []] +=
                PostingLayout.encode(images: [image], signatures: sig, signatureWords: signatureWords)
        }
    }

    func forEachPostingBlock(layer: Int, word: UInt32, _ body: (PostingList) throws -> Void) throws {
        let bytes = lists[layer]?[word] ?? []
        try bytes.withUnsafeBytes { raw in
            let list = PostingList(bytes: raw, signatureWords: signatureWords)
            var start = 0, images = 0
            for i in 0...list.count {
                let boundary = i == list.count || (i > 0 && list.image(at: i) != list.image(at: i - 1))
                guard boundary else { continue }
                images += 1
                if i == list.count || images == imagesPerBlock {
                    if i > start {
                        try body(PostingList(
                            bytes: UnsafeRawBufferPointer(rebasing: raw[(start * list.stride)..<(i * list.stride)]),
                            signatureWords: signatureWords))
                    }
                    start = i; images = 0
                }
            }
        }
    }
}

/// A query/database layer with k assignments per feature: `features[i]` = [(word, signature)] of length k.
func quantized(_ features: [[(UInt32, [UInt64])]], signatureWords: Int = 2) -> QuantizedLayer {
    let k = features.first?.count ?? 1
    var words: [UInt32] = [], sigs: [UInt64] = []
    for f in features {
        precondition(f.count == k)
        for (w, s) in f { words.append(w); sigs += s }
    }
    return QuantizedLayer(count: features.count, k: k, signatureWords: signatureWords, words: words,
                          distances: [Float](repeating: 0, count: words.count), signatures: sigs)
}

/// A 128-bit signature with the lowest `n` bits set.
func bits(_ n: Int) -> [UInt64] {
    func word(_ m: Int) -> UInt64 { m <= 0 ? 0 : (m >= 64 ? UInt64.max : (UInt64(1) << UInt64(m)) - 1) }
    return [word(n), word(n - 64)]
}
