import Foundation

/// A one-line progress bar on standard error: count, rate, ETA. Redrawn in place on a
/// terminal, printed every 10% otherwise (logs stay readable).
public final class ProgressBar: @unchecked Sendable {
    let label: String
    let total: Int
    let start = Date()
    var done = 0
    var lastPrinted = -1
    let interactive = isatty(STDERR_FILENO) != 0
    public var enabled = true

    public init(_ label: String, total: Int, enabled: Bool = true) {
        self.label = label; self.total = total; self.enabled = enabled
    }

    public func advance(by n: Int = 1, note: String = "") {
        done += n
        guard enabled else { return }
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let pct = total > 0 ? min(100, 100 * done / total) : 100
        let width = 24
        let filled = total > 0 ? min(width, width * done / total) : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = "\(label) \(bar) \(done)/\(total) \(String(format: "%.1f", rate))/s ETA \(Self.clock(eta)) \(note)"
        if interactive {
            FileHandle.standardError.write(("\r\u{1B}[K" + line).data(using: .utf8)!)
            if done >= total { FileHandle.standardError.write("\n".data(using: .utf8)!) }
        } else if pct / 10 != lastPrinted / 10 || done >= total {
            lastPrinted = pct
            FileHandle.standardError.write((line + "\n").data(using: .utf8)!)
        }
    }

    public func message(_ text: String) {
        guard enabled else { return }
        FileHandle.standardError.write(((interactive ? "\r\u{1B}[K" : "") + text + "\n").data(using: .utf8)!)
    }

    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600
            ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60)
            : String(format: "%d:%02d", t / 60, t % 60)
    }
}
