// libFuzzer harness of the vocabulary file (Sources/Quantizer/VocabularyFile.swift): the input
// is a whole file. It is decoded twice: as given, and with its length field and checksum
// mended, so that mutations reach the JSON header, the section table and the sections instead
// of stopping at the checksum. Any error is fine; a trap, a hang or an allocation of a claimed
// size is a finding. Run by scripts/fuzz.sh vocabulary, which makes its seeds with
// `TESSERA_FUZZ_SEEDS=DIR` (tiny trained vocabularies, with and without PCA).
import Foundation
@testable import Quantizer
import TesseraCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVocabulary(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    decode(raw)
    // Mended: total length = the input's (rounded down to 8 bytes), checksum recomputed.
    let length = size / 8 * 8
    guard length >= 40 else { return 0 }
    var mended = [UInt8](raw[0..<length])
    mended.withUnsafeMutableBytes { b in
        b.storeBytes(of: UInt64(length).littleEndian, toByteOffset: 24, as: UInt64.self)
        let sum = Checksum.fnv1a64Words(UnsafeRawBufferPointer(rebasing: b[0..<(length - 8)]))
        b.storeBytes(of: sum.littleEndian, toByteOffset: length - 8, as: UInt64.self)
    }
    mended.withUnsafeBytes { decode($0) }
    return 0
}

private func decode(_ raw: UnsafeRawBufferPointer) {
    guard let v = try? Vocabulary.decode(raw) else { return }
    // Use what was decoded: one assignment per layer.
    for l in v.layers {
        _ = try? l.assign(Matrix(rows: 1, cols: l.inputDim, repeating: 0.5), k: 2)
    }
}

@_cdecl("LLVMFuzzerInitialize")
public func makeSeeds(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutableRawPointer) -> Int32 {
    guard let dir = ProcessInfo.processInfo.environment["TESSERA_FUZZ_SEEDS"] else { return 0 }
    var g = SeededGenerator(seed: 7)
    let x = Matrix(rows: 120, cols: 6, data: (0..<720).map { _ in g.nextGaussian() })
    for (name, pca) in [("pca", 4), ("plain", 0)] {
        var o = TrainOptions()
        o.words = 6; o.pcaDims = pca; o.iterations = 2; o.heBits = 64; o.minDescriptorsPerWord = 4
        o.searcher = .kdForest(KDForestOptions(trees: 2, maxLeafChecks: 8))
        let layers = try! ["head", "logits"].map { key in
            try VocabularyTrainer.train(layer: LayerKey(layer: key, pooling: .max), descriptors: x,
                                        imageOfRow: (0..<120).map { Int32($0 / 10) }, imageCount: 12, options: o)
        }
        let v = Vocabulary(layers: layers, modelSHA256: String(repeating: "ab", count: 32), patchSettings: "{}",
                           trainingSet: TrainingSetInfo(folder: "seed", imageCount: 12, descriptorCount: 120),
                           created: Date(timeIntervalSince1970: 0))
        try! Data(v.serialized()).write(to: URL(fileURLWithPath: "\(dir)/\(name).vocab"))
    }
    exit(0)
}
