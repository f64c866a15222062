import Foundation

/// Runs the server's CPU work (the CNN, the scan) off the network threads on `workers`
/// threads of its own, with at most `waiting` more jobs queued: a job beyond that is refused
/// at once (`WorkQueue.Full`, answered 503 with Retry-After) instead of piling up.
///
/// The workers are dedicated threads, not libdispatch's: a job that runs for a second, or
/// waits, must never hold a thread of the shared pool that Swift concurrency (and so the
/// HTTP server's tasks) runs on. On Linux that pool is a few threads wide, and blocking it
/// starves every task, the ones that would unblock the job included.
public final class WorkQueue: @unchecked Sendable {
    public struct Full: Error {}

    public let workers: Int
    public let waiting: Int
    private let jobs: JobList

    public init(workers: Int, waiting: Int) {
        self.workers = max(1, workers)
        self.waiting = max(0, waiting)
        jobs = JobList(capacity: self.workers + self.waiting)
        for n in 0..<self.workers {
            let thread = Thread { [jobs] in jobs.serve() }
            thread.name = "tessera.work.\(n)"
            thread.start()
        }
    }

    deinit { jobs.close() }

    /// Jobs running or queued now.
    public var depth: Int { jobs.depth }

    /// Runs `job` on a worker and returns its result; throws `Full` when the queue is full.
    public func run<R: Sendable>(_ job: @escaping @Sendable () throws -> R) async throws -> R {
        try await withCheckedThrowingContinuation { continuation in
            let admitted = jobs.submit { continuation.resume(with: Result { try job() }) }
            if !admitted { continuation.resume(throwing: Full()) }
        }
    }
}

/// The queue the workers share: FIFO, bounded by `capacity` jobs running or waiting.
private final class JobList: @unchecked Sendable {
    private let condition = NSCondition()
    /// At most `capacity` jobs, so taking the first is cheap.
    private var queued: [() -> Void] = []
    private var running = 0
    private var closed = false
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    var depth: Int {
        condition.lock()
        defer { condition.unlock() }
        return queued.count + running
    }

    /// Queues `job` unless `capacity` jobs are already running or waiting.
    func submit(_ job: @escaping () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed, queued.count + running < capacity else { return false }
        queued.append(job)
        condition.signal()
        return true
    }

    /// A worker's loop: takes the oldest job, runs it, until the queue is closed and empty.
    func serve() {
        while let job = next() {
            job()
            condition.lock()
            running -= 1
            condition.unlock()
        }
    }

    private func next() -> (() -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        while queued.isEmpty && !closed { condition.wait() }
        guard !queued.isEmpty else { return nil }
        running += 1
        return queued.removeFirst()
    }

    /// Lets the workers finish what is queued and exit.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
