@testable import Quantizer
import TesseraCore
import XCTest

final class VocabularyTests: XCTestCase {
    /// IDF on a 3-image toy set, by hand: word 0 in images {0,1,2}, word 1 in {0}, word 2 in {1} (twice),
    /// word 3 nowhere. N = 3 ⇒ idf = [log 1, log 3, log 3, log 3 (n_w clamped to 1)].
    func testIDFByHand() {
        let assignment: [UInt32] = [0, 1, 0, 2, 2, 0, QuantizedLayer.none]
        let image: [Int32] = [0, 0, 1, 1, 1, 2, 2]
        let idf = LayerVocabulary.inverseDocumentFrequency(assignment: assignment, imageOfRow: image, imageCount: 3,
                                                           words: 4)
        XCTAssertEqual(idf[0], 0, accuracy: 1e-6)
        XCTAssertEqual(idf[1], Float(log(3.0)), accuracy: 1e-6)
        XCTAssertEqual(idf[2], Float(log(3.0)), accuracy: 1e-6)
        XCTAssertEqual(idf[3], Float(log(3.0)), accuracy: 1e-6)
    }

    private func trainSmall(pcaDims: Int = 8, seed: UInt64 = 4, minPerWord: Int = 4) throws -> LayerVocabulary {
        let (x, _) = Synthetic.blobs(clusters: 20, perCluster: 30, d: 12, sigma: 0.5, seed: seed)
        var o = TrainOptions()
        o.words = 40; o.pcaDims = pcaDims; o.iterations = 4; o.heBits = 64; o.seed = seed
        o.minDescriptorsPerWord = minPerWord
        o.searcher = .kdForest(KDForestOptions(trees: 4, maxLeafChecks: 16))
        return try VocabularyTrainer.train(layer: LayerKey(layer: "head", pooling: .max), descriptors: x,
                                           imageOfRow: (0..<600).map { Int32($0 / 10) }, imageCount: 60, options: o)
    }

    func testWordsAreCappedByTrainingDescriptors() throws {
        // 600 descriptors at ≥ 32 per word leave room for 18 words, not the 40 asked for.
        XCTAssertEqual(try trainSmall(minPerWord: 32).words, 18)
    }

    func testTrainAndAssign() throws {
        let v = try trainSmall()
        XCTAssertEqual(v.words, 40)
        XCTAssertEqual(v.inputDim, 12)
        XCTAssertEqual(v.centroids.cols, 8)
        XCTAssertEqual(v.stats.clusterSizes.reduce(0, +), 600)
        let q = Synthetic.uniform(30, 12, seed: 9)
        let a = try v.assign(q, k: 3, exact: true)
        XCTAssertEqual(a.count, 30); XCTAssertEqual(a.k, 3); XCTAssertEqual(a.signatureWords, 1)
        XCTAssertThrowsError(try v.assign(Synthetic.uniform(2, 8, seed: 1), k: 1)) {
            XCTAssertEqual($0 as? AssignError, .dimensionMismatch(layer: v.key, got: 8, expected: 12))
        }
        // Forest assignment agrees with exact for most descriptors, and its words are real words.
        let f = try v.assign(q, k: 1)
        XCTAssertGreaterThanOrEqual(zip(f.words, a.truncated(to: 1).words).filter { $0 == $1 }.count, 27)
        let cut = try v.assign(q, k: 3, ratio: 1.0001, exact: true)
        for i in 0..<30 {
            XCTAssertEqual(cut.words[i * 3], a.words[i * 3])
            for j in 1..<3 {
                let dropped = cut.words[i * 3 + j] == QuantizedLayer.none
                XCTAssertEqual(dropped, a.distances[i * 3 + j] > 1.0001 * a.distances[i * 3])
                if dropped {
                    XCTAssertEqual(cut.signatures[i * 3 + j], 0)
                } else {
                    XCTAssertEqual(cut.signatures[i * 3 + j], a.signatures[i * 3 + j])
                }
            }
        }
    }

    private func vocabulary() throws -> Vocabulary {
        let l1 = try trainSmall(pcaDims: 8, seed: 4)
        var o = try trainSmall(pcaDims: 0, seed: 5)
        o = LayerVocabulary(key: LayerKey(layer: "block11.expand", pooling: .sum), pca: o.pca, centroids: o.centroids,
                            hamming: o.hamming, idf: o.idf, stats: o.stats, forestOptions: o.forestOptions)
        return Vocabulary(layers: [l1, o], modelSHA256: "abc123", patchSettings: "{\"stride\":32}",
                          trainingSet: TrainingSetInfo(folder: "/train", imageCount: 60, descriptorCount: 600),
                          created: Date(timeIntervalSince1970: 1_700_000_000.25))
    }

