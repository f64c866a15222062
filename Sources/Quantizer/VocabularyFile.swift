import Foundation
import TesseraCore

/// The vocabulary file (all integers and floats little-endian):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic `"TSRVOCAB"` |
/// | 8 | 4 | format version, `UInt32` (= ``Vocabulary/formatVersion``) |
/// | 12 | 4 | reserved, 0 |
/// | 16 | 8 | header length H in bytes, `UInt64` |
/// | 24 | 8 | total file length L in bytes (checksum included), `UInt64` |
/// | 32 | H | header: UTF-8 JSON (sorted keys): metadata, per-layer shapes, forest options, stats, section table |
/// | D = align64(32 + H) | … | binary sections, each starting at D + a multiple of 64, zero-padded to 64 bytes |
/// | L − 8 | 8 | checksum: FNV-1a-64 over the L − 8 preceding bytes read as `UInt64` words (see `Checksum`) |
///
/// Section table entries give `name`, `offset` (relative to D), `count` and `type` (`f32` or
/// `u32`). Per layer, in order: `pcaMean` (d), `pcaComponents` (d'×d), `pcaEigenvalues` (d')
/// — only with PCA —, `centroids` (words×d'), `heProjection` (bits×d'), `heThresholds`
/// (words×bits), `idf` (words), `clusterSizes` (words, u32). Matrices are row-major.
///
/// ``load(from:expectedModelSHA256:expectedLayers:)`` memory-maps the file (``MappedFile``),
/// verifies length, magic, version and checksum (one read of every page), and then uses the
/// matrix sections IN PLACE: `centroids`, `heThresholds`, `heProjection` and `pcaComponents`
/// become mapped ``Matrix`` views that keep the mapping alive as long as the vocabulary (no
/// second copy in memory; for a 20k-word, 128-d, 128-bit layer that saves ~20 MB: centroids
/// and HE thresholds, 10 MB each). The small vectors (`pcaMean`, `pcaEigenvalues`, `idf`,
/// `clusterSizes`) are copied. On a big-endian host every section is copied (byte-swapped).
/// ``decode(_:expectedModelSHA256:expectedLayers:)`` reads from bytes the caller owns and so
/// copies every section. The k-d forest is not stored: it is rebuilt on load from the
/// centroids with the stored forest options and seed (deterministic, so every load gets the
/// same forest; its cost is in Bench/RESULTS.md, Quantizer).
extension Vocabulary {
    /// The format version written by this build.
    public static let formatVersion: UInt32 = 1
    static let magic: [UInt8] = Array("TSRVOCAB".utf8)

    /// Serialises the vocabulary into the file format described above.
    public func serialized() throws -> [UInt8] {
        var body = [UInt8]()
        var layerHeaders: [LayerHeader] = []
        func add(_ name: String, _ v: some Collection<Float>, to s: inout [SectionEntry]) {
            s.append(SectionEntry(name: name, offset: body.count, count: v.count, type: "f32"))
            for f in v { appendLE(f.bitPattern, &body) }
            pad64(&body)
        }
        func add(_ name: String, _ m: Matrix, to s: inout [SectionEntry]) {
            m.withUnsafeBufferPointer { add(name, $0, to: &s) }
        }
        func addU32(_ name: String, _ v: [UInt32], to s: inout [SectionEntry]) {
            s.append(SectionEntry(name: name, offset: body.count, count: v.count, type: "u32"))
            for x in v { appendLE(x, &body) }
            pad64(&body)
        }
        for l in layers {
            var s: [SectionEntry] = []
            if let p = l.pca {
                add("pcaMean", p.mean, to: &s)
                add("pcaComponents", p.components, to: &s)
                add("pcaEigenvalues", p.eigenvalues, to: &s)
            }
            add("centroids", l.centroids, to: &s)
            add("heProjection", l.hamming.projection, to: &s)
            add("heThresholds", l.hamming.thresholds, to: &s)
            add("idf", l.idf, to: &s)
            addU32("clusterSizes", l.stats.clusterSizes, to: &s)
            layerHeaders.append(LayerHeader(
                key: l.key.description, inputDim: l.inputDim, dim: l.centroids.cols, words: l.words,
                heBits: l.hamming.bits, hasPCA: l.pca != nil, forest: l.forestOptions,
                descriptorCount: l.stats.descriptorCount, imageCount: l.stats.imageCount,
                meanQuantizationErrorBits: l.stats.meanQuantizationError.bitPattern, sections: s))
        }
        let header = FileHeader(modelSHA256: modelSHA256, patchSettings: patchSettings, trainingSet: trainingSet,
                                createdUnixSeconds: created.timeIntervalSince1970, layers: layerHeaders,
                                whitening: whiteningChecksum)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let json: [UInt8]
        do { json = Array(try enc.encode(header)) } catch {
            throw VocabularyFileError.malformedHeader("cannot encode header: \(error)")
        }
        var out = Vocabulary.magic
        appendLE(Vocabulary.formatVersion, &out)
        appendLE(UInt32(0), &out)
        appendLE(UInt64(json.count), &out)
        let dataStart = align64(32 + json.count)
        appendLE(UInt64(dataStart + body.count + 8), &out)
        out += json
        pad64(&out)
        out += body
        let sum = out.withUnsafeBytes { Checksum.fnv1a64Words($0) }
        appendLE(sum, &out)
        return out
    }

