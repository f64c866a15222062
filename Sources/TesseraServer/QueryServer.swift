import Foundation
import Hummingbird
import Logging
import NIOCore
import TesseraCore
import TesseraEngine

/// How `tessera serve` runs.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (printed once listening).
    public var port = 8080
    /// The bearer token (from `--token-file`); nil: writes disabled, loopback only.
    public var token: String?
    /// Largest request body accepted (413 above it).
    public var maxUploadBytes = 20 << 20
    /// Queries and writes run at once; with more than one, OpenBLAS runs one thread per call.
    public var workers = 2
    /// Requests waiting for a worker beyond which the server answers 503.
    public var queueLimit = 32
    /// A connection that sends nothing for this long, mid-request or idle, is closed.
    public var idleTimeoutSeconds = 30
    public init() {}
}

/// `tessera serve`: a warm `LiveIndex` behind HTTP (Hummingbird 2), the API of
/// `Sources/TesseraServer/openapi.yaml`:
///
/// | endpoint | access | what |
/// |---|---|---|
/// | `POST /v1/query` | read | rank the index for an uploaded JPEG (raw body or multipart field `image`) |
/// | `GET /v1/images?from=&limit=` | read | a page of the image table |
/// | `GET /v1/images/{id}` | read | one image's record |
/// | `GET /v1/images/{id}/thumbnail` | read | a JPEG thumbnail |
/// | `GET /v1/stats` | read | images, postings per layer, bytes |
/// | `POST /v1/images` | write | add an uploaded JPEG |
/// | `DELETE /v1/images/{id}` | write | remove an image |
/// | `GET /healthz`, `GET /readyz` | probe | liveness; readiness (the index answers) |
/// | `GET /metrics` | read | Prometheus metrics (`ServerMetrics`) |
/// | `GET /` | read | the search page (`SearchPage`) |
/// | `GET /v1/shard/info`, `POST /v1/shard/*` | read | this index as a shard of a sharded one (`ShardRoutes`) |
///
/// Access is decided by `AccessPolicy`; CPU work runs on the bounded `WorkQueue`.
public final class QueryServer: HTTPFrontEnd, Sendable {
    public let index: LiveIndex
    public let configuration: ServerConfiguration
    public let metrics = ServerMetrics()
    let policy: AccessPolicy
    let work: WorkQueue
    let layerKeys: [String]
    /// The index as a coordinator's shard sees it.
    let shard: LocalShard

    public init(index: LiveIndex, configuration: ServerConfiguration) throws {
        self.index = index
        shard = LocalShard(index)
        self.configuration = configuration
        policy = try AccessPolicy(host: configuration.host, token: configuration.token)
        work = WorkQueue(workers: configuration.workers, waiting: configuration.queueLimit)
        layerKeys = index.index.vocabulary.layers.map { $0.key.description }
    }

