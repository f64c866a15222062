import TesseraCore

/// A tiny in-memory `InvertedListsReader` for tests: (layer, word) → encoded postings.
struct MemoryLists: InvertedListsReader {
    let signatureWords: Int
    var lists: [Int: [UInt32: [UInt8]]] = [:]

    init(signatureWords: Int) { self.signatureWords = signatureWords }

    /// Adds the postings of `images` (id, [(word, signature)]) to `layer`; ids must be added in ascending order.
    mutating func add(layer: Int, image: ImageID, features: [(UInt32, [UInt64])]) {
        for (w, sig) in features {
            precondition(sig.count == signatureWords)
            lists[layer, default: [:]][w, default: []] +=
                PostingLayout.encode(images: [image], signatures: sig, signatureWords: signatureWords)
        }
    }

    func withPostings<R>(layer: Int, word: UInt32, _ body: (PostingList) throws -> R) throws -> R {
        let bytes = lists[layer]?[word] ?? []
        return try bytes.withUnsafeBytes { try body(PostingList(bytes: $0, signatureWords: signatureWords)) }
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