    /// Writes the vocabulary file atomically.
    public func write(to url: URL) throws {
        let bytes = try serialized()
        do { try Data(bytes).write(to: url, options: .atomic) } catch {
            throw VocabularyFileError.io(path: url.path, message: "\(error)")
        }
    }

    /// Loads a vocabulary file and checks it against the model and layers in use. The file is
    /// memory-mapped and its matrices (centroids, HE thresholds and projection, PCA
    /// components) are used in place, without a copy: the mapping lives as long as any of them.
    public static func load(from url: URL, expectedModelSHA256: String? = nil,
                            expectedLayers: [LayerKey]? = nil) throws -> Vocabulary {
        let file: MappedFile
        do { file = try MappedFile(path: url.path) } catch {
            throw VocabularyFileError.io(path: url.path, message: "\(error)")
        }
        return try decode(file.bytes, mappedFrom: file, expectedModelSHA256: expectedModelSHA256,
                          expectedLayers: expectedLayers)
    }

    /// Decodes the file format from bytes (see the type's documentation for the checks). Every
    /// section is copied, so `raw` need not outlive the call.
    public static func decode(_ raw: UnsafeRawBufferPointer, expectedModelSHA256: String? = nil,
                              expectedLayers: [LayerKey]? = nil) throws -> Vocabulary {
        try decode(raw, mappedFrom: nil, expectedModelSHA256: expectedModelSHA256, expectedLayers: expectedLayers)
    }

