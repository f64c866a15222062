import Foundation
import XCTest
import TesseraCore
@testable import Index

/// Synthetic quantised images for the index tests (no CNN, no data files).
enum Synthetic {
    static let layers = [LayerKey(layer: "a", pooling: .max), LayerKey(layer: "b", pooling: .sum),
                         LayerKey(layer: "c", pooling: .fc)]
    static let identity = IndexIdentity(vocabularyID: "vocab-1", modelSHA256: String(repeating: "ab", count: 32))
    /// Small blocks by default (sealed at 10 postings of 20 bytes, merged up to 40), so the
    /// tests' short lists hold merged blocks, unmerged blocks and tails.
    static let smallBlockBytes = 200
    static func meta(signatureWords: Int = 2, postingBlockBytes: Int = smallBlockBytes) -> IndexMeta {
        IndexMeta(identity: identity, patchSettings: "{\"stride\":32}", layerKeys: layers,
                  signatureWords: signatureWords,
                  postingBlockBytes: postingBlockBytes,
                  maxPostingBlockBytes: max(postingBlockBytes, 4 * smallBlockBytes))
    }

    /// One quantised layer: `count` descriptors, k words each from `vocabulary`,
    /// some assignments cut (`none`) and some exact repeats (same word and signature).
    static func layer(_ rng: inout SeededGenerator, count: Int, k: Int = 1, vocabulary: UInt32 = 40,
                      signatureWords: Int = 2) -> QuantizedLayer {
        var words = [UInt32](), sigs = [UInt64]()
        for i in 0..<(count * k) {
            if i > 0 && i % 7 == 0 {  // exact repeat of the previous assignment
                words.append(words[i - 1])
                sigs.append(contentsOf: sigs[((i - 1) * signatureWords)..<(i * signatureWords)])
                continue
            }
            words.append(i % 11 == 5 ? QuantizedLayer.none : UInt32.random(in: 0..<vocabulary, using: &rng))
            for _ in 0..<signatureWords { sigs.append(rng.next() & (i % 3 == 0 ? 0xFF : ~0)) }
        }
        return QuantizedLayer(count: count, k: k, signatureWords: signatureWords, words: words,
                              distances: [Float](repeating: 0, count: count * k), signatures: sigs)
    }

    static func image(_ n: Int, seed: UInt64 = 1, signatureWords: Int = 2) -> NewImage {
        var rng = SeededGenerator(seed: seed &* 1000 &+ UInt64(n))
        let layers = (0..<3).map { _ in
            layer(&rng, count: Int.random(in: 5...30, using: &rng), signatureWords: signatureWords)
        }
        return NewImage(path: "/img/\(seed)/\(n).jpg", contentHash: SHA256.hex(Array("\(seed)-\(n)".utf8)),
                        width: 100 + n, height: 50 + n, norms: [1, 2, Float(n)],
                        globalDescriptor: (0..<(n % 4)).map { Float($0) + 0.5 }, layers: layers)
    }

    static func tempDirectory(_ name: String = #function) -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("tessera-index-tests-\(getpid())-\(UUID().uuidString)")
        return url
    }

    /// Every (layer, word) → postings bytes of a reader, over words `0..<vocabulary`.
    static func dump(_ reader: some InvertedListsReader, layers: Int = 3,
                     vocabulary: UInt32 = 40) throws -> [[UInt32: [UInt8]]] {
        try (0..<layers).map { l in
            var out = [UInt32: [UInt8]]()
            for w in 0..<vocabulary {
                let bytes = try reader.postingBytes(layer: l, word: w)
                if !bytes.isEmpty { out[w] = bytes }
            }
            return out
        }
    }
}

/// A test case that removes, after each test, the temporary directories it asked for.
class TemporaryDirectoryTestCase: XCTestCase {
    var dirs: [URL] = []
    override func tearDown() {
        for d in dirs { try? FileManager.default.removeItem(at: d) }
        dirs = []
        super.tearDown()
    }
    func tempDir() -> URL { let d = Synthetic.tempDirectory(); dirs.append(d); return d }
}
