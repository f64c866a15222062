import Foundation
import XCTest
import TesseraEngine
@testable import TesseraServer

final class AccessPolicyTests: XCTestCase {
    func testLoopbackReadsAreOpenAndWritesAlwaysNeedTheToken() throws {
        let p = try AccessPolicy(host: "127.0.0.1", token: "s3cret")
        XCTAssertEqual(p.decide(.read, authorization: nil), .allowed)
        XCTAssertEqual(p.decide(.probe, authorization: nil), .allowed)
        guard case .unauthenticated = p.decide(.write, authorization: nil) else {
            return XCTFail("write without token")
        }
        guard case .unauthenticated = p.decide(.write, authorization: "Basic czNjcmV0") else {
            return XCTFail("not a bearer token")
        }
        guard case .forbidden = p.decide(.write, authorization: "Bearer s3cre") else { return XCTFail("prefix") }
        guard case .forbidden = p.decide(.write, authorization: "Bearer s3cret2") else { return XCTFail("longer") }
        XCTAssertEqual(p.decide(.write, authorization: "Bearer s3cret"), .allowed)
    }

    func testWithoutATokenWritesAreDisabled() throws {
        let p = try AccessPolicy(host: "localhost", token: nil)
        guard case .forbidden = p.decide(.write, authorization: "Bearer anything") else { return XCTFail() }
        XCTAssertEqual(p.decide(.read, authorization: nil), .allowed)
    }

    func testAnotherAddressNeedsATokenToStartAndForReads() throws {
        XCTAssertThrowsError(try AccessPolicy(host: "0.0.0.0", token: nil))
        XCTAssertThrowsError(try AccessPolicy(host: "192.168.1.5", token: ""))
        let p = try AccessPolicy(host: "0.0.0.0", token: "t")
        guard case .unauthenticated = p.decide(.read, authorization: nil) else { return XCTFail("read off loopback") }
        XCTAssertEqual(p.decide(.read, authorization: "Bearer t"), .allowed)
        XCTAssertEqual(p.decide(.probe, authorization: nil), .allowed)
    }

    func testTokenFileFirstLineTrimmed() throws {
        let f = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(getpid())")
        defer { try? FileManager.default.removeItem(at: f) }
        try "  abc \nsecond\n".write(to: f, atomically: true, encoding: .utf8)
        XCTAssertEqual(try AccessPolicy.readToken(f.path), "abc")
        try "\n".write(to: f, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try AccessPolicy.readToken(f.path))
        XCTAssertThrowsError(try AccessPolicy.readToken("/nonexistent/token"))
    }
}

final class MultipartFormTests: XCTestCase {
    func body(_ parts: [(headers: String, data: [UInt8])], boundary: String = "XyZ") -> Data {
        var d = [UInt8]("preamble\r\n".utf8)
        for p in parts { d += Array("--\(boundary)\r\n\(p.headers)\r\n\r\n".utf8) + p.data + Array("\r\n".utf8) }
        d += Array("--\(boundary)--\r\n".utf8)
        return Data(d)
    }

    func testPartsNamesAndBinaryData() throws {
        // Binary data holding CRLFs and a near-boundary ("--XyY").
        let jpeg: [UInt8] = [0xFF, 0xD8, 0x0D, 0x0A, 0x2D, 0x2D, 0x58, 0x79, 0x59, 0x00, 0xFF, 0xD9]
        let d = body([("Content-Disposition: form-data; name=\"top\"", Array("5".utf8)),
                      ("Content-Disposition: form-data; name=\"image\"; filename=\"q.jpg\"\r\nContent-Type: image/jpeg",
                       jpeg)])
        XCTAssertEqual(try MultipartForm.boundary(contentType: "multipart/form-data; boundary=\"XyZ\""), "XyZ")
        XCTAssertNil(try MultipartForm.boundary(contentType: "image/jpeg"))
        let form = try MultipartForm(body: d, boundary: "XyZ")
        XCTAssertEqual(form.parts.count, 2)
        XCTAssertEqual(form.parts[0].name, "top")
        XCTAssertEqual(form.parts[0].data, Data("5".utf8))
        let image = try XCTUnwrap(form.file(named: "image"))
        XCTAssertEqual(image.filename, "q.jpg")
        XCTAssertEqual(image.contentType, "image/jpeg")
        XCTAssertEqual(image.data, Data(jpeg))
    }

