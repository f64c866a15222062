import Foundation
import GlobalDescriptors
import Patches
import TesseraCore
import TesseraEngine

/// `tessera-bench dump --images DIR[,DIR...] --layer KEY --out FILE.npy [--max-side N] [--max-rows N]`
/// Writes the real patch descriptors of one layer as an n×d float32 .npy file, for the
/// quantizer suite (`--npy`) and faiss. With the default patch settings they are read from the
/// benchmark feature cache when present (else extracted into it); `--max-side` extracts at
/// another image size without caching (larger images give more patches per image, for dumps
/// larger than the default size allows; Bench/RESULTS.md, Quantizer, has the sizes used).
func runDescriptorDump(_ args: [String]) throws {
    let opts = BenchArguments(args)
    let dirs = opts.string("images", "").split(separator: ",").map(String.init)
    guard let key = LayerKey(opts.string("layer", "head/max")) else { throw EngineError.invalidInput("bad --layer") }
    let out = URL(fileURLWithPath: opts.string("out", "descriptors.npy"))
    let network = try ModelLocator.loadNetwork(explicit: opts.values["model"])
    var patchOptions = PatchOptions()
    patchOptions.maxSide = opts.int("max-side", patchOptions.maxSide)
    let maxRows = opts.int("max-rows", Int.max)
    let extractor = try FeatureExtractor(network: network, patchOptions: patchOptions)
    var m = Matrix(rows: 0, cols: 0)
    let files = ImageFiles.collect(dirs)
    var used = 0
    if patchOptions == PatchOptions() {
        extractor.alsoDescribe = Benchmark.comparedDescriptors.filter { $0 != extractor.global }
        let cache = try FeatureCache(directory: AssetCache.file("bench/features"), extractor: extractor)
        for f in files where m.rows < maxRows {
            m.append(rowsOf: try cache.features(f).descriptors.matrix(key))
            used += 1
        }
        print("feature cache hits \(cache.hits), misses \(cache.misses)")
    } else {
        let progress = ProgressBar("extract", total: files.count)
        for f in files where m.rows < maxRows {
            m.append(rowsOf: try extractor.extract(f).descriptors.matrix(key))
            used += 1
            progress.advance()
        }
    }
    if m.rows > maxRows { m = m.rows(Array(0..<maxRows)) }
    try NpyFile.write(m, to: out)
    print("wrote \(m.rows)×\(m.cols) descriptors of \(key) (\(patchOptions.identity)) "
        + "from the first \(used) of \(files.count) images to \(out.path)")
}
