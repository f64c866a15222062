// libFuzzer harness of the index's stored records (Sources/Index): what `IndexStore` decodes
// from an LMDB value of a damaged or foreign `data.mdb`. The first byte picks the record and,
// where a decoder takes them, the layer count and signature size; the rest is the value:
//   0 an image record (ImageRecord.decode), 1 an image's geometry (GeometryCoding.decode),
//   2 an image's word lists (IndexDatabases.decodeWords), 3 the meta record (JSON, then the
//   checks `IndexStore.open` makes).
// Any error is fine; a trap, a hang or an allocation of a claimed size is a finding. Run by
// scripts/fuzz.sh index-records, which makes its seeds with `TESSERA_FUZZ_SEEDS=DIR`.
import Foundation
@testable import Index
import TesseraCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIndexRecords(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let selector = data[0]
    let value = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    let layers = 1 + Int(selector >> 4) % 4, signatureWords = Int(selector >> 2) % 4
    switch selector % 4 {
    case 0: _ = try? ImageRecord.decode(id: 7, value)
    case 1: _ = try? GeometryCoding.decode(value, layers: layers, signatureWords: signatureWords, id: 7)
    case 2: _ = try? IndexDatabases.decodeWords(value, layers: layers, id: 7)
    default:
        if let meta = try? JSONDecoder().decode(IndexMeta.self, from: Data(value)),
           meta.problem(maxLayers: IndexStore.maxLayers) == nil {
            _ = meta.postingStride * meta.maxPostingBlockBytes
        }
    }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func makeSeeds(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutableRawPointer) -> Int32 {
    guard let dir = ProcessInfo.processInfo.environment["TESSERA_FUZZ_SEEDS"] else { return 0 }
    func write(_ name: String, _ selector: UInt8, _ bytes: [UInt8]) {
        try! Data([selector] + bytes).write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
    }
    let record = ImageRecord(id: 7, path: "photos/a.jpg", contentHash: String(repeating: "c", count: 64),
                             width: 640, height: 480, featureCounts: [3, 3], norms: [0.5, 0.25],
                             globalDescriptor: [0.1, 0.2, 0.3])
    write("record", 0, record.encoded())
    // Two layers (selector bits 4-5 = 1), one signature word (bits 2-3 = 1), three patches.
    let layer = QuantizedLayer(count: 3, k: 1, signatureWords: 1, words: [4, 9, 2], distances: [0, 0, 0],
                               signatures: [1, 2, 3])
    let geometry = ImageGeometry(frames: (0..<3).map { PatchFrame(x: Float($0), y: 1, side: 224) },
                                 layers: [layer, layer])
    write("geometry", 0x10 | 0x04 | 1, GeometryCoding.encode(geometry))
    write("words", 0x10 | 2, IndexDatabases.encodeWords([[2, 4, 9], [1, 300, 70_000]]))
    let meta = IndexMeta(identity: IndexIdentity(vocabularyID: "v", modelSHA256: "m"), patchSettings: "{}",
                         layerKeys: [LayerKey(layer: "head", pooling: .max)], signatureWords: 2)
    write("meta", 3, Array(try! JSONEncoder().encode(meta)))
    exit(0)
}
