// libFuzzer harness of the `.npy` reader (Sources/TesseraCore/NpyFile.swift), the format of
// descriptor dumps (`tessera features`) and training files: the input is a whole file. Any
// error is fine; a trap, a hang or an allocation of a claimed size is a finding.
// Built and run by scripts/fuzz.sh npy.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNpy(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    if let parsed = try? NpyFile.parse(UnsafeRawBufferPointer(start: data, count: size), path: "fuzz") {
        _ = parsed.values.count + parsed.shape.count
    }
    return 0
}
