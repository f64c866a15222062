import ArgumentParser
import Foundation
import TesseraEngine
import TesseraServer

/// `tessera serve`: the index kept warm behind HTTP (`QueryServer`).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve an index over HTTP: queries, the image table, writes, metrics and a search page.",
        discussion: """
        Binds 127.0.0.1 by default. Any other address needs --token-file; adding and removing
        images always needs the token (Authorization: Bearer TOKEN). The API is described in
        Sources/TesseraServer/openapi.yaml. SIGTERM or SIGINT stops the server after the
        requests in flight. With --shards it coordinates a sharded index instead: POST /v1/query
        merges the shards' answers (each result names its shard, the answer its coverage).
        """)
    @Option(help: "Index directory.") var index: String?
    @Option(help: "A sharded index's manifest (shards.json) to coordinate instead of --index.") var shards: String?
    @Option(help: "With --shards: milliseconds each round may wait for the shards.") var deadlineMs: Int?
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port (0 = a free one, printed once listening).") var port = 8080
    @Option(help: "File whose first line is the bearer token (needed for writes and for non-loopback addresses).")
    var tokenFile: String?
    @Option(help: "Largest upload accepted, in MiB.") var maxUploadMb = 20
    @Option(help: "Requests worked on at once.") var workers = 2
    @Option(help: "Requests waiting for a worker before the server answers 503.") var queueLimit = 32
    @Option(help: "Seconds a connection may stay silent, mid-upload or idle, before it is closed.")
    var idleTimeout = 30
    @Flag(help: "Open the index read-only (queries only).") var readOnly = false

    func validate() throws {
        guard (index == nil) != (shards == nil) else { throw ValidationError("give one of --index and --shards") }
        if shards != nil && readOnly { throw ValidationError("--read-only applies to --index") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0…65535") }
        guard maxUploadMb >= 1, workers >= 1, queueLimit >= 0, idleTimeout >= 1 else {
            throw ValidationError("--max-upload-mb, --workers and --idle-timeout must be positive, --queue-limit ≥ 0")
        }
    }

    func run() throws {
        var config = ServerConfiguration()
        config.host = host
        config.port = port
        config.token = try tokenFile.map(AccessPolicy.readToken)
        config.maxUploadBytes = maxUploadMb << 20
        config.workers = workers
        config.queueLimit = queueLimit
        config.idleTimeoutSeconds = idleTimeout
        let serve: (@escaping @Sendable (Int) -> Void) async throws -> Void
        let what: String
        if let shards {
            let coordinator = try ShardCoordinator.open(manifest: URL(fileURLWithPath: shards),
                                                        modelPath: modelOptions.model,
                                                        deadline: deadlineMs.map { Double($0) / 1000 })
            let server = try CoordinatorServer(coordinator: coordinator, configuration: config)
            serve = { try await server.run(onListening: $0) }
            what = "\(coordinator.shards.count) shards"
        } else {
            let index = try LiveIndex(directory: URL(fileURLWithPath: index ?? ""), modelPath: modelOptions.model,
                                      readOnly: readOnly)
            let server = try QueryServer(index: index, configuration: config)
            serve = { try await server.run(onListening: $0) }
            what = "\(try index.imageCount()) images"
        }
        let done = DispatchSemaphore(value: 0)
        let outcome = ServeOutcome()
        let host = self.host
        Task {
            do {
                try await serve { port in
                    print("tessera: serving \(what) on http://\(host):\(port)")
                    fflush(stdout)
                }
            } catch {
                outcome.error = error
            }
            done.signal()
        }
        done.wait()
        if let error = outcome.error { throw error }
    }
}

/// The server task's error, handed back to the command's thread.
private final class ServeOutcome: @unchecked Sendable {
    var error: Error?
}