    /// Serves until SIGTERM or SIGINT, then finishes the requests in flight and returns.
    /// `onListening` gets the bound port once the server accepts connections.
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        try await serve(makeRouter(), onListening: onListening)
    }

    // MARK: Routes

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ResponseMetricsMiddleware(metrics: metrics))
        router.get("/healthz") { _, _ in JSON.response(["status": "ok"]) }
        router.get("/readyz") { [self] _, _ in
            do {
                return JSON.response(["status": "ready", "generation": try index.generation()])
            } catch {
                throw APIError(.serviceUnavailable, "the index does not answer: \(error)")
            }
        }
        router.get("/metrics") { [self] request, _ in
            try authorize(request, .read)
            let count = try? index.imageCount()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: metrics.exposition(imageCount: count))))
        }
        router.get("/") { [self] request, _ in
            try authorize(request, .read)
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: SearchPage.html)))
        }
        router.post("/v1/query") { [self] request, _ in try await query(request) }
        router.get("/v1/stats") { [self] request, _ in
            try authorize(request, .read)
            return JSON.response(Self.statsJSON(try await work.run { [index] in try index.stats() }))
        }
        router.get("/v1/images") { [self] request, _ in try await listImages(request) }
        router.get("/v1/images/{id}") { [self] request, context in
            try authorize(request, .read)
            let id = try imageID(context)
            guard let record = try index.image(id: id) else { throw APIError(.notFound, "no image with id \(id)") }
            return JSON.response(Self.imageJSON(record))
        }
        router.get("/v1/images/{id}/thumbnail") { [self] request, context in
            try authorize(request, .read)
            let id = try imageID(context)
            let data: Data?
            do {
                data = try await work.run { [index] in try index.thumbnail(id: id) }
            } catch let e as ImageDecodeError {
                throw APIError(.notFound, "image \(id) is indexed but its file cannot be read: \(e)")
            }
            guard let data else { throw APIError(.notFound, "no image with id \(id)") }
            return Response(status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: "max-age=3600"],
                            body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.post("/v1/images") { [self] request, _ in try await addImage(request) }
        router.delete("/v1/images/{id}") { [self] request, context in
            try authorize(request, .write)
            let id = try imageID(context)
            let removed = try await work.run { [index] in try index.remove(id: id) }
            guard removed else { throw APIError(.notFound, "no image with id \(id)") }
            return JSON.response(["removed": Int(id)])
        }
        addShardRoutes(to: router)
        return router
    }

    func imageID(_ context: BasicRequestContext) throws -> ImageID {
        let raw = context.parameters.get("id") ?? ""
        guard let id = ImageID(raw) else { throw APIError(.badRequest, "image id must be an integer, not '\(raw)'") }
        return id
    }

    func query(_ request: Request) async throws -> Response {
        try authorize(request, .read)
        let options = try queryOptions(request, layerKeys: layerKeys)
        let data = try await upload(request)
        let result: QueryResult
        do {
            result = try await work.run { [index] in
                try index.search(try index.extract(data, name: "upload"), options: options)
            }
        } catch {
            if error is WorkQueue.Full { metrics.recordRejection() }
            throw APIError.from(error)
        }
        metrics.recordQuery(result.timings)
        return JSON.response(QueryReport.object(result))
    }

    func listImages(_ request: Request) async throws -> Response {
        try authorize(request, .read)
        var from: ImageID = 0
        var limit = 100
        for (k, v) in request.uri.queryParameters {
            switch k {
            case "from":
                guard let f = ImageID(String(v)) else { throw APIError(.badRequest, "'from' must be an image id") }
                from = f
            case "limit":
                guard let l = Int(String(v)), (1...1000).contains(l) else {
                    throw APIError(.badRequest, "'limit' must be an integer in 1…1000")
                }
                limit = l
            default: throw APIError(.badRequest, "unknown parameter '\(k)' (known: from, limit)")
            }
        }
        let page = try index.images(from: from, limit: limit + 1)
        var body: [String: Any] = ["images": page.prefix(limit).map(Self.imageJSON)]
        if page.count > limit { body["next"] = Int(page[limit].id) }
        return JSON.response(body)
    }

    func addImage(_ request: Request) async throws -> Response {
        try authorize(request, .write)
        if index.isReadOnly { throw APIError(.forbidden, "the index is open read-only") }
        let data = try await upload(request)
        let outcome: UploadOutcome
        do {
            outcome = try await work.run { [index] in try index.add(upload: data) }
        } catch {
            throw APIError.from(error)
        }
        switch outcome {
        case .added(let id): return JSON.response(["id": Int(id), "added": true], status: .created)
        case .alreadyIndexed(let id): return JSON.response(["id": Int(id), "added": false])
        }
    }

    // MARK: JSON

    static func imageJSON(_ r: ImageRecord) -> [String: Any] {
        ["id": Int(r.id), "path": r.path, "width": r.width, "height": r.height, "contentHash": r.contentHash,
         "features": r.featureCounts]
    }

    static func statsJSON(_ s: IndexStats) -> [String: Any] {
        ["images": s.images, "nextImageID": Int(s.nextImageID), "bytesInUse": s.bytesInUse, "fileBytes": s.fileBytes,
         "bytesPerImage": s.bytesPerImage,
         "layers": s.layers.map { ["key": $0.key.description, "postings": $0.postings, "words": $0.nonEmptyWords] }]
    }
}

/// Counts every response by route pattern and status class (`ServerMetrics.recordResponse`).
struct ResponseMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            metrics.recordResponse(route: context.endpointPath ?? "unmatched", status: Int(response.status.code))
            return response
        } catch let e as APIError {
            metrics.recordResponse(route: context.endpointPath ?? "unmatched", status: Int(e.status.code))
            throw e
        } catch let e as HTTPResponseError {
            // Hummingbird's own errors (no route, a body over the limit) get the API's JSON form too.
            metrics.recordResponse(route: context.endpointPath ?? "unmatched", status: Int(e.status.code))
            throw APIError(e.status, e.status == .notFound ? "no such endpoint: \(request.method) \(request.uri.path)"
                                                            : e.status.reasonPhrase)
        } catch {
            metrics.recordResponse(route: context.endpointPath ?? "unmatched", status: 500)
            throw APIError.from(error)
        }
    }
}
