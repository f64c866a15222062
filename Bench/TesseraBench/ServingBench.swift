import Foundation
import Fusion
import Index
import TesseraCore

/// The index side of the query server under concurrent clients, as `LiveIndex` runs it, with
/// the CNN left out (queries are given quantised): each query opens its own LMDB snapshot,
/// scores every layer with `LayerScorer` (eq. 3–7), fuses them (eq. 8, query-adaptive) and
/// takes the top 100 (`topK`, what the rerank reads). `c` client threads each run their share
/// of `rounds` × `c` × queries; reported are queries/s over the wall time and the p50/p99 of
/// the per-query latencies.
func measureServing(store: IndexStore, queries: [BenchQuery], scorers: [[LayerScorer]], inverseNorms: [Float],
                    layers: Int, concurrency: [Int], rounds: Int) throws {
    @Sendable func query(_ q: Int) throws {
        try store.withSnapshot { snap in
            let perLayer = try layerScores(snap, scorers[q], inverseNorms: inverseNorms)
            let fused = try LateFusion.fuse(perLayer, rule: .queryAdaptive(topM: 100)).scores
            _ = topK(scores: fused, k: 100)
        }
    }
    for q in queries.indices { try query(q) }  // warm-up: page cache and page tables
    print("")
    print("Index side of the query server (`--concurrency`): per query one LMDB snapshot, \(layers) layers "
        + "scored by `LayerScorer`, query-adaptive late fusion and the top 100, as `LiveIndex` runs them without "
        + "the CNN; c client threads, \(rounds) × c × \(queries.count) queries in all.\n")
    print("| clients | queries/s | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    for c in concurrency {
        let total = rounds * c * queries.count
        let run = ServingRun(total)
        let start = now()
        // Real threads (concurrentPerform would run no more than the cores at once).
        let done = DispatchGroup()
        for t in 0..<c {
            done.enter()
            Thread {
                var i = t
                while i < total {
                    let t0 = now()
                    do { try query(i % queries.count) } catch { run.fail(error) }
                    run.latencies[i] = now() - t0
                    i += c
                }
                done.leave()
            }.start()
        }
        done.wait()
        let wall = now() - start
        if let error = run.error { throw error }
        let latencies = Array(run.latencies)
        let sorted = latencies.sorted()
        print(String(format: "| %d | %.0f | %.1f | %.1f |", c, Double(total) / wall, sorted[total / 2] * 1e3,
                     sorted[min(total - 1, Int(Double(total) * 0.99))] * 1e3))
    }
}

/// A sharded index of `shards` shards like this one, each on a machine of its own: a query
/// waits for its slowest shard. Each query runs `shards` times, one after another on this
/// machine, standing for the same query on `shards` shards of the same size and word
/// frequencies (document-partitioned: each holds the same share of every list). The
/// coordinator's wait is the maximum of those runs; its own merge and the transport are
/// measured apart (`Bench/shard_latency.sh`) and added in RESULTS.md.
func measureFanout(store: IndexStore, queries: [BenchQuery], scorers: [[LayerScorer]], inverseNorms: [Float],
                   layers: Int, shards: Int) throws {
    func query(_ q: Int) throws -> Double {
        let t0 = now()
        try store.withSnapshot { snap in
            let perLayer = try layerScores(snap, scorers[q], inverseNorms: inverseNorms)
            // A shard lists its best 100 per layer (the coordinator's first round, `ShardScanRequest`).
            for scores in perLayer { _ = topK(scores: scores, k: 100) }
        }
        return now() - t0
    }
    for q in queries.indices { _ = try query(q) }  // warm-up
    var single: [Double] = [], slowest: [Double] = []
    for q in queries.indices {
        let runs = try (0..<shards).map { _ in try query(q) }
        single += runs
        slowest.append(runs.max()!)
    }
    func pct(_ v: [Double], _ p: Double) -> Double { v.sorted()[min(v.count - 1, Int(Double(v.count) * p))] * 1e3 }
    print("")
    print("One shard of \(shards) (`--fanout`): \(queries.count) queries, each run \(shards) times on this shard; "
        + "a shard scans \(layers) layers and lists its best 100 per layer; the coordinator waits for the slowest "
        + "of the \(shards) runs (merge and transport not included).\n")
    print("| | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|")
    print(String(format: "| one shard's scan | %.1f | %.1f | %.1f |", pct(single, 0.5), pct(single, 0.99),
                 single.max()! * 1e3))
    print(String(format: "| slowest of %d shards | %.1f | %.1f | %.1f |", shards, pct(slowest, 0.5),
                 pct(slowest, 0.99), slowest.max()! * 1e3))
}

/// One query's score per image in every layer (eq. 3–7), read from one snapshot.
private func layerScores(_ snap: IndexSnapshot, _ scorers: [LayerScorer], inverseNorms: [Float]) throws -> [[Float]] {
    try scorers.indices.map { l in
        var scores = [Float](repeating: 0, count: inverseNorms.count)
        _ = try scorers[l].accumulate(lists: snap, layer: l, inverseNorms: inverseNorms, into: &scores)
        return scores
    }
}

/// The latencies of one serving run, written by its threads at distinct indices, and its first error.
private final class ServingRun: @unchecked Sendable {
    /// Raw storage: threads write distinct elements at once, which an Array property forbids.
    let latencies: UnsafeMutableBufferPointer<Double>
    private(set) var error: Error?
    private let lock = NSLock()
    init(_ count: Int) {
        latencies = .allocate(capacity: count)
        latencies.initialize(repeating: 0)
    }
    deinit { latencies.deallocate() }
    func fail(_ e: Error) { lock.withLock { error = error ?? e } }
}
