// libFuzzer harness of the whitening file (Sources/GlobalDescriptors/WhiteningFile.swift): the
// input is a whole file, decoded as given and with its checksum mended (so mutations reach the
// dimensions and the values). A decoded whitening is applied to one vector. Any error is
// fine; a trap, a hang or an allocation of a claimed size is a finding. Run by
// scripts/fuzz.sh whitening, which makes its seeds with `TESSERA_FUZZ_SEEDS=DIR`.
import Foundation
@testable import GlobalDescriptors
import TesseraCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWhitening(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var bytes = [UInt8](UnsafeRawBufferPointer(start: data, count: size))
    decode(bytes)
    guard bytes.count >= 28 else { return 0 }
    var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a 64 over every byte but the last eight
    for b in bytes[0..<(bytes.count - 8)] { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    for i in 0..<8 { bytes[bytes.count - 8 + i] = UInt8(truncatingIfNeeded: h >> (8 * UInt64(i))) }
    decode(bytes)
    return 0
}

private func decode(_ bytes: [UInt8]) {
    guard let w = try? PCAWhitening(serialized: bytes) else { return }
    _ = try? w.apply([Float](repeating: 0.25, count: w.inputDimension))
}

@_cdecl("LLVMFuzzerInitialize")
public func makeSeeds(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutableRawPointer) -> Int32 {
    guard let dir = ProcessInfo.processInfo.environment["TESSERA_FUZZ_SEEDS"] else { return 0 }
    var g = SeededGenerator(seed: 3)
    let x = Matrix(rows: 20, cols: 5, data: (0..<100).map { _ in g.nextGaussian() })
    for (name, k) in [("full", 5), ("cut", 2)] {
        let w = try! PCAWhitening.learn(from: x, options: WhiteningOptions(outputDimension: k))
        try! Data(w.serialized()).write(to: URL(fileURLWithPath: "\(dir)/\(name).whiten"))
    }
    exit(0)
}
