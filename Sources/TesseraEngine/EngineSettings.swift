import Foundation
import Patches

/// What a vocabulary and an index are built for, stored with both (as JSON in their
/// patch-settings field) so `query` rebuilds exactly the same extractor.
public struct EngineSettings: Codable, Equatable, Sendable {
    public var patch: PatchOptions
    public var global: GlobalDescriptorOptions
    /// Multi-scale patches: patch descriptors are also taken from the passes at the global
    /// descriptor's extra scales (`GlobalDescriptorOptions.extraScales`), and all of them are
    /// quantised into the same per-layer vocabularies, so a query can meet an object at another
    /// scale. Those passes run anyway for the global descriptor. Default off.
    public var multiScalePatches: Bool

    public init(patch: PatchOptions = PatchOptions(), global: GlobalDescriptorOptions = GlobalDescriptorOptions(),
                multiScalePatches: Bool = false) {
        self.patch = patch; self.global = global; self.multiScalePatches = multiScalePatches
    }

    enum CodingKeys: String, CodingKey { case patch, global, multiScalePatches }

    /// Settings written before multi-scale patches existed read as single-scale.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        patch = try c.decode(PatchOptions.self, forKey: .patch)
        global = try c.decode(GlobalDescriptorOptions.self, forKey: .global)
        multiScalePatches = try c.decodeIfPresent(Bool.self, forKey: .multiScalePatches) ?? false
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(patch, forKey: .patch)
        try c.encode(global, forKey: .global)
        if multiScalePatches { try c.encode(multiScalePatches, forKey: .multiScalePatches) }
    }

    public func json() -> String {
        let e = JSONEncoder(); e.outputFormatting = [.sortedKeys]
        return String(decoding: try! e.encode(self), as: UTF8.self)
    }

    public static func parse(_ text: String) throws -> EngineSettings {
        do { return try JSONDecoder().decode(EngineSettings.self, from: Data(text.utf8)) } catch {
            throw EngineError.invalidInput(
                "unreadable settings in vocabulary or index (\(error)); was it made by another tool?")
        }
    }
}
