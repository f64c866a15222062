import Foundation
import Hummingbird
import NIOCore
import TesseraCore
import TesseraEngine

/// `tessera serve --shards MANIFEST`: the coordinator of a sharded index behind HTTP. It answers
/// the same `POST /v1/query` as `QueryServer` (the JSON of `tessera query --json`, with the
/// shard of every result and the query's `coverage`), decoding and quantising each query once
/// and merging the shards' answers (`ShardCoordinator`); the shards are the manifest's
/// directories (opened here) or URLs (other `tessera serve` processes).
///
/// | endpoint | access | what |
/// |---|---|---|
/// | `POST /v1/query` | read | rank the sharded index for an uploaded JPEG (`coverage.partial` if a shard is missing) |
/// | `GET /v1/shards` | read | the shards: identity and images, or why one does not answer |
/// | `GET /healthz`, `GET /readyz` | probe | liveness; readiness (every shard answers) |
/// | `GET /metrics` | read | Prometheus metrics (`ServerMetrics`) |
///
/// Writes go to the shards' own servers or to `tessera shards add`.
public final class CoordinatorServer: HTTPFrontEnd, Sendable {
    public let coordinator: ShardCoordinator
    public let configuration: ServerConfiguration
    public let metrics = ServerMetrics()
    let policy: AccessPolicy
    let work: WorkQueue
    let layerKeys: [String]

    public init(coordinator: ShardCoordinator, configuration: ServerConfiguration) throws {
        self.coordinator = coordinator
        self.configuration = configuration
        policy = try AccessPolicy(host: configuration.host, token: configuration.token)
        work = WorkQueue(workers: configuration.workers, waiting: configuration.queueLimit)
        layerKeys = coordinator.vocabulary.layers.map { $0.key.description }
    }

    /// Serves until SIGTERM or SIGINT (`HTTPFrontEnd.serve`).
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        try await serve(makeRouter(), onListening: onListening)
    }

    /// Each shard's info, or the error it gave.
    func shardStates() -> [Result<ShardInfo, Error>] {
        coordinator.shards.map { shard in Result { try shard.info() } }
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ResponseMetricsMiddleware(metrics: metrics))
        router.get("/healthz") { _, _ in JSON.response(["status": "ok"]) }
        router.get("/readyz") { [self] _, _ in
            let down = try await work.run { [self] in shardStates() }.enumerated().compactMap { i, r -> String? in
                if case .failure(let e) = r { return "shard \(i): \(e)" } else { return nil }
            }
            guard down.isEmpty else {
                throw APIError(.serviceUnavailable, "not every shard answers: " + down.joined(separator: "; "))
            }
            return JSON.response(["status": "ready", "shards": coordinator.shards.count])
        }
        router.get("/metrics") { [self] request, _ in
            try authorize(request, .read)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: metrics.exposition(imageCount: nil))))
        }
        router.get("/v1/shards") { [self] request, _ in
            try authorize(request, .read)
            let states = try await work.run { [self] in shardStates() }
            return JSON.response(["shards": states.enumerated().map { i, r -> [String: Any] in
                switch r {
                case .success(let info):
                    return ["shard": i, "images": info.images, "identity": info.identity.description,
                            "matches": info.identity == coordinator.identity]
                case .failure(let e): return ["shard": i, "error": "\(e)"]
                }
            }])
        }
        router.post("/v1/query") { [self] request, _ in
            try authorize(request, .read)
            let options = try queryOptions(request, layerKeys: layerKeys)
            let data = try await upload(request)
            let result: QueryResult
            do {
                result = try await work.run { [coordinator] in
                    guard let extractor = coordinator.extractor else {
                        throw EngineError.invalidInput("this coordinator has no feature extractor")
                    }
                    return try coordinator.search(try extractor.extract(data: data, name: "upload"), options: options)
                }
            } catch let e as ShardError {
                if case .identityMismatch = e { throw APIError(.badGateway, "\(e)") }
                throw APIError(.badRequest, "\(e)")
            } catch {
                if error is WorkQueue.Full { metrics.recordRejection() }
                throw APIError.from(error)
            }
            metrics.recordQuery(result.timings)
            return JSON.response(QueryReport.object(result))
        }
        return router
    }
}
