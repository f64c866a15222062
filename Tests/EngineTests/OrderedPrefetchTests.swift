import Foundation
import XCTest
@testable import TesseraEngine

final class OrderedPrefetchTests: XCTestCase {
    /// Results come back in the items' order whatever order the workers finish in, each item is
    /// run once, a failure is that item's result, and no worker runs more than `lookahead` ahead.
    func testResultsInOrderOnceEachWithinTheLookahead() throws {
        let started = Counter()
        let prefetch = OrderedPrefetch(Array(0..<40), workers: 3, lookahead: 4) { i -> Int in
            started.add(i)
            usleep(useconds_t((7 * i) % 5) * 1000)   // later items sometimes finish first
            if i == 13 { throw CocoaError(.fileReadCorruptFile) }
            return i * i
        }
        var got: [Int] = []
        var taken = 0
        while let (item, result) = prefetch.next() {
            XCTAssertLessThanOrEqual(started.count, taken + 1 + 4, "a worker ran past the lookahead")
            taken += 1
            if item == 13 {
                XCTAssertThrowsError(try result.get())
            } else {
                XCTAssertEqual(try result.get(), item * item)
            }
            got.append(item)
        }
        XCTAssertEqual(got, Array(0..<40))
        XCTAssertEqual(started.items.sorted(), Array(0..<40))
    }

    /// A consumer that stops early cancels: the workers stop starting items, and `cancel`
    /// returns only once none is running.
    func testCancelStopsTheWorkersAndWaitsForThem() {
        let running = Counter()
        let prefetch = OrderedPrefetch(Array(0..<1000), workers: 2, lookahead: 2) { i -> Int in
            running.add(i)
            usleep(2000)
            running.remove()
            return i
        }
        XCTAssertEqual(prefetch.next()?.item, 0)
        prefetch.cancel()
        XCTAssertEqual(running.active, 0)
        XCTAssertLessThan(running.count, 10)
        XCTAssertNil(prefetch.next())
    }

    /// Items started, and those running now, counted across threads.
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var items: [Int] = []
        private var running = 0
        var count: Int { lock.withLock { items.count } }
        var active: Int { lock.withLock { running } }
        func add(_ i: Int) { lock.withLock { items.append(i); running += 1 } }
        func remove() { lock.withLock { running -= 1 } }
    }
}
