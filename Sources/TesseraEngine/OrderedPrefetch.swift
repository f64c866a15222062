import Foundation

/// Runs `body` over `items` on `workers` background threads, at most `lookahead` items ahead of
/// the consumer, and hands the results back in the items' order (`next()`). Indexing uses it so
/// that decoding and describing the next images overlap quantising and writing this one, and
/// one image's single-threaded stages (JPEG decoding, hashing) overlap another's CNN pass.
///
/// A failure of `body` is that item's result, not the end of the run. The workers hold the
/// prefetch until they stop, so a consumer that may stop early must call `cancel()` (e.g. in a
/// `defer`): it stops starting new items and waits for the running ones.
final class OrderedPrefetch<Item, Output>: @unchecked Sendable {
    private let items: [Item]
    private let body: (Item) throws -> Output
    private let lookahead: Int
    private let condition = NSCondition()
    private var results: [Int: Result<Output, Error>] = [:]
    private var nextToStart = 0
    private var nextToTake = 0
    private var running = 0
    private var cancelled = false

    /// `lookahead` defaults to two items per worker, so each has one waiting when it finishes.
    init(_ items: [Item], workers: Int, lookahead: Int? = nil, body: @escaping (Item) throws -> Output) {
        self.items = items
        self.body = body
        self.lookahead = max(1, lookahead ?? 2 * workers)
        for _ in 0..<min(max(1, workers), items.count) {
            running += 1
            Thread.detachNewThread { [self] in work() }
        }
    }

    /// The next item and its result, in order; nil after the last one (or after `cancel`).
    func next() -> (item: Item, result: Result<Output, Error>)? {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled && nextToTake < items.count && results[nextToTake] == nil { condition.wait() }
        guard !cancelled, nextToTake < items.count, let r = results.removeValue(forKey: nextToTake) else { return nil }
        let item = items[nextToTake]
        nextToTake += 1
        condition.broadcast()
        return (item, r)
    }

    /// Starts no more items and returns once every worker has stopped.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        results.removeAll()
        condition.unlock()
    }

    private func work() {
        condition.lock()
        while true {
            while !cancelled && nextToStart < items.count && nextToStart - nextToTake >= lookahead { condition.wait() }
            guard !cancelled, nextToStart < items.count else { break }
            let i = nextToStart
            nextToStart += 1
            condition.unlock()
            let r = Result { try body(items[i]) }
            condition.lock()
            if !cancelled { results[i] = r }
            condition.broadcast()
        }
        running -= 1
        condition.broadcast()
        condition.unlock()
    }
}
