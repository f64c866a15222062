import Foundation

/// Runs the server's CPU work (the CNN, the scan) off the network threads on at most
/// `workers` threads at once, with at most `waiting` more jobs queued: a job beyond that is
/// refused at once (`WorkQueue.Full`, answered 503 with Retry-After) instead of piling up.
public final class WorkQueue: @unchecked Sendable {
    public struct Full: Error {}

    public let workers: Int
    public let waiting: Int
    private let slots: DispatchSemaphore
    private let queue = DispatchQueue(label: "tessera.work", attributes: .concurrent)
    private let lock = NSLock()
    private var admitted = 0

    public init(workers: Int, waiting: Int) {
        self.workers = max(1, workers)
        self.waiting = max(0, waiting)
        slots = DispatchSemaphore(value: self.workers)
    }

    /// Jobs running or queued now.
    public var depth: Int { lock.withLock { admitted } }

    /// Runs `job` on a worker and returns its result; throws `Full` when the queue is full.
    public func run<R: Sendable>(_ job: @escaping @Sendable () throws -> R) async throws -> R {
        let ok = lock.withLock { () -> Bool in
            guard admitted < workers + waiting else { return false }
            admitted += 1
            return true
        }
        guard ok else { throw Full() }
        return try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in
                slots.wait()
                defer {
                    slots.signal()
                    lock.withLock { admitted -= 1 }
                }
                continuation.resume(with: Result { try job() })
            }
        }
    }
}
