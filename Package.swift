// swift-tools-version:5.9
import Foundation
import PackageDescription

/// Release builds use the vector units of the machine that builds them: on x86-64 with AVX2
/// and FMA (checked in /proc/cpuinfo) the Swift kernels (depthwise convolution, pooling,
/// Hamming popcounts) target Haswell (AVX2, FMA, POPCNT); elsewhere the baseline. Set TESSERA_PORTABLE=1 to
/// build a binary for older CPUs.
let cpuFlags: [String] = {
    #if arch(x86_64)
    if ProcessInfo.processInfo.environment["TESSERA_PORTABLE"] == nil,
       let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
       info.contains(" avx2"), info.contains(" fma") {
        return ["-target-cpu", "haswell"]
    }
    #endif
    return []
}()

let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"] + cpuFlags, .when(configuration: .release))]

let package = Package(
    name: "Tessera",
    products: [
        // MARK: Public API
        .library(name: "TesseraEngine", targets: ["TesseraEngine"]),
        .executable(name: "tessera", targets: ["TesseraCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
    ],
    targets: [
        // MARK: C shims (promise no Swift API)
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb",
                       providers: [.apt(["liblmdb-dev"])]),
        .target(name: "CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        .target(name: "CPostingScan"),
        .target(name: "COpenBLASCore"),
        .target(name: "CConvolution"),

        // MARK: Implementation
        .target(name: "TesseraCore", dependencies: ["COpenBLAS", "COpenBLASCore"], swiftSettings: optimize),
        .target(name: "Patches", dependencies: ["TesseraCore", "CJPEG", "COpenBLAS", "CConvolution"],
                swiftSettings: optimize),
        .target(name: "Quantizer", dependencies: ["TesseraCore", "COpenBLAS"], swiftSettings: optimize),
        .target(name: "Index", dependencies: ["TesseraCore", "CLMDB"], exclude: ["LAYOUT.md"], swiftSettings: optimize),
        .target(name: "Fusion", dependencies: ["TesseraCore", "CPostingScan"], swiftSettings: optimize),
        .target(name: "GlobalDescriptors", dependencies: ["TesseraCore", "COpenBLAS"], swiftSettings: optimize),
        .target(name: "Evaluation", dependencies: ["TesseraCore"], swiftSettings: optimize),
        .target(name: "TesseraEngine",
                dependencies: ["TesseraCore", "Patches", "Quantizer", "Index", "Fusion", "GlobalDescriptors",
                               "Evaluation"],
                swiftSettings: optimize),
        .target(name: "TesseraServer",
                dependencies: ["TesseraEngine", "TesseraCore",
                               .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "Prometheus", package: "swift-prometheus"),
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "Logging", package: "swift-log")],
                exclude: ["openapi.yaml"]),
        .executableTarget(name: "TesseraCLI",
                          dependencies: ["TesseraEngine", "TesseraServer",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: optimize),

        // MARK: Benchmarks (not tests: speed is measured here, never asserted)
        .target(name: "CFMAPeak", path: "Bench/CFMAPeak"),
        .executableTarget(name: "TesseraBench",
                          dependencies: ["TesseraCore", "Patches", "Quantizer", "Index", "Fusion", "GlobalDescriptors",
                                         "Evaluation",
                                         "TesseraEngine", "CPostingScan", "CFMAPeak"],
                          path: "Bench/TesseraBench", swiftSettings: optimize),

        // MARK: Tests
        .testTarget(name: "PatchesTests", dependencies: ["Patches", "TesseraCore", "CConvolution"]),
        .testTarget(name: "QuantizerTests", dependencies: ["Quantizer", "TesseraCore"]),
        .testTarget(name: "IndexTests", dependencies: ["Index", "TesseraCore"]),
        .testTarget(name: "FusionTests", dependencies: ["Fusion", "TesseraCore", "CPostingScan"]),
        .testTarget(name: "GlobalDescriptorsTests", dependencies: ["GlobalDescriptors", "TesseraCore"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "TesseraCore"]),
        .testTarget(name: "EngineTests", dependencies: ["TesseraEngine", "TesseraCore"]),
        .testTarget(name: "ServerTests", dependencies: ["TesseraServer", "TesseraEngine"]),
    ]
)
