import Foundation
import Patches

/// What a vocabulary and an index are built for, stored with both (as JSON in their
/// patch-settings field) so `query` rebuilds exactly the same extractor.
public struct EngineSettings: Codable, Equatable, Sendable {
    public var patch: PatchOptions
    public var global: GlobalDescriptorOptions
    public init(patch: PatchOptions = PatchOptions(), global: GlobalDescriptorOptions = GlobalDescriptorOptions()) {
        self.patch = patch; self.global = global
    }

    public func json() -> String {
        let e = JSONEncoder(); e.outputFormatting = [.sortedKeys]
        return String(decoding: try! e.encode(self), as: UTF8.self)
    }

    public static func parse(_ text: String) throws -> EngineSettings {
        do { return try JSONDecoder().decode(EngineSettings.self, from: Data(text.utf8)) } catch {
            throw EngineError.invalidInput("unreadable settings in vocabulary or index (\(error)); was it made by another tool?")
        }
    }
}
