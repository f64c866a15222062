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
        XCTAssertEqual(o.rerankOptions, d.rerankOptions)
        XCTAssertNil(o.layers)
        XCTAssertNil(o.verification)
    }

    func testValuesAreParsed() throws {
        let o = try QueryParameters.options([("top", "5"), ("rerank", "false"), ("qe", "0"),
                                             ("layers", "logits/fc,head/max"), ("ma", "1"), ("verify_depth", "20"),
                                             ("global_only", "1"), ("rerank_global", "50"), ("rerank_beta", "0.3"),
                                             ("rerank_combination", "rank")], layerKeys: keys)
        XCTAssertEqual(o.top, 5)
        XCTAssertEqual(o.rerankOptions.beta, 0.3)
        XCTAssertEqual(o.rerankOptions.combination, .reciprocalRank)
        XCTAssertEqual(o.rerankOptions.globalCandidates, 50)
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
                    [("rerank_global", "-1")], [("rerank_beta", "1.5")], [("rerank_beta", "nan")],
                    [("rerank_combination", "sum")],
                    [("verify", "false"), ("verify_depth", "5")]] {
            XCTAssertThrowsError(try QueryParameters.options(bad, layerKeys: keys), "\(bad)") {
                XCTAssertTrue($0 is QueryParameters.BadParameter)
            }
        }
    }
}

final class WorkQueueTests: XCTestCase {
    /// Runs `body` as a detached task and waits for it at most `seconds`: a hang fails the test
    /// instead of stalling the suite.
    func within<R: Sendable>(_ seconds: Double = 20, _ body: @escaping @Sendable () async throws -> R) throws -> R {
        let box = ResultBox<R>()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
            done.signal()
        }
        guard done.wait(timeout: .now() + seconds) == .success, let result = box.result else {
            throw TimedOut(seconds: seconds)
        }
        return try result.get()
    }

    func testAFullQueueRefusesAtOnceAndRecovers() throws {
        let queue = WorkQueue(workers: 1, waiting: 1)
        let gate = DispatchSemaphore(value: 0)
        let sum = try within {
            let first = Task.detached { try await queue.run { gate.wait(); return 1 } }
            let second = Task.detached { try await queue.run { 2 } }
            let deadline = Date(timeIntervalSinceNow: 10)
            while queue.depth < 2 && Date() < deadline { try await Task.sleep(nanoseconds: 1_000_000) }
            XCTAssertEqual(queue.depth, 2)
            do {
                _ = try await queue.run { 3 }
                XCTFail("a third job fits neither a worker nor the queue")
            } catch is WorkQueue.Full {}
            gate.signal()
            return try await first.value + second.value
        }
        XCTAssertEqual(sum, 3)
        XCTAssertEqual(queue.depth, 0)
        XCTAssertEqual(try within { try await queue.run { 4 } }, 4)
    }

    func testJobErrorsReachTheCaller() throws {
        struct Boom: Error {}
        let queue = WorkQueue(workers: 2, waiting: 0)
        XCTAssertThrowsError(try within { try await queue.run { () throws -> Int in throw Boom() } }) {
            XCTAssertTrue($0 is Boom, "\($0)")
        }
    }

    /// Jobs that block (a CNN pass, a wait) must leave Swift concurrency's threads free: here
    /// only a task on that pool can release them. Jobs on libdispatch's shared pool deadlock.
    func testBlockedJobsLeaveTheTaskPoolFree() throws {
        let workers = 8 * ProcessInfo.processInfo.activeProcessorCount
        let queue = WorkQueue(workers: workers, waiting: 0)
        let release = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let jobs = (0..<workers).map { n in
            Task.detached { try await queue.run { started.signal(); release.wait(); return n } }
        }
        // Seconds where milliseconds are needed; jobs on the shared pool take one more second
        // per job past the core count to start, as libdispatch adds threads.
        let deadline = DispatchTime.now() + 5
        for n in 0..<workers {
            guard started.wait(timeout: deadline) == .success else {
                for _ in 0..<workers { release.signal() }
                return XCTFail("only \(n) of \(workers) blocking jobs started within 5 s")
            }
        }
        let total = try within(5) {
            await Task.detached { for _ in 0..<workers { release.signal() } }.value
            var total = 0
            for job in jobs { total += try await job.value }
            return total
        }
        XCTAssertEqual(total, workers * (workers - 1) / 2)
    }
}

private struct TimedOut: Error, CustomStringConvertible {
    let seconds: Double
    var description: String { "no result within \(seconds) s" }
}

private final class ResultBox<R>: @unchecked Sendable {
    var result: Result<R, Error>?
}