    private func tempURL() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("tessera-vocab-\(UUID().uuidString).bin")
    }

    /// Runs `body` with the test vocabulary, the temporary file it was written to and the
    /// file's bytes; the file is removed afterwards.
    private func withWrittenVocabulary(_ body: (Vocabulary, URL, Data) throws -> Void) throws {
        let v = try vocabulary()
        let url = tempURL()
        defer { try? FileManager.default.removeItem(at: url) }
        try v.write(to: url)
        try body(v, url, try Data(contentsOf: url))
    }

    func testFileRoundTripBitExact() throws {
        try withWrittenVocabulary { v, url, bytes in
            XCTAssertEqual(bytes.count % 64, 8)
            let w = try Vocabulary.load(from: url, expectedModelSHA256: "abc123", expectedLayers: v.layers.map(\.key))
            XCTAssertEqual(try w.serialized(), Array(bytes))
            XCTAssertEqual(w.modelSHA256, "abc123"); XCTAssertEqual(w.patchSettings, v.patchSettings)
            XCTAssertEqual(w.trainingSet, v.trainingSet); XCTAssertEqual(w.created, v.created)
            for (a, b) in zip(v.layers, w.layers) {
                XCTAssertEqual(a.key, b.key); XCTAssertEqual(a.pca, b.pca)
                XCTAssertEqual(a.centroids.data.map(\.bitPattern), b.centroids.data.map(\.bitPattern))
                XCTAssertEqual(a.hamming, b.hamming); XCTAssertEqual(a.idf, b.idf); XCTAssertEqual(a.stats, b.stats)
                XCTAssertEqual(a.forestOptions, b.forestOptions)
                // The rebuilt forest answers exactly as the original.
                let q = Synthetic.uniform(40, a.inputDim, seed: 3)
                XCTAssertEqual(try a.assign(q, k: 3), try b.assign(q, k: 3))
            }
            XCTAssertNil(w.layers[1].pca)
        }
    }

    /// `bytes` with its JSON header edited and the file made whole again around it (length
    /// fields, alignment, checksum), so only what the edit claims is wrong.
    private func withHeader(_ bytes: [UInt8], _ edit: (String) -> String) -> [UInt8] {
        func u64(_ o: Int) -> Int {
            bytes[o..<(o + 8)].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        }
        func le(_ v: Int) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        let h = u64(16), align = { (x: Int) in (x + 63) & ~63 }
        let json = Array(edit(String(decoding: bytes[32..<(32 + h)], as: UTF8.self)).utf8)
        var out = Array(bytes[0..<16]) + le(json.count) + le(0) + json
        out += [UInt8](repeating: 0, count: align(out.count) - out.count)
        out += bytes[align(32 + h)..<(bytes.count - 8)]
        out.replaceSubrange(24..<32, with: le(out.count + 8))
        return out + le(Int(bitPattern: UInt(out.withUnsafeBytes { Checksum.fnv1a64Words($0) })))
    }

    /// A header claiming 10^9 words, or 2^62 input dimensions, is refused by the section bounds
    /// before anything of that size is allocated (the claim is only read, never trusted).
    func testAbsurdClaimsAreRefusedBeforeAllocating() throws {
        let good = try vocabulary().serialized()
        XCTAssertNoThrow(try withHeader(good, { $0 }).withUnsafeBytes { try Vocabulary.decode($0) })
        let claims = [("10^9 words", "\"words\":40", "\"words\":1000000000"),
                      ("2^62 dimensions", "\"inputDim\":12", "\"inputDim\":4611686018427387904")]
        for (what, field, claim) in claims {
            let bad = withHeader(good) { $0.replacingOccurrences(of: field, with: claim) }
            XCTAssertNotEqual(bad, good, what)
            XCTAssertThrowsError(try bad.withUnsafeBytes { try Vocabulary.decode($0) }, what) {
                guard case .malformedHeader = $0 as? VocabularyFileError else { return XCTFail("\(what): \($0)") }
            }
        }
    }

    func testCorruptFilesRejected() throws {
        let good = try vocabulary().serialized()
        func decode(_ b: [UInt8], model: String? = nil, layers: [LayerKey]? = nil) throws {
            _ = try b.withUnsafeBytes { try Vocabulary.decode($0, expectedModelSHA256: model, expectedLayers: layers) }
        }
        func expect(_ e: VocabularyFileError, _ body: () throws -> Void, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { XCTAssertEqual($0 as? VocabularyFileError, e, line: line) }
        }
        XCTAssertNoThrow(try decode(good))
        expect(.truncated(expectedBytes: good.count, actualBytes: good.count - 100)) {
            try decode(Array(good.dropLast(100)))
        }
        expect(.truncated(expectedBytes: 32, actualBytes: 10)) { try decode(Array(good.prefix(10))) }
        var magic = good; magic[0] = UInt8(ascii: "X")
        expect(.badMagic) { try decode(magic) }
        var version = good; version[8] = 2
        expect(.unsupportedVersion(found: 2, supported: 1)) { try decode(version) }
        for offset in [40, good.count / 2, good.count - 20] {
            var flipped = good; flipped[offset] ^= 0x10
            XCTAssertThrowsError(try decode(flipped)) { e in
                guard case .checksumMismatch = e as? VocabularyFileError else {
                    return XCTFail("offset \(offset): \(e)")
                }
            }
        }
        expect(.modelMismatch(expected: "def456", found: "abc123")) { try decode(good, model: "def456") }
        let only = [LayerKey(layer: "head", pooling: .max)]
        expect(.layerMismatch(expected: only, found: [LayerKey(layer: "head", pooling: .max),
                                                      LayerKey(layer: "block11.expand", pooling: .sum)])) {
            try decode(good, layers: only)
        }
        XCTAssertNoThrow(try decode(good, model: "ABC123",
                                    layers: [LayerKey(layer: "block11.expand", pooling: .sum),
                                             LayerKey(layer: "head", pooling: .max)]))
        // Missing file: typed I/O error, no crash.
        XCTAssertThrowsError(try Vocabulary.load(from: URL(fileURLWithPath: "/nonexistent/v.bin"))) {
            guard case .io = $0 as? VocabularyFileError else { return XCTFail("\($0)") }
        }
    }

    // MARK: Memory-mapped loading

    /// `load` maps the file: every matrix section is a view inside the mapping (no copy), and
    /// assignment answers bit for bit as the same vocabulary decoded with copies.
    func testLoadUsesMatricesInPlace() throws {
        try withWrittenVocabulary { _, url, bytes in
            let mapped = try Vocabulary.load(from: url)
            let copied = try bytes.withUnsafeBytes { try Vocabulary.decode($0) }
            for (m, c) in zip(mapped.layers, copied.layers) {
                let file = try XCTUnwrap(m.centroids.mappedFile)
                XCTAssertEqual(file.bytes.count, bytes.count)
                XCTAssertTrue(file.bytes.elementsEqual(bytes))
                let matrices = [m.centroids, m.hamming.thresholds, m.hamming.projection]
                    + (m.pca.map { [$0.components] } ?? [])
                for x in matrices {
                    XCTAssertTrue(x.isMapped)
                    XCTAssertTrue(x.mappedFile === file)
                    x.withUnsafeBufferPointer { p in
                        XCTAssertTrue(file.contains(p.baseAddress!))
                        XCTAssertTrue(file.contains(p.baseAddress! + (p.count - 1)))
                    }
                }
                XCTAssertFalse(c.centroids.isMapped)
                XCTAssertNil(c.centroids.mappedFile)
                XCTAssertEqual(m.centroids.data.map(\.bitPattern), c.centroids.data.map(\.bitPattern))
                XCTAssertEqual(m.centroids, c.centroids)
                XCTAssertEqual(m.hamming, c.hamming)
                XCTAssertEqual(m.pca, c.pca)
                let q = Synthetic.uniform(50, m.inputDim, seed: 11)
                for exact in [false, true] {
                    let a = try m.assign(q, k: 3, exact: exact), b = try c.assign(q, k: 3, exact: exact)
                    XCTAssertEqual(a.words, b.words)
                    XCTAssertEqual(a.distances.map(\.bitPattern), b.distances.map(\.bitPattern))
                    XCTAssertEqual(a.signatures, b.signatures)
                }
            }
            XCTAssertEqual(try mapped.serialized(), Array(bytes))
        }
    }

    /// The mapping lives exactly as long as a matrix of the vocabulary: it outlives the file's
    /// name, and is released with the last matrix.
    func testMappingLivesAsLongAsTheVocabulary() throws {
        let url = tempURL()
        try vocabulary().write(to: url)
        weak var file: MappedFile?
        var centroids: Matrix? = nil
        do {
            let v = try Vocabulary.load(from: url)
            file = v.layers[0].centroids.mappedFile
            centroids = v.layers[0].centroids
        }
        try FileManager.default.removeItem(at: url)
        XCTAssertNotNil(file)
        XCTAssertEqual(centroids?.isMapped, true)
        XCTAssertEqual(centroids?.data.count, 40 * 8)
        centroids = nil
        XCTAssertNil(file)
    }

    /// Mutating a copy of a mapped matrix copies it first: the original and the file stay as they were.
    func testMutatingMappedMatrixCopiesFirst() throws {
        let url = tempURL()
        defer { try? FileManager.default.removeItem(at: url) }
        try vocabulary().write(to: url)
        let onDisk = try Data(contentsOf: url)
        let original = try Vocabulary.load(from: url).layers[0].centroids
        let values = original.data
        XCTAssertTrue(original.isMapped)

        var a = original
        a[0, 0] = 42
        XCTAssertFalse(a.isMapped)
        XCTAssertEqual(a[0, 0], 42)
        XCTAssertEqual(a.data.dropFirst(), values.dropFirst())
        XCTAssertNotEqual(a, original)

        var b = original
        b.withUnsafeMutableBufferPointer { $0[1] = -7 }
        var c = original
        c.data[2] = 9
        var d = original
        d.append(rowsOf: original)
        XCTAssertEqual(d.rows, 2 * original.rows)
        XCTAssertEqual(d.data, values + values)
        for m in [b, c, d] { XCTAssertFalse(m.isMapped) }

        XCTAssertTrue(original.isMapped)
        XCTAssertEqual(original.data, values)
        XCTAssertEqual(original[0, 0], values[0])
        XCTAssertEqual(original.row(1), Array(values[8..<16]))
        XCTAssertEqual(original, Matrix(rows: original.rows, cols: original.cols, data: values))
        XCTAssertEqual(try Data(contentsOf: url), onDisk)
    }

    func testMappedFileErrors() throws {
        XCTAssertThrowsError(try MappedFile(path: "/nonexistent/v.bin")) {
            XCTAssertEqual($0 as? MappedFileError, .open(path: "/nonexistent/v.bin", errno: ENOENT))
            XCTAssertEqual("\($0)", "cannot open /nonexistent/v.bin: No such file or directory")
        }
        XCTAssertThrowsError(try MappedFile(path: FileManager.default.temporaryDirectory.path)) {
            XCTAssertEqual($0 as? MappedFileError, .notRegularFile(path: FileManager.default.temporaryDirectory.path))
        }
        XCTAssertThrowsError(try Vocabulary.load(from: URL(fileURLWithPath: "/nonexistent/v.bin"))) {
            XCTAssertEqual($0 as? VocabularyFileError,
                           .io(path: "/nonexistent/v.bin",
                               message: "cannot open /nonexistent/v.bin: No such file or directory"))
        }
        // An empty file maps to no bytes; as a vocabulary it is truncated.
        let url = tempURL()
        defer { try? FileManager.default.removeItem(at: url) }
        try Data().write(to: url)
        let empty = try MappedFile(path: url.path)
        XCTAssertEqual(empty.bytes.count, 0)
        XCTAssertNil(empty.bytes.baseAddress)
        XCTAssertThrowsError(try Vocabulary.load(from: url)) {
            XCTAssertEqual($0 as? VocabularyFileError, .truncated(expectedBytes: 32, actualBytes: 0))
        }
    }

    func testEmptyKMeansInputDoesNotCrash() {
        let r = kMeans(data: Matrix(rows: 0, cols: 4), options: KMeansOptions(k: 3))
        XCTAssertEqual(r.centroids.rows, 0)
        XCTAssertTrue(r.assignment.isEmpty)
    }

    func testTrainerRejectsBadInput() {
        let x = Synthetic.uniform(10, 4, seed: 1)
        XCTAssertThrowsError(try VocabularyTrainer.train(layer: LayerKey(layer: "a", pooling: .sum), descriptors: x,
                                                         imageOfRow: [0], imageCount: 1, options: TrainOptions()))
        XCTAssertThrowsError(try VocabularyTrainer.train(layer: LayerKey(layer: "a", pooling: .sum), descriptors: x,
                                                         imageOfRow: [Int32](repeating: 3, count: 10), imageCount: 2,
                                                         options: TrainOptions()))
    }
}