    /// Decodes `raw`; when `file` is given, `raw` is `file.bytes` and matrix sections become
    /// views into it (on a little-endian host) instead of copies.
    private static func decode(_ raw: UnsafeRawBufferPointer, mappedFrom file: MappedFile?,
                               expectedModelSHA256: String?, expectedLayers: [LayerKey]?) throws -> Vocabulary {
        guard raw.count >= 32 else { throw VocabularyFileError.truncated(expectedBytes: 32, actualBytes: raw.count) }
        guard Array(raw[0..<8]) == magic else { throw VocabularyFileError.badMagic }
        let version = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        guard version == formatVersion else {
            throw VocabularyFileError.unsupportedVersion(found: version, supported: formatVersion)
        }
        let headerLength = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        let total = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        guard total <= UInt64(Int.max), headerLength < total else {
            throw VocabularyFileError.malformedHeader("header length \(headerLength), total length \(total)")
        }
        guard raw.count >= Int(total) else {
            throw VocabularyFileError.truncated(expectedBytes: Int(total), actualBytes: raw.count)
        }
        guard raw.count == Int(total), total % 8 == 0, total >= 40 else {
            throw VocabularyFileError.malformedHeader("file is \(raw.count) bytes, header declares \(total)")
        }
        let end = Int(total) - 8
        let stored = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: end, as: UInt64.self))
        let computed = Checksum.fnv1a64Words(UnsafeRawBufferPointer(rebasing: raw[0..<end]))
        guard stored == computed else { throw VocabularyFileError.checksumMismatch(stored: stored, computed: computed) }
        let h = Int(headerLength)
        guard 32 + h <= end else { throw VocabularyFileError.malformedHeader("header runs past the data") }
        let header: FileHeader
        do { header = try JSONDecoder().decode(FileHeader.self, from: Data(raw[32..<(32 + h)])) } catch {
            throw VocabularyFileError.malformedHeader("\(error)")
        }
        let dataStart = align64(32 + h)
        let keys = try header.layers.map { lh -> LayerKey in
            guard let k = LayerKey(lh.key) else {
                throw VocabularyFileError.malformedHeader("bad layer key \"\(lh.key)\"")
            }
            return k
        }
        if let e = expectedModelSHA256, e.lowercased() != header.modelSHA256.lowercased() {
            throw VocabularyFileError.modelMismatch(expected: e, found: header.modelSHA256)
        }
        if let e = expectedLayers, Set(e) != Set(keys) || e.count != keys.count {
            throw VocabularyFileError.layerMismatch(expected: e, found: keys)
        }
        var layers: [LayerVocabulary] = []
        for (lh, key) in zip(header.layers, keys) {
            func section(_ name: String, _ count: Int, _ type: String = "f32") throws -> UnsafeRawBufferPointer {
                guard let s = lh.sections.first(where: { $0.name == name }) else {
                    throw VocabularyFileError.malformedHeader("layer \(key): section \(name) missing")
                }
                // Counts and offsets come from the file: bounds are compared by division, so a
                // header claiming 10^9 words is refused before anything is read or allocated.
                guard count >= 0, s.count == count, s.type == type, s.offset >= 0, s.offset % 64 == 0,
                      s.offset <= end - dataStart, count <= (end - dataStart - s.offset) / 4 else {
                    throw VocabularyFileError.malformedHeader(
                        "layer \(key): section \(name) has \(s.count) \(s.type) at \(s.offset), "
                            + "expected \(count) \(type) in bounds")
                }
                return UnsafeRawBufferPointer(
                    rebasing: raw[(dataStart + s.offset)..<(dataStart + s.offset + 4 * count)])
            }
            func floats(_ name: String, _ count: Int) throws -> [Float] { readFloats(try section(name, count)) }
            /// A rows×cols section: in place from the mapping when there is one (sections are
            /// 64-byte aligned in a page-aligned mapping) and the host is little-endian, else copied.
            func matrix(_ name: String, _ rows: Int, _ cols: Int) throws -> Matrix {
                let (n, overflow) = rows.multipliedReportingOverflow(by: cols)
                guard !overflow, rows >= 0, cols >= 0 else {
                    throw VocabularyFileError.malformedHeader("layer \(key): section \(name) of \(rows)×\(cols)")
                }
                let bytes = try section(name, n)
                #if _endian(little)
                if let file, let base = file.bytes.baseAddress, let p = bytes.baseAddress,
                   Int(bitPattern: p) % MemoryLayout<Float>.alignment == 0 {
                    return Matrix(rows: rows, cols: cols, mapping: file, byteOffset: p - base)
                }
                #endif
                return Matrix(rows: rows, cols: cols, data: readFloats(bytes))
            }
            let d = lh.dim, d0 = lh.inputDim, w = lh.words, bits = lh.heBits
            guard d > 0, d0 > 0, w > 0, bits > 0, lh.hasPCA || d == d0 else {
                throw VocabularyFileError.malformedHeader("layer \(key): dims \(d0)→\(d), words \(w), bits \(bits)")
            }
            var pca: PCA? = nil
            if lh.hasPCA {
                pca = PCA(mean: try floats("pcaMean", d0),
                          components: try matrix("pcaComponents", d, d0),
                          eigenvalues: try floats("pcaEigenvalues", d))
            }
            let centroids = try matrix("centroids", w, d)
            let he = HammingEmbedding(projection: try matrix("heProjection", bits, d),
                                      thresholds: try matrix("heThresholds", w, bits))
            let idf = try floats("idf", w)
            let sizes = readUInt32s(try section("clusterSizes", w, "u32"))
            let stats = LayerTrainingStats(descriptorCount: lh.descriptorCount, imageCount: lh.imageCount,
                                           meanQuantizationError: Float(bitPattern: lh.meanQuantizationErrorBits),
                                           clusterSizes: sizes)
            layers.append(LayerVocabulary(key: key, pca: pca, centroids: centroids, hamming: he, idf: idf,
                                          stats: stats, forestOptions: lh.forest))
        }
        return Vocabulary(layers: layers, modelSHA256: header.modelSHA256, patchSettings: header.patchSettings,
                          trainingSet: header.trainingSet,
                          created: Date(timeIntervalSince1970: header.createdUnixSeconds),
                          whiteningChecksum: header.whitening)
    }
}

private struct SectionEntry: Codable { var name: String; var offset: Int; var count: Int; var type: String }

private struct LayerHeader: Codable {
    var key: String
    var inputDim: Int, dim: Int, words: Int, heBits: Int
    var hasPCA: Bool
    var forest: KDForestOptions
    var descriptorCount: Int, imageCount: Int
    var meanQuantizationErrorBits: UInt32
    var sections: [SectionEntry]
}

private struct FileHeader: Codable {
    var modelSHA256: String
    var patchSettings: String
    var trainingSet: TrainingSetInfo
    var createdUnixSeconds: Double
    var layers: [LayerHeader]
    /// `Vocabulary.whiteningChecksum`; absent in older files.
    var whitening: String?
}

@inline(__always) private func align64(_ x: Int) -> Int { (x + 63) & ~63 }
private func pad64(_ b: inout [UInt8]) { b += [UInt8](repeating: 0, count: align64(b.count) - b.count) }
private func appendLE<T: FixedWidthInteger>(_ v: T, _ b: inout [UInt8]) {
    withUnsafeBytes(of: v.littleEndian) { b += $0 }
}
private func readFloats(_ r: UnsafeRawBufferPointer) -> [Float] {
    (0..<(r.count / 4)).map {
        Float(bitPattern: UInt32(littleEndian: r.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
    }
}
private func readUInt32s(_ r: UnsafeRawBufferPointer) -> [UInt32] {
    (0..<(r.count / 4)).map { UInt32(littleEndian: r.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
}
