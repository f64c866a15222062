import CFMAPeak
import Foundation
import Patches
import TesseraCore

/// `tessera-bench forward --image JPEG [--model PATH] [--repeat N] [--out DIR]`
/// Times the forward pass to the head on one image (resized as every indexed image is), per
/// kind of operation, and the machine's FMA peak on all cores in the same run. Writes the
/// network input and the head map (`input.npy`, `head.npy`) to DIR, for a comparison against
/// another runtime on the same input (`Bench/ort_compare.py`), and prints one JSON object.
func runForwardBench(_ args: [String]) throws {
    let opts = BenchArguments(args)
    let image = URL(fileURLWithPath: opts.string("image", AssetCache.file("photos/originals/coffee.jpg").path))
    let model = URL(fileURLWithPath: opts.string("model", AssetCache.file("efficientnet-lite0-57934424.pth").path))
    let repeats = max(1, opts.int("repeat", 10))
    let out = opts.values["out"].map { URL(fileURLWithPath: $0) }
    let net = try EfficientNetLite(contentsOf: model)
    let extractor = try PatchExtractor(network: net, options: PatchOptions())
    let input = FeatureMap(networkInputFrom: try extractor.loadImage(image))
    var head = net.forward(input, taps: [.head])[.head]!            // warm-up: buffers, caches
    var seconds: [Double] = []
    var stageSeconds: [String: [Double]] = [:]
    var multiplyAdds: [String: Double] = [:]
    for _ in 0..<repeats {
        let profile = ForwardProfile()
        let t0 = now()
        head = net.forward(input, taps: [.head], profile: profile)[.head]!
        seconds.append(now() - t0)
        for (kind, s) in profile.seconds { stageSeconds[kind, default: []].append(s) }
        multiplyAdds = profile.multiplyAdds
    }
    if let out {
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try NpyFile.write(input.data, shape: [3, input.height, input.width],
                          to: out.appendingPathComponent("input.npy"))
        try NpyFile.write(head.data, shape: [head.channels, head.height, head.width],
                          to: out.appendingPathComponent("head.npy"))
    }
    let peak = measureFMAPeak()
    var stages: [String: [String: Double]] = [:]
    for (kind, s) in stageSeconds { stages[kind] = ["seconds": median(s), "multiply_adds": multiplyAdds[kind] ?? 0] }
    let report: [String: Any] = [
        "image": image.path, "height": input.height, "width": input.width,
        "forward_seconds": seconds, "median_seconds": median(seconds), "stages": stages,
        "blas_kernel": BLASCore.summary, "fma_isa": String(cString: tessera_fma_peak_isa()),
        "fma_peak_gflops": peak, "cores": ProcessInfo.processInfo.activeProcessorCount,
    ]
    let json = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
    print(String(decoding: json, as: UTF8.self))
}

/// The FMA peak of all cores together in GFLOP/s: the peak loop on every core at once.
func measureFMAPeak(iterations: Int = 40_000_000) -> Double {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let flops = UnsafeMutableBufferPointer<Double>.allocate(capacity: cores)
    defer { flops.deallocate() }
    let t0 = now()
    DispatchQueue.concurrentPerform(iterations: cores) { i in flops[i] = tessera_fma_peak_flops(iterations) }
    return flops.reduce(0, +) / max(now() - t0, 1e-9) / 1e9
}
