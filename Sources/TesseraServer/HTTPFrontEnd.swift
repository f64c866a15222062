import Foundation
import Hummingbird
import Logging
import NIOCore
import TesseraCore
import TesseraEngine

/// What the index server (`QueryServer`) and the shard coordinator's server
/// (`CoordinatorServer`) share in reading a request: the access rules and the upload.
protocol HTTPFrontEnd {
    var policy: AccessPolicy { get }
    var configuration: ServerConfiguration { get }
}

extension HTTPFrontEnd {
    func authorize(_ request: Request, _ access: AccessPolicy.Access) throws {
        switch policy.decide(access, authorization: request.headers[.authorization]) {
        case .allowed: return
        case .unauthenticated(let why):
            throw APIError(.unauthorized, why, headers: [.wwwAuthenticate: "Bearer"])
        case .forbidden(let why): throw APIError(.forbidden, why)
        }
    }

    /// The uploaded JPEG of a request: the raw body (`image/jpeg` or `application/octet-stream`)
    /// or the multipart field `image` (else the first file). Other types are 415, bodies over
    /// the limit 413, a malformed multipart body 400.
    func upload(_ request: Request) async throws -> Data {
        let type = request.headers[.contentType] ?? ""
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: configuration.maxUploadBytes)
        } catch let e as HTTPResponseError where e.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "the body is over the limit of \(configuration.maxUploadBytes) bytes")
        }
        let data = Data(body.readableBytesView)
        do {
            if let boundary = try MultipartForm.boundary(contentType: type) {
                guard let part = try MultipartForm(body: data, boundary: boundary).file(named: "image") else {
                    throw APIError(.badRequest, "the multipart body has no field 'image'")
                }
                return part.data
            }
        } catch let e as MultipartForm.Malformed {
            throw APIError(.badRequest, e.description)
        }
        let media = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard media == "image/jpeg" || media == "application/octet-stream" else {
            throw APIError(.unsupportedMediaType,
                           "send a JPEG as image/jpeg, application/octet-stream or multipart/form-data, "
                           + "not '\(type)'")
        }
        guard !data.isEmpty else { throw APIError(.badRequest, "the request has no body") }
        return data
    }

    /// The query options of a `/v1/query` request's URL parameters (400 when malformed).
    func queryOptions(_ request: Request, layerKeys: [String]) throws -> QueryOptions {
        do {
            let parameters = request.uri.queryParameters.map { (String($0.key), String($0.value)) }
            return try QueryParameters.options(parameters, layerKeys: layerKeys)
        } catch let e as QueryParameters.BadParameter {
            throw APIError(.badRequest, e.description)
        }
    }

    /// Serves until SIGTERM or SIGINT, then finishes the requests in flight and returns.
    /// `onListening` gets the bound port once the server accepts connections.
    func serve(_ router: Router<BasicRequestContext>,
               onListening: @escaping @Sendable (Int) -> Void) async throws {
        // With several workers each query's SGEMMs run on its worker's thread alone: the
        // workers share the cores instead of each splitting over all of them (Bench/RESULTS.md,
        // query server load).
        if configuration.workers > 1 { BLASThreads.set(1) }
        var logger = Logger(label: "tessera.serve")
        logger.logLevel = .warning
        let app = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(Int64(configuration.idleTimeoutSeconds)))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                                 serverName: "tessera"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.runService()
    }
}
