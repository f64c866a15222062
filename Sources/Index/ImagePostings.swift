import TesseraCore

/// One image's postings for one layer, in canonical order: sorted by word, then
/// by the signature's bytes as stored (the order LMDB's `memcmp` gives sorted
/// duplicates), with exact repeats removed.
///
/// **Repeats collapse.** Two descriptors of one image that fall on the same word
/// with the *same* signature would make byte-identical postings, which an LMDB
/// `MDB_DUPSORT` list stores once. Rather than let the two backends differ, both
/// collapse them: the term frequency of (image, word) is the number of
/// *distinct* signatures of that image on that word. The collapsed postings
/// carry no information that the kept one lacks (same image, word and
/// signature, hence the same match score against any query feature), and
/// dropping repeats is itself a burstiness correction (MOF eq. 8 divides by
/// sqrt(tf) for the same reason).
struct ImagePostings {
    /// Posting words, sorted, one per kept entry (repeated when an image has several signatures on a word).
    var words: [UInt32] = []
    /// `signatureWords` words per entry, aligned with `words`.
    var signatures: [UInt64] = []

    var count: Int { words.count }

    init() {}

    /// Canonical postings of `layer`; every assignment other than `QuantizedLayer.none` counts.
    init(_ layer: QuantizedLayer) {
        let sw = layer.signatureWords
        var order = [Int]()
        order.reserveCapacity(layer.words.count)
        for i in layer.words.indices where layer.words[i] != QuantizedLayer.none { order.append(i) }
        let w = layer.words, s = layer.signatures
        order.sort { a, b in
            if w[a] != w[b] { return w[a] < w[b] }
            for j in 0..<sw where s[a * sw + j] != s[b * sw + j] {
                // memcmp order of little-endian bytes = numeric order of the byte-swapped word.
                return s[a * sw + j].byteSwapped < s[b * sw + j].byteSwapped
            }
            return false
        }
        words.reserveCapacity(order.count)
        signatures.reserveCapacity(order.count * sw)
        var last = -1
        for i in order {
            if last >= 0 && w[i] == w[last] && s[(i * sw)..<(i * sw + sw)] == s[(last * sw)..<(last * sw + sw)] {
                continue
            }
            words.append(w[i])
            signatures.append(contentsOf: s[(i * sw)..<(i * sw + sw)])
            last = i
        }
    }

    /// The distinct words, ascending.
    var distinctWords: [UInt32] {
        var out = [UInt32]()
        for w in words where out.last != w { out.append(w) }
        return out
    }
}

/// Postings of several images for one layer, grouped by word: `records` holds
/// the posting bytes (`PostingLayout`) of `runs[i].word` at
/// `runs[i].start ..< runs[i].start + runs[i].count` records.
struct PostingRuns {
    struct Run { var word: UInt32; var start: Int; var count: Int }
    var runs: [Run] = []
    var records: [UInt8] = []
    let stride: Int

    /// Groups `images` (in increasing image-id order) by word; within a word,
    /// postings stay in image order, then canonical signature order, which is
    /// exactly the sorted-duplicate order of LMDB.
    init(_ images: [(id: ImageID, postings: ImagePostings)], signatureWords: Int) {
        stride = PostingLayout.stride(signatureWords: signatureWords)
        var keys = [UInt64]()
        var source = [(image: Int, entry: Int)]()
        let total = images.reduce(0) { $0 + $1.postings.count }
        keys.reserveCapacity(total); source.reserveCapacity(total)
        for (n, img) in images.enumerated() {
            for (e, w) in img.postings.words.enumerated() {
                keys.append(UInt64(w) << 32 | UInt64(source.count))
                source.append((n, e))
            }
        }
        keys.sort()
        records = [UInt8](repeating: 0, count: total * stride)
        records.withUnsafeMutableBytes { out in
            for (r, key) in keys.enumerated() {
                let word = UInt32(key >> 32)
                let (n, e) = source[Int(key & 0xFFFF_FFFF)]
                images[n].postings.signatures.withUnsafeBufferPointer { sig in
                    let part = UnsafeBufferPointer(rebasing: sig[(e * signatureWords)..<((e + 1) * signatureWords)])
                    PostingLayout.write(image: images[n].id, signature: part, to: out.baseAddress! + r * stride)
                }
                if let last = runs.last, last.word == word {
                    runs[runs.count - 1].count += 1
                } else {
                    runs.append(Run(word: word, start: r, count: 1))
                }
            }
        }
    }
}
