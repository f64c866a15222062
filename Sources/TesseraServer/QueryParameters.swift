import Foundation
import TesseraEngine

/// The query options a request may set, as URL query parameters (`POST /v1/query?top=5&rerank=false`),
/// parsed into the engine's `QueryOptions`; an unknown name or a bad value is a `BadParameter`
/// (a 400 naming it). Defaults are the engine's, so a request without parameters ranks
/// exactly as `tessera query` does.
///
/// | parameter | values | `QueryOptions` |
/// |---|---|---|
/// | `top` | 1…1000 | `top` |
/// | `layers` | comma-separated layer keys, as `tessera query --layers` | `layers` |
/// | `ma` | 1…16 | `multipleAssignment` |
/// | `rerank` | true/false | `rerank` |
/// | `rerank_global` | 0…1000 | `rerankOptions.globalCandidates` |
/// | `rerank_beta` | 0…1 | `rerankOptions.beta` |
/// | `rerank_combination` | `linear`, `min-max`, `rank` | `rerankOptions.combination` |
/// | `qe` | 0…100 | `queryExpansion` |
/// | `global_only` | true/false | `globalOnly` |
/// | `whiten` | true/false | `whiten` |
/// | `verify` | true/false | `verification` (default options) |
/// | `verify_depth` | 1…1000 | `verification.depth` (implies `verify`) |
public enum QueryParameters {
    public struct BadParameter: Error, CustomStringConvertible {
        public var description: String
    }

    public static let names: Set<String> = ["top", "layers", "ma", "rerank", "rerank_global", "rerank_beta",
                                            "rerank_combination", "qe", "global_only", "whiten", "verify",
                                            "verify_depth"]

    /// `layerKeys` are the vocabulary's layer keys, in order (`layers` names them).
    public static func options(_ parameters: [(String, String)], layerKeys: [String],
                               base: QueryOptions = QueryOptions()) throws -> QueryOptions {
        var o = base
        var seen = Set<String>()
        var verifyOff = false
        for (name, value) in parameters {
            guard names.contains(name) else {
                throw BadParameter(description: "unknown query parameter '\(name)' (known: "
                                                + names.sorted().joined(separator: ", ") + ")")
            }
            guard seen.insert(name).inserted else { throw BadParameter(description: "parameter '\(name)' given twice") }
            switch name {
            case "top": o.top = try integer(name, value, 1...1000)
            case "ma": o.multipleAssignment = try integer(name, value, 1...16)
            case "qe": o.queryExpansion = try integer(name, value, 0...100)
            case "rerank": o.rerank = try boolean(name, value)
            case "rerank_global": o.rerankOptions.globalCandidates = try integer(name, value, 0...1000)
            case "rerank_beta":
                guard let b = Float(value), b >= 0, b <= 1 else {
                    throw BadParameter(description: "parameter '\(name)' must be a number in 0…1, not '\(value)'")
                }
                o.rerankOptions.beta = b
            case "rerank_combination":
                guard let c = RerankCombination(rawValue: value) else {
                    throw BadParameter(description: "parameter '\(name)' must be one of "
                                                    + RerankCombination.allCases.map(\.rawValue).joined(separator: ", ")
                                                    + ", not '\(value)'")
                }
                o.rerankOptions.combination = c
            case "global_only": o.globalOnly = try boolean(name, value)
            case "whiten": o.whiten = try boolean(name, value)
            case "verify":
                verifyOff = try !boolean(name, value)
                if !verifyOff {
                    if o.verification == nil { o.verification = VerificationOptions() }
                } else {
                    o.verification = nil
                }
            case "verify_depth":
                if verifyOff { break }
                var v = o.verification ?? VerificationOptions()
                v.depth = try integer(name, value, 1...1000)
                o.verification = v
            case "layers":
                o.layers = try value.split(separator: ",", omittingEmptySubsequences: false).map { key in
                    guard let i = layerKeys.firstIndex(of: String(key)) else {
                        throw BadParameter(description: "layer '\(key)' is not one of the vocabulary's ("
                                                        + layerKeys.joined(separator: ", ") + ")")
                    }
                    return i
                }
            default: break
            }
        }
        if seen.contains("verify_depth") && verifyOff {
            throw BadParameter(description: "verify_depth given with verify=false")
        }
        return o
    }

    static func integer(_ name: String, _ value: String, _ range: ClosedRange<Int>) throws -> Int {
        guard let v = Int(value), range.contains(v) else {
            throw BadParameter(description: "parameter '\(name)' must be an integer in "
                                            + "\(range.lowerBound)…\(range.upperBound), not '\(value)'")
        }
        return v
    }

    static func boolean(_ name: String, _ value: String) throws -> Bool {
        switch value.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw BadParameter(description: "parameter '\(name)' must be true or false, not '\(value)'")
        }
    }
}
