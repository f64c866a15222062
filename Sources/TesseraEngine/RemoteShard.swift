import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TesseraCore

/// A shard served by `tessera serve` on another process or machine, reached over HTTP: the
/// `SearchShard` calls as JSON bodies to `/v1/shard/*` (the server's `ShardRoutes`), the same
/// `Codable` values `LocalShard` passes in-process.
public final class RemoteShard: SearchShard, @unchecked Sendable {
    public let baseURL: URL
    public let token: String?
    /// Seconds one call may take before it fails (the coordinator's deadline when it has one).
    public let timeout: TimeInterval
    private let session: URLSession

    public init(baseURL: String, token: String? = nil, timeout: TimeInterval = 30) throws {
        guard let url = URL(string: baseURL), let scheme = url.scheme, ["http", "https"].contains(scheme),
              url.host != nil else {
            throw EngineError.invalidInput("shard URL \"\(baseURL)\" is not an http(s) URL")
        }
        self.baseURL = url
        self.token = token
        self.timeout = timeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        session = URLSession(configuration: configuration)
    }

    /// The body of `/v1/shard/global-top`.
    public struct GlobalTopRequest: Codable, Sendable {
        public var query: [Float]
        public var k: Int
        public var whiten: Bool
    }

    /// The body of `/v1/shard/descriptors`.
    public struct DescriptorsRequest: Codable, Sendable {
        public var ids: [ImageID]
        public var whiten: Bool
    }

    public func info() throws -> ShardInfo { try call("info", body: Optional<Int>.none) }

    public func scan(_ request: ShardScanRequest) throws -> ShardScanResponse { try call("scan", body: request) }

    public func globalTop(_ query: [Float], k: Int, whiten: Bool) throws -> [ShardHit] {
        try call("global-top", body: GlobalTopRequest(query: query, k: k, whiten: whiten))
    }

    public func descriptors(_ ids: [ImageID], whiten: Bool) throws -> [[Float]] {
        try call("descriptors", body: DescriptorsRequest(ids: ids, whiten: whiten))
    }

    public func verify(_ request: ShardVerifyRequest) throws -> [Float?] { try call("verify", body: request) }

    /// One synchronous JSON call: POST with a body, GET without.
    private func call<Body: Encodable, Answer: Decodable>(_ name: String, body: Body?) throws -> Answer {
        var request = URLRequest(url: baseURL.appendingPathComponent("v1/shard/\(name)"), timeoutInterval: timeout)
        if let body {
            request.httpMethod = "POST"
            request.httpBody = try JSONEncoder().encode(body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: (Data?, URLResponse?, Error?) = (nil, nil, nil)
        session.dataTask(with: request) { data, response, error in
            outcome = (data, response, error)
            done.signal()
        }.resume()
        done.wait()
        let (data, response, error) = outcome
        if let error { throw EngineError.invalidInput("\(baseURL): \(error.localizedDescription)") }
        guard let http = response as? HTTPURLResponse, let data else {
            throw EngineError.invalidInput("\(baseURL): no HTTP response")
        }
        guard http.statusCode == 200 else {
            let message = String(decoding: data.prefix(500), as: UTF8.self)
            throw EngineError.invalidInput("\(baseURL)/v1/shard/\(name): HTTP \(http.statusCode): \(message)")
        }
        do { return try JSONDecoder().decode(Answer.self, from: data) } catch {
            throw EngineError.invalidInput("\(baseURL)/v1/shard/\(name): unreadable answer: \(error)")
        }
    }
}
