/// The fixed-size posting record shared by every inverted-list backend.
///
/// Byte layout of one posting (`stride = 4 + 8 * signatureWords` bytes, no padding):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | image id, **big-endian** `UInt32` (so byte order = numeric order) |
/// | 4 | 8·w | Hamming signature: `w` little-endian `UInt64` words; its bit `b` is bit `b % 64` of word `b / 64` |
///
/// Because the image id is big-endian, LMDB's memcmp sort of duplicates sorts postings by image.
///
/// Postings of one word are sorted by image id; an image with several features on
/// one word has several consecutive postings (its term frequency is the run length).
public enum PostingLayout {
    public static func stride(signatureWords: Int) -> Int { 4 + 8 * signatureWords }

    /// Writes one posting at `p`.
    @inline(__always)
    public static func write(image: ImageID, signature: UnsafeBufferPointer<UInt64>, to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: image.bigEndian, as: UInt32.self)
        for (j, w) in signature.enumerated() {
            p.storeBytes(of: w.littleEndian, toByteOffset: 4 + 8 * j, as: UInt64.self)
        }
    }

    /// Encodes a sequence of postings into bytes.
    public static func encode(images: [ImageID], signatures: [UInt64], signatureWords: Int) -> [UInt8] {
        let s = stride(signatureWords: signatureWords)
        var out = [UInt8](repeating: 0, count: images.count * s)
        out.withUnsafeMutableBytes { raw in
            signatures.withUnsafeBufferPointer { sig in
                for i in images.indices {
                    let part = UnsafeBufferPointer(rebasing: sig[(i * signatureWords)..<((i + 1) * signatureWords)])
                    write(image: images[i], signature: part, to: raw.baseAddress! + i * s)
                }
            }
        }
        return out
    }
}

/// A read-only view of one word's postings, valid only inside the closure that lends it.
public struct PostingList {
    public let bytes: UnsafeRawBufferPointer
    public let signatureWords: Int
    public let stride: Int
    public var count: Int { bytes.count / stride }

    public init(bytes: UnsafeRawBufferPointer, signatureWords: Int) {
        self.bytes = bytes
        self.signatureWords = signatureWords
        self.stride = PostingLayout.stride(signatureWords: signatureWords)
    }

    @inline(__always) public func image(at i: Int) -> ImageID {
        UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: i * stride, as: UInt32.self))
    }

    @inline(__always) public func signatureWord(at i: Int, _ j: Int) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i * stride + 4 + 8 * j, as: UInt64.self))
    }
}

/// Per-layer inverted files as scoring sees them: word → postings, plus the counts
/// that scoring needs. Implemented in memory and on LMDB (module `Index`); scoring
/// code (module `Fusion`) cannot tell them apart.
public protocol InvertedListsReader {
    /// Number of 64-bit words in a posting's signature.
    var signatureWords: Int { get }
    /// Lends the postings of `word` in `layer` in order, as one or more non-empty blocks (none
    /// when the word has no postings). All postings of one image lie in one block, so an
    /// image's run (its term frequency) is never split.
    func forEachPostingBlock(layer: Int, word: UInt32, _ body: (PostingList) throws -> Void) throws
    /// Lends the postings of every word of `words` in turn, in the order given, block by block
    /// as `forEachPostingBlock(layer:word:_:)` does for one word: `body(k, block, next)` for
    /// each block of `words[k]`. `next` is the start of the block that will be lent after this
    /// one, when the reader has found it already (nil otherwise, and after the last): a scan
    /// may ask the cache for its first lines while it still reads this block.
    func forEachPostingBlock(layer: Int, words: [UInt32],
                             _ body: (Int, PostingList, UnsafeRawPointer?) throws -> Void) throws
}

extension InvertedListsReader {
    /// One word at a time, `next` always nil: for readers that cannot look ahead.
    public func forEachPostingBlock(layer: Int, words: [UInt32],
                                    _ body: (Int, PostingList, UnsafeRawPointer?) throws -> Void) throws {
        for (k, word) in words.enumerated() {
            try forEachPostingBlock(layer: layer, word: word) { try body(k, $0, nil) }
        }
    }

    /// A copy of the postings of `word` in `layer`, its blocks concatenated.
    public func postingBytes(layer: Int, word: UInt32) throws -> [UInt8] {
        var out = [UInt8]()
        try forEachPostingBlock(layer: layer, word: word) { out.append(contentsOf: $0.bytes) }
        return out
    }
}
