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
    let bound = inverseNorms.count
    @Sendable func query(_ q: Int) throws {
        try store.withSnapshot { snap in
            var perLayer: [[Float]] = []
            for l in 0..<layers {
                var scores = [Float](repeating: 0, count: bound)
                _ = try scorers[q][l].accumulate(lists: snap, layer: l, inverseNorms: inverseNorms, into: &scores)
                perLayer.append(scores)
            }
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
