import COpenBLAS
import Foundation
import Patches
import TesseraCore
import TesseraEngine

/// `tessera-bench patches [--images DIR] [--count N] [--model PATH]`
/// Seconds per image (shared and per-patch, from the JPEG file), the share of each kind of
/// operation, achieved GFLOP/s against OpenBLAS's SGEMM rate measured in the same run, the
/// single-threaded NumPy reference on the same image (ratio), peak memory, and the agreement
/// (mean cosine per layer) between shared and per-patch descriptors.
func runPatchesBench(_ args: [String]) throws {
    let opts = BenchArguments(args)
    let dir = URL(fileURLWithPath: opts.string("images", AssetCache.file("photos/originals").path))
    let count = opts.int("count", 10)
    let perPatchCount = opts.int("per-patch-count", 2)
    let model = URL(fileURLWithPath: opts.string("model", AssetCache.file("efficientnet-lite0-57934424.pth").path))
    let files = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
        .filter { ["jpg", "jpeg"].contains($0.pathExtension.lowercased()) }.sorted { $0.path < $1.path }.prefix(count)
    let net = try EfficientNetLite(contentsOf: model)

    // Raw SGEMM rate at a shape typical of the 1×1 convs (M = 672, K = 112, N = 40×30·4).
    let sgemm = measureSGEMM(m: 672, n: 4800, k: 112)
    print("## Patches (\(files.count) images from \(dir.path))\n")
    print("OpenBLAS SGEMM (672×112 · 112×4800), same run: **\(String(format: "%.1f", sgemm)) GFLOP/s** "
        + "(kernel \(BLASCore.summary))\n")

    var rows: [String] = []
    var agreement: [LayerKey: [Float]] = [:]
    for mode in [PatchMode.shared, .perPatch] {
        var o = PatchOptions(); o.mode = mode
        let extractor = try PatchExtractor(network: net, options: o)
        let profile = ForwardProfile()
        var total = 0.0, decode = 0.0, n = 0, patches = 0
        for f in files.prefix(mode == .shared ? files.count : perPatchCount) {
            let t0 = now()
            let img = try extractor.loadImage(f)
            let t1 = now()
            let d = extractor.describe(img, profile: profile)
            total += now() - t0; decode += t1 - t0; n += 1; patches += d.patchCount
            if mode == .perPatch {
                var so = PatchOptions(); so.mode = .shared
                let s = try PatchExtractor(network: net, options: so).describe(img)
                for (key, m) in d.layers {
                    let x = s.layers[key]!
                    for r in 0..<m.rows {
                        agreement[key, default: []].append(zip(m.row(r), x.row(r)).reduce(0) { $0 + $1.0 * $1.1 })
                    }
                }
            }
        }
        let pw = profile.seconds["pointwise"] ?? 0, dw = profile.seconds["depthwise"] ?? 0,
            st = profile.seconds["stem"] ?? 0
        rows.append("| \(mode.rawValue) | \(n) | \(patches / max(n, 1)) | \(f3(total / Double(n))) "
            + "| \(f3(decode / Double(n))) | \(f3(pw / Double(n))) (\(f1(profile.gflops("pointwise"))) GFLOP/s, "
            + "\(f0(100 * profile.gflops("pointwise") / sgemm))% of SGEMM) "
            + "| \(f3(dw / Double(n))) | \(f3(st / Double(n))) "
            + "| \(f3((profile.seconds["pooling"] ?? 0) / Double(n))) |")
    }
    print("| mode | images | patches/image | s/image (JPEG → descriptors) | decode+resize | 1×1 convs "
        + "| depthwise | stem | window pooling |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows.forEach { print($0) }

    // NumPy reference, single-threaded, same image.
    if let first = files.first {
        let e = try PatchExtractor(network: net, options: PatchOptions())
        let img = try e.loadImage(first)
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bench-\(getpid())")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        let input = FeatureMap(networkInputFrom: img)
        try NpyFile.write(input.data, shape: [3, input.height, input.width], to: tmp.appendingPathComponent("in.npy"))
        let t0 = now(); _ = net.forward(input, taps: [.blockExpand(11), .head]); let swiftForward = now() - t0
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tests/reference/efficientnet_ref.py")
        let p = Process()
        p.executableURL = AssetCache.file("venv/bin/python")
        p.arguments = [script.path, model.path, tmp.appendingPathComponent("in.npy").path, tmp.path, "head"]
        var env = ProcessInfo.processInfo.environment
        env["REF_TIME"] = "1"
        env["OPENBLAS_NUM_THREADS"] = "1"
        env["OMP_NUM_THREADS"] = "1"
        env["MKL_NUM_THREADS"] = "1"
        p.environment = env
        let pipe = Pipe(); p.standardOutput = pipe
        try p.run(); p.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("forward_seconds") }),
           let ref = Double(line.split(separator: " ")[1]) {
            print("\nForward pass only on \(img.width)×\(img.height): Swift \(f3(swiftForward)) s, "
                + "NumPy reference (1 thread) \(f3(ref)) s — **\(f1(ref / swiftForward))× faster**")
        }
        try? FileManager.default.removeItem(at: tmp)
    }
    print("\nShared vs per-patch agreement (mean cosine over \(agreement.values.first?.count ?? 0) patches):\n")
    print("| layer | mean cosine | min |"); print("|---|---|---|")
    for (key, v) in agreement.sorted(by: { $0.key < $1.key }) {
        print("| \(key) | \(f3(Double(v.reduce(0, +) / Float(v.count)))) | \(f3(Double(v.min()!))) |")
    }
    print("\nPeak resident memory: \(Benchmark.peakMemoryMiB()) MiB")
}

func measureSGEMM(m: Int, n: Int, k: Int) -> Double {
    let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
    var c = [Float](repeating: 0, count: m * n)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n),
                0, &c, Int32(n))
    let reps = 20
    let t0 = now()
    for _ in 0..<reps {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b,
                    Int32(n), 0, &c, Int32(n))
    }
    return 2 * Double(m * n * k * reps) / (now() - t0) / 1e9
}
