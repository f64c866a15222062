
/// The `k` best images of a dense score array (index = image id), best first; ties are
/// broken by the smaller image id, so the result is deterministic. Uses a bounded
/// min-heap (O(n log k)); every entry is a candidate, including zero scores.
public func topK(scores: [Float], k: Int) -> [(ImageID, Float)] {
    let k = min(k, scores.count)
    guard k > 0 else { return [] }
    // "a is better than b": higher score, then smaller id.
    @inline(__always) func better(_ a: (Float, Int), _ b: (Float, Int)) -> Bool {
        a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
    }
    var heap: [(Float, Int)] = []   // root = worst of the kept k
    heap.reserveCapacity(k)
    func siftDown(_ h: inout [(Float, Int)], _ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var worst = i
            if l < h.count && better(h[worst], h[l]) { worst = l }
            if r < h.count && better(h[worst], h[r]) { worst = r }
            if worst == i { return }
            h.swapAt(i, worst); i = worst
        }
    }
    scores.withUnsafeBufferPointer { s in
        for i in 0..<s.count {
            let e = (s[i], i)
            if heap.count < k {
                heap.append(e)
                var c = heap.count - 1
                while c > 0 {
                    let p = (c - 1) / 2
                    if better(heap[p], heap[c]) { heap.swapAt(p, c); c = p } else { break }
                }
            } else if better(e, heap[0]) {
                heap[0] = e
                siftDown(&heap, 0)
            }
        }
    }
    heap.sort { better($0, $1) }
    return heap.map { (ImageID($0.1), $0.0) }
}
