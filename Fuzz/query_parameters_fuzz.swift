// libFuzzer harness of the query server's parameters (Sources/TesseraServer/QueryParameters.swift):
// the input is a URL query string, split and percent-decoded as Hummingbird does
// (`name=value&…`), then parsed into `QueryOptions` against a three-layer vocabulary. Any
// `BadParameter` is fine; a trap or a hang is a finding. Run by scripts/fuzz.sh query-parameters.
import Foundation
import TesseraEngine

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzQueryParameters(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
    let pairs = text.split(separator: "&", omittingEmptySubsequences: true).map { pair -> (String, String) in
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        func decoded(_ s: Substring) -> String {
            String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
        }
        return (decoded(parts[0]), parts.count > 1 ? decoded(parts[1]) : "")
    }
    _ = try? QueryParameters.options(pairs, layerKeys: ["block11.expand/max", "head/max", "logits/fc"])
    return 0
}
