import Foundation
import Fusion
import TesseraCore
import TesseraEngine

/// `tessera-bench dump --images DIR[,DIR...] --layer KEY --out FILE.npy`
/// Writes the real patch descriptors of one layer (default patch settings; read from the
/// benchmark feature cache when present, else extracted) as an n×d float32 .npy file, for the
/// quantizer suite (`--npy`) and faiss.
func runDescriptorDump(_ args: [String]) throws {
    let opts = BenchArguments(args)
    let dirs = opts.string("images", "").split(separator: ",").map(String.init)
    guard let key = LayerKey(opts.string("layer", "head/max")) else { throw EngineError.invalidInput("bad --layer") }
    let out = URL(fileURLWithPath: opts.string("out", "descriptors.npy"))
    let network = try ModelLocator.loadNetwork(explicit: opts.values["model"])
    let extractor = try FeatureExtractor(network: network, patchOptions: .init())
    extractor.alsoPool = GlobalPooling.allCases.filter { $0 != extractor.global.pooling }
    let cache = try FeatureCache(directory: AssetCache.file("bench/features"), extractor: extractor)
    var m = Matrix(rows: 0, cols: 0)
    for f in ImageFiles.collect(dirs) { m.append(rowsOf: try cache.features(f).descriptors.matrix(key)) }
    try NpyFile.write(m, to: out)
    print("wrote \(m.rows)×\(m.cols) descriptors of \(key) to \(out.path) (cache hits \(cache.hits), misses \(cache.misses))")
}
