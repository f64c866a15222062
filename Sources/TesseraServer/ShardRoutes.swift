import Foundation
import Hummingbird
import NIOCore
import TesseraCore
import TesseraEngine

/// The shard API: the `SearchShard` calls of a coordinator (`ShardCoordinator` through
/// `RemoteShard`) answered by this server's index, as JSON bodies of the `Codable` request and
/// answer types. Read access; CPU work on the server's `WorkQueue`.
///
/// | endpoint | body | answer |
/// |---|---|---|
/// | `GET /v1/shard/info` | — | `ShardInfo` (identity, images) |
/// | `POST /v1/shard/scan` | `ShardScanRequest` | `ShardScanResponse` |
/// | `POST /v1/shard/global-top` | `{query, k, whiten}` | `[ShardHit]` |
/// | `POST /v1/shard/descriptors` | `{ids, whiten}` | `[[Float]]` |
/// | `POST /v1/shard/verify` | `ShardVerifyRequest` | `[Float?]` |
extension QueryServer {
    func addShardRoutes(to router: Router<BasicRequestContext>) {
        router.get("/v1/shard/info") { [self] request, _ in
            try authorize(request, .read)
            return try encoded(try await work.run { [shard] in try shard.info() })
        }
        router.post("/v1/shard/scan") { [self] request, _ in
            let body: ShardScanRequest = try await decoded(request)
            return try encoded(try await run { [shard] in try shard.scan(body) })
        }
        router.post("/v1/shard/global-top") { [self] request, _ in
            let body: RemoteShard.GlobalTopRequest = try await decoded(request)
            return try encoded(try await run { [shard] in
                try shard.globalTop(body.query, k: body.k, whiten: body.whiten)
            })
        }
        router.post("/v1/shard/descriptors") { [self] request, _ in
            let body: RemoteShard.DescriptorsRequest = try await decoded(request)
            return try encoded(try await run { [shard] in try shard.descriptors(body.ids, whiten: body.whiten) })
        }
        router.post("/v1/shard/verify") { [self] request, _ in
            let body: ShardVerifyRequest = try await decoded(request)
            return try encoded(try await run { [shard] in try shard.verify(body) })
        }
    }

    /// Runs shard work on the queue; the engine's errors become API errors.
    private func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        do { return try await work.run(body) } catch {
            if error is WorkQueue.Full { metrics.recordRejection() }
            throw APIError.from(error)
        }
    }

    /// The JSON body of an authorised shard request: 413 over the upload limit, 400 when it is
    /// not the expected value.
    private func decoded<T: Decodable>(_ request: Request) async throws -> T {
        try authorize(request, .read)
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: configuration.maxUploadBytes)
        } catch let e as HTTPResponseError where e.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "the body is over the limit of \(configuration.maxUploadBytes) bytes")
        }
        do { return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView)) } catch {
            throw APIError(.badRequest, "the body is not a \(T.self): \(error)")
        }
    }

    private func encoded<T: Encodable>(_ value: T) throws -> Response {
        let data: Data
        do { data = try JSONEncoder().encode(value) } catch {
            throw APIError(.internalServerError, "cannot encode the answer: \(error)")
        }
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
