import Foundation

/// The per-user cache that `scripts/setup.sh` fills (model weights, labels, test photos):
/// `$TESSERA_CACHE`, else `$XDG_CACHE_HOME/tessera`, else `~/.cache/tessera`.
public enum AssetCache {
    public static var directory: URL {
        let env = ProcessInfo.processInfo.environment
        if let c = env["TESSERA_CACHE"], !c.isEmpty { return URL(fileURLWithPath: c) }
        if let x = env["XDG_CACHE_HOME"], !x.isEmpty {
            return URL(fileURLWithPath: x).appendingPathComponent("tessera")
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/tessera")
    }
    public static func file(_ name: String) -> URL { directory.appendingPathComponent(name) }
}