    func testEmptyPartAndFileFallback() throws {
        let d = body([("Content-Disposition: form-data; name=\"empty\"", []),
                      ("Content-Disposition: form-data; name=\"upload\"; filename=\"a.jpg\"", [1, 2, 3])])
        let form = try MultipartForm(body: d, boundary: "XyZ")
        XCTAssertEqual(form.parts[0].data, Data())
        XCTAssertEqual(form.file(named: "image")?.data, Data([1, 2, 3]), "first part with a filename")
    }

    func testMalformedBodiesAreErrorsNotCrashes() {
        let good = [UInt8](body([("Content-Disposition: form-data; name=\"image\"", [9, 9, 9])]))
        XCTAssertThrowsError(try MultipartForm.boundary(contentType: "multipart/form-data"))
        XCTAssertThrowsError(try MultipartForm.boundary(contentType: "multipart/form-data; boundary="
                                                        + String(repeating: "a", count: 71)))
        for cut in [0, 5, 12, 20, good.count - 8, good.count - 3] {
            XCTAssertThrowsError(try MultipartForm(body: Data(good.prefix(cut)), boundary: "XyZ"), "cut at \(cut)")
        }
        XCTAssertThrowsError(try MultipartForm(body: Data("--XyZ--".utf8), boundary: "XyZ"), "no parts")
        XCTAssertThrowsError(try MultipartForm(body: Data("--XyZ\r\nno colon here\r\n\r\nx\r\n--XyZ--".utf8),
                                               boundary: "XyZ"))
        // Every prefix and a run of byte flips: an error or a parse, never a trap.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            var b = good
            for _ in 0..<3 { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            _ = try? MultipartForm(body: Data(b), boundary: "XyZ")
        }
    }
}

final class QueryParametersTests: XCTestCase {
    let keys = ["block11.expand/max", "head/max", "logits/fc"]

    func testDefaultsAreTheEngines() throws {
        let o = try QueryParameters.options([], layerKeys: keys)
        let d = QueryOptions()
        XCTAssertEqual(o.top, d.top)
        XCTAssertEqual(o.rerank, d.rerank)
        XCTAssertEqual(o.queryExpansion, d.queryExpansion)
        XCTAssertEqual(o.multipleAssignment, d.multipleAssignment)
        XCTAssertNil(o.layers)
        XCTAssertNil(o.verification)
    }

    func testValuesAreParsed() throws {
        let o = try QueryParameters.options([("top", "5"), ("rerank", "false"), ("qe", "0"),
                                             ("layers", "logits/fc,head/max"), ("ma", "1"), ("verify_depth", "20"),
                                             ("global_only", "1")], layerKeys: keys)
        XCTAssertEqual(o.top, 5)
        XCTAssertFalse(o.rerank)
        XCTAssertEqual(o.queryExpansion, 0)
        XCTAssertEqual(o.layers, [2, 1])
        XCTAssertEqual(o.multipleAssignment, 1)
        XCTAssertEqual(o.verification?.depth, 20)
        XCTAssertTrue(o.globalOnly)
    }

    func testBadValuesAreRefused() {
        for bad in [[("top", "0")], [("top", "x")], [("top", "1001")], [("rerank", "maybe")], [("layers", "nope")],
                    [("layers", "")], [("unknown", "1")], [("top", "2"), ("top", "3")], [("qe", "-1")],
                    [("verify", "false"), ("verify_depth", "5")]] {
            XCTAssertThrowsError(try QueryParameters.options(bad, layerKeys: keys), "\(bad)") {
                XCTAssertTrue($0 is QueryParameters.BadParameter)
            }
        }
    }
}

final class WorkQueueTests: XCTestCase {
    func testAFullQueueRefusesAtOnceAndRecovers() async throws {
        let queue = WorkQueue(workers: 1, waiting: 1)
        let gate = DispatchSemaphore(value: 0)
        let first = Task { try await queue.run { gate.wait(); return 1 } }
        let second = Task { try await queue.run { 2 } }
        while queue.depth < 2 { try await Task.sleep(nanoseconds: 1_000_000) }
        do {
            _ = try await queue.run { 3 }
            XCTFail("a third job fits neither a worker nor the queue")
        } catch is WorkQueue.Full {}
        gate.signal()
        let a = try await first.value, b = try await second.value
        XCTAssertEqual(a + b, 3)
        XCTAssertEqual(queue.depth, 0)
        let c = try await queue.run { 4 }
        XCTAssertEqual(c, 4)
    }

    func testJobErrorsReachTheCaller() async {
        struct Boom: Error {}
        let queue = WorkQueue(workers: 2, waiting: 0)
        do {
            _ = try await queue.run { () throws -> Int in throw Boom() }
            XCTFail()
        } catch {
            XCTAssertTrue(error is Boom)
        }
    }
}
