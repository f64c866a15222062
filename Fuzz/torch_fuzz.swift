// libFuzzer harness of the legacy torch file reader and its pickle VM
// (Sources/Patches/TorchLegacyFile.swift, PickleReader.swift), which read the CNN weights: the
// input is a whole file. Any error is fine; a trap, a hang or an allocation of a claimed size
// is a finding. Built against the package's modules and run by scripts/fuzz.sh torch (its
// seeds: small legacy files written by Python's pickle in the layout torch.save uses).
@testable import Patches

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTorch(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    if let tensors = try? TorchLegacyFile.parse(UnsafeRawBufferPointer(start: data, count: size)) {
        _ = tensors.values.reduce(0) { $0 + $1.values.count + $1.shape.count }
    }
    return 0
}
