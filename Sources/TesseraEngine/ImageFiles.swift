import Foundation

/// Expands files and folders (recursively) into a sorted list of JPEG paths.
public enum ImageFiles {
    public static let extensions: Set<String> = ["jpg", "jpeg", "jpe", "jfif"]

    /// JPEG files under `paths`; a path given explicitly is kept whatever its extension
    /// (so the decoder can say why it is unusable). Folders are walked recursively.
    public static func collect(_ paths: [String]) -> [String] {
        var out: [String] = []
        let fm = FileManager.default
        for p in paths {
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue {
                let root = URL(fileURLWithPath: p).standardizedFileURL
                let walker = fm.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
                var found: [String] = []
                while let u = walker?.nextObject() as? URL {
                    if extensions.contains(u.pathExtension.lowercased()) { found.append(u.standardizedFileURL.path) }
                }
                out += found.sorted()
            } else {
                out.append(URL(fileURLWithPath: p).standardizedFileURL.path)
            }
        }
        return out
    }
}
