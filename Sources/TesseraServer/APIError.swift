import Foundation
import Hummingbird
import TesseraEngine

/// An HTTP error with a JSON body, `{"error": {"status": 415, "message": "…"}}`: every 4xx and
/// 5xx the API returns has this form (documented in openapi.yaml as `Error`).
struct APIError: HTTPResponseError {
    var status: HTTPResponse.Status
    var message: String
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status; self.message = message; self.headers = headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var h = headers
        h[.contentType] = "application/json"
        let body = JSON.encode(["error": ["status": Int(status.code), "message": message]])
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The response an engine error deserves: a bad image is the client's (415 not a JPEG,
    /// 422 unusable), a full queue 503, a busy index 409; anything else is the server's (500).
    static func from(_ error: Error) -> APIError {
        switch error {
        case let e as APIError: return e
        case is WorkQueue.Full:
            return APIError(.serviceUnavailable, "the server is busy: too many requests queued",
                            headers: [.retryAfter: "1"])
        case let e as ImageDecodeError:
            switch e {
            case .notJPEG, .empty: return APIError(.unsupportedMediaType, "\(e)")
            default: return APIError(.unprocessableContent, "\(e)")
            }
        case let e as QueryParameters.BadParameter: return APIError(.badRequest, e.description)
        case let e as MultipartForm.Malformed: return APIError(.badRequest, e.description)
        case let e as IndexError:
            switch e {
            case .busy: return APIError(.conflict, "\(e)")
            case .readOnly: return APIError(.forbidden, "the index is open read-only")
            case .directoryNotWritable: return APIError(.forbidden, "\(e)")
            default: return APIError(.internalServerError, "\(e)")
            }
        case let e as EngineError: return APIError(.badRequest, "\(e)")
        default: return APIError(.internalServerError, "\(error)")
        }
    }
}

/// JSON text from dictionaries and arrays (sorted keys, so responses are stable).
enum JSON {
    static func encode(_ object: Any) -> String {
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: options) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func response(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: encode(object))))
    }
}
