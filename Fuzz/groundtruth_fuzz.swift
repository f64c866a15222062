// libFuzzer harness of the ground-truth file parser (Sources/Evaluation/GroundTruth.swift,
// `tessera bench custom --ground-truth`): the input is the file, decoded as `init(contentsOf:)`
// does. Any error is fine; a trap or a hang is a finding. Built and run by scripts/fuzz.sh groundtruth.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGroundTruth(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard let text = String(data: Data(bytes: data, count: size), encoding: .utf8) else { return 0 }
    if let truth = try? GroundTruth.parse(text) { _ = truth.queries.count }
    return 0
}
