import Foundation
import TesseraCore

/// The named databases of one index environment (see LAYOUT.md).
struct IndexDatabases {
    /// `"meta"` → JSON `IndexMeta`; `"nextImageID"` → `u32` little-endian.
    let meta: LMDBDatabase
    /// Big-endian `ImageID` → `ImageRecord` binary record.
    let images: LMDBDatabase
    /// Path key (`IndexDatabases.pathKey`) → big-endian `ImageID`.
    let paths: LMDBDatabase
    /// Content hash (UTF-8) → big-endian `ImageID`.
    let hashes: LMDBDatabase
    /// Big-endian `ImageID` → per layer: varint count + the distinct words ascending, as varint
    /// deltas (first word, then differences): 1–2 bytes per word instead of 4.
    let imageWords: LMDBDatabase
    /// `inv.<layer>`: big-endian word → its tail, the newest sorted fixed-size postings
    /// (`MDB_DUPSORT | MDB_DUPFIXED`), fewer than `IndexMeta.postingBlockBytes` bytes.
    let inverted: [LMDBDatabase]
    /// Big-endian `ImageID` → the image's patch frames and per-layer words and signatures
    /// (`GeometryCoding`), for spatial verification.
    let geometry: LMDBDatabase
    /// `blk.<layer>`: big-endian word + big-endian first image id → one sealed block of sorted
    /// postings, concatenated (a contiguous value; LMDB overflow pages when over ~2 KiB).
    let blocks: [LMDBDatabase]

    /// Databases other than the per-layer ones.
    static let fixedCount = 6
    /// Databases per layer (`inv`, `blk`).
    static let perLayerCount = 2

    init(_ txn: LMDBTransaction, layers: Int, create: Bool) throws {
        meta = try txn.openDatabase("meta", create: create)
        images = try txn.openDatabase("images", create: create)
        paths = try txn.openDatabase("paths", create: create)
        hashes = try txn.openDatabase("hashes", create: create)
        imageWords = try txn.openDatabase("imagewords", create: create)
        geometry = try txn.openDatabase("geometry", create: create)
        inverted = try (0..<layers).map { try txn.openDatabase("inv.\($0)", dupFixed: true, create: create) }
        blocks = try (0..<layers).map { try txn.openDatabase("blk.\($0)", create: create) }
    }

    static func metaOnly(_ txn: LMDBTransaction) throws -> LMDBDatabase {
        try txn.openDatabase("meta", create: false)
    }

    /// Key of `path` in `paths`: its UTF-8 bytes, or `"#sha256:" + hex` when longer than LMDB's key limit.
    static func pathKey(_ path: String, maxKeySize: Int) -> [UInt8] {
        let utf8 = Array(path.utf8)
        if utf8.count <= maxKeySize && utf8.first != UInt8(ascii: "#") { return utf8 }
        return Array(("#sha256:" + SHA256.hex(utf8)).utf8)
    }

    /// Lends the key of a sealed block in `blk.<layer>`: 8 bytes, the word, then the block's first
    /// image id (both big-endian), so a word's blocks are adjacent and ordered by image id.
    static func withBlockKey<R>(word: UInt32, firstImage: ImageID,
                                _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: (UInt64(word) << 32 | UInt64(firstImage)).bigEndian, body)
    }

    static func hashKey(_ hash: String, maxKeySize: Int) -> [UInt8] { pathKey(hash, maxKeySize: maxKeySize) }

    /// Encodes each layer's distinct ascending words as a varint count + varint deltas.
    static func encodeWords(_ perLayer: [[UInt32]]) -> [UInt8] {
        var w = ByteWriter()
        for words in perLayer {
            w.varint(UInt32(words.count))
            var previous: UInt32 = 0
            for x in words { w.varint(x &- previous); previous = x }
        }
        return w.bytes
    }

    static func decodeWords(_ bytes: UnsafeRawBufferPointer, layers: Int, id: ImageID) throws -> [[UInt32]] {
        var r = ByteReader(bytes, what: "word list of image \(id)")
        return try (0..<layers).map { _ in
            let n = Int(try r.varint())
            guard n <= bytes.count else { throw IndexError.corrupt("word list of image \(id): \(n) words") }
            var out = [UInt32](), previous: UInt32 = 0
            out.reserveCapacity(n)
            for _ in 0..<n { previous &+= try r.varint(); out.append(previous) }
            return out
        }
    }
}
