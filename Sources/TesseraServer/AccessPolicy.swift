import Foundation

/// Who may call what (the server's security defaults):
/// - on a loopback address, reads (queries, listing, stats, the page, metrics) are open;
/// - on any other address the server refuses to start without a token, and every endpoint
///   but the health probes needs it;
/// - writes (adding and removing images) always need the token: without one they are refused.
/// The token travels as `Authorization: Bearer <token>` and is compared in constant time.
public struct AccessPolicy: Sendable {
    public enum Access: Sendable { case probe, read, write }
    public enum Decision: Equatable, Sendable {
        case allowed
        /// 401: no credentials, or credentials of the wrong form.
        case unauthenticated(String)
        /// 403: a wrong token, or a write to a server that has no token.
        case forbidden(String)
    }

    public let token: String?
    public let loopbackOnly: Bool

    /// Errors when `host` is not loopback and no token is given.
    public init(host: String, token: String?) throws {
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        self.loopbackOnly = Self.isLoopback(host)
        if !loopbackOnly && self.token == nil {
            throw ServerError.configuration("binding \(host) (not loopback) needs --token-file")
        }
    }

    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Reads the token from a file: its first line, trimmed; an empty or unreadable file is an error.
    public static func readToken(_ path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ServerError.configuration("cannot read the token file \(path)")
        }
        let token = text.split(whereSeparator: \.isNewline).first.map {
            $0.trimmingCharacters(in: .whitespaces)
        } ?? ""
        guard !token.isEmpty else { throw ServerError.configuration("the token file \(path) is empty") }
        return token
    }

    /// The decision for a request of `access` carrying this `Authorization` header value.
    public func decide(_ access: Access, authorization: String?) -> Decision {
        let needsToken = access == .write || (access == .read && !loopbackOnly)
        guard needsToken else { return .allowed }
        guard let token else { return .forbidden("writes are disabled: start the server with --token-file") }
        guard let header = authorization else { return .unauthenticated("this endpoint needs a bearer token") }
        let prefix = "Bearer "
        guard header.hasPrefix(prefix) else { return .unauthenticated("the Authorization header must be Bearer") }
        return Self.constantTimeEqual(Array(header.dropFirst(prefix.count).utf8), Array(token.utf8))
            ? .allowed : .forbidden("wrong token")
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }
}

/// Why the server cannot start or a request cannot be served before it reaches the engine.
public enum ServerError: Error, CustomStringConvertible {
    case configuration(String)
    public var description: String {
        switch self { case .configuration(let s): return s }
    }
}
