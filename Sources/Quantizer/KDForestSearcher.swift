import TesseraCore

/// Options of the randomised k-d forest (Silpa-Anan & Hartley; FLANN; Philbin et al. CVPR 2007).
public struct KDForestOptions: Sendable, Equatable, Codable {
    /// Number of randomised trees (default 8).
    public var trees: Int = 8
    /// Search budget: distinct centroids compared per query, shared by all trees (default 128:
    /// a balance of recall of the exact nearest word and assignment speed at 20k words; recall
    /// against budget is in Bench/RESULTS.md, Quantizer).
    public var maxLeafChecks: Int = 128
    /// Maximum centroids per leaf (default 1, as FLANN's randomised trees).
    public var leafSize: Int = 1
    /// The split dimension is drawn uniformly among this many highest-variance dimensions (default 5).
    public var topVarianceDims: Int = 5
    /// Seed of the random split choices (default 0x5EED).
    public var seed: UInt64 = 0x5EED
    public init(trees: Int = 8, maxLeafChecks: Int = 128, leafSize: Int = 1, topVarianceDims: Int = 5,
                seed: UInt64 = 0x5EED) {
        self.trees = trees; self.maxLeafChecks = maxLeafChecks; self.leafSize = leafSize
        self.topVarianceDims = topVarianceDims; self.seed = seed
    }
}

/// Approximate nearest-centroid search with a forest of randomised k-d trees over the
/// centroids. Each node splits at the mean of a dimension drawn at random among the
/// `topVarianceDims` highest-variance dimensions (estimated on ≤ 100 of the node's
/// centroids). Search is best-bin-first across ALL trees with one shared priority queue
/// keyed by the accumulated squared cut distance, and stops after `maxLeafChecks`
/// distinct centroids have been compared (a centroid reached in several trees counts once).
/// Queries are spread over all cores; each query's result depends only on the query.
public final class KDForestSearcher: NearestCentroidSearcher, @unchecked Sendable {
    public let centroids: Matrix
    public let options: KDForestOptions
    // Flattened nodes of all trees. A child code ≥ 0 is an inner node, < 0 is leaf ~code.
    private var splitDim: [Int32] = []
    private var splitVal: [Float] = []
    private var left: [Int32] = []
    private var right: [Int32] = []
    private var leafStart: [Int32] = [0]
    private var leafItems: [UInt32] = []
    // Packed copy of the inner nodes (one cache line fetch per node); with leafSize 1 a leaf
    // code is ~centroid directly (no leaf table indirection).
    private var nodes: [KDNode] = []
    private var directLeaves = false
    private var roots: [Int32] = []

    public init(centroids: Matrix, options: KDForestOptions = KDForestOptions()) {
        self.centroids = centroids
        self.options = options
        let k = centroids.rows
        guard k > 0 else { return }
        let trees = max(1, options.trees)
        var built = [TreeBuilder?](repeating: nil, count: trees)
        built.withUnsafeMutableBufferPointer { bp in
            let b = bp.baseAddress!
            centroids.withUnsafeBufferPointer { cp in
                parallelChunks(count: trees, chunk: 1) { r in
                    for t in r {
                        var rng = SeededGenerator(seed: options.seed &+ UInt64(t) &* 0x9E37_79B9_7F4A_7C15)
                        var tb = TreeBuilder(data: cp.baseAddress!, rows: k, d: centroids.cols,
                                             leafSize: max(1, options.leafSize),
                                             topDims: max(1, options.topVarianceDims))
                        tb.build(using: &rng)
                        b[t] = tb
                    }
                }
            }
        }
        for tb in built {
            let tb = tb!
            let nodeBase = Int32(splitDim.count), leafBase = Int32(leafStart.count - 1),
                itemBase = Int32(leafItems.count)
            func remap(_ c: Int32) -> Int32 { c >= 0 ? c + nodeBase : ~(~c + leafBase) }
            splitDim += tb.splitDim; splitVal += tb.splitVal
            left += tb.left.map(remap); right += tb.right.map(remap)
            leafStart += tb.leafStart.dropFirst().map { $0 + itemBase }
            leafItems += tb.leafItems
            roots.append(remap(tb.root))
        }
        directLeaves = zip(leafStart.dropFirst(), leafStart).allSatisfy { $0 - $1 == 1 }
        func leafCode(_ c: Int32) -> Int32 { c >= 0 || !directLeaves ? c : ~Int32(leafItems[Int(leafStart[Int(~c)])]) }
        nodes = (0..<splitDim.count).map {
            KDNode(dim: splitDim[$0], val: splitVal[$0], left: leafCode(left[$0]), right: leafCode(right[$0]))
        }
        roots = roots.map(leafCode)
    }

    public func search(queries: Matrix, k: Int) -> (words: [UInt32], distances: [Float]) {
        search(queries: queries, k: k, hints: nil, order: nil)
    }

    /// Search with optional per-query `hints` (a centroid known to be near, e.g. the previous
    /// k-means assignment; `QuantizedLayer.none` = no hint): the hint is compared first (counted
    /// as one check), which tightens pruning and guarantees the answer is at least as near as
    /// the hint. `order` (a permutation of the query rows) only changes the processing order,
    /// e.g. grouping queries by hint so that nearby queries touch the same centroids while they
    /// are in cache; results are always returned in row order and do not depend on it.
    public func search(queries: Matrix, k: Int, hints: [UInt32]?,
                       order: [Int32]?) -> (words: [UInt32], distances: [Float]) {
        precondition(hints == nil || hints!.count == queries.rows,
                     "KDForestSearcher: \(hints!.count) hints for \(queries.rows) queries")
        precondition(order == nil || order!.count == queries.rows,
                     "KDForestSearcher: order has \(order!.count) rows, expected \(queries.rows)")
        precondition(queries.cols == centroids.cols,
                     "KDForestSearcher: query dim \(queries.cols) ≠ centroid dim \(centroids.cols)")
        let n = queries.rows, kc = centroids.rows, d = centroids.cols
        var words = [UInt32](repeating: QuantizedLayer.none, count: n * k)
        var dists = [Float](repeating: .infinity, count: n * k)
        guard n > 0, k > 0, kc > 0 else { return (words, dists) }
        let kk = min(k, kc)
        let maxChecks = max(kk, options.maxLeafChecks)
        words.withUnsafeMutableBufferPointer { wp in
        dists.withUnsafeMutableBufferPointer { dp in
        queries.withUnsafeBufferPointer { qp in
        centroids.withUnsafeBufferPointer { cp in
        nodes.withUnsafeBufferPointer { np in
        leafStart.withUnsafeBufferPointer { ls in
        leafItems.withUnsafeBufferPointer { li in
            let tree = ForestView(nodes: np.baseAddress ?? UnsafePointer(bitPattern: 16)!, direct: directLeaves,
                                  leafStart: ls.baseAddress!,
                                  leafItems: li.baseAddress ?? UnsafePointer(bitPattern: 16)!,
                                  centroids: cp.baseAddress!, d: d)
            let wb = wp.baseAddress!, db = dp.baseAddress!
            let roots = self.roots
            parallelChunks(count: n, chunk: 256) { range in
                var state = QueryState(centroids: kc, k: kk)
                defer { state.free() }
                for position in range {
                    let q = order.map { Int($0[position]) } ?? position
                    state.start()
                    let qv = qp.baseAddress! + q * d
                    if let h = hints?[q], h != QuantizedLayer.none, Int(h) < kc { state.check(tree, qv, Int(h)) }
                    for r in roots { state.descend(tree, qv, r, 0) }
                    while state.heapCount > 0 && (state.checks < maxChecks || state.worst == .infinity) {
                        let (bound, node) = state.pop()
                        if bound >= state.worst { break }
                        state.descend(tree, qv, node, bound)
                    }
                    for j in 0..<kk { wb[q * k + j] = state.topIdx[j]; db[q * k + j] = state.topDist[j] }
                }
            }
        }}}}}}}
        return (words, dists)
    }
}

/// Builds one randomised k-d tree over row indices of a centroid block.
private struct TreeBuilder {
    let data: UnsafePointer<Float>
    let rows: Int, d: Int, leafSize: Int, topDims: Int
    var splitDim: [Int32] = [], splitVal: [Float] = [], left: [Int32] = [], right: [Int32] = []
    var leafStart: [Int32] = [0], leafItems: [UInt32] = []
    var root: Int32 = 0
    var perm: [UInt32]

    init(data: UnsafePointer<Float>, rows: Int, d: Int, leafSize: Int, topDims: Int) {
        self.data = data; self.rows = rows; self.d = d; self.leafSize = leafSize; self.topDims = topDims
        perm = (0..<UInt32(rows)).map { $0 }
    }

    mutating func build(using rng: inout SeededGenerator) {
        var mean = [Double](repeating: 0, count: d), vars = [Double](repeating: 0, count: d)
        root = node(0, rows, &mean, &vars, &rng)
    }

    private mutating func leaf(_ lo: Int, _ hi: Int) -> Int32 {
        leafItems += perm[lo..<hi]
        leafStart.append(Int32(leafItems.count))
        return ~Int32(leafStart.count - 2)
    }

    private mutating func node(_ lo: Int, _ hi: Int, _ mean: inout [Double], _ vars: inout [Double],
                               _ rng: inout SeededGenerator) -> Int32 {
        if hi - lo <= leafSize { return leaf(lo, hi) }
        // Mean and variance per dimension on the first ≤ 100 centroids of the node (as FLANN).
        let m = min(100, hi - lo)
        for j in 0..<d { mean[j] = 0; vars[j] = 0 }
        for p in lo..<(lo + m) {
            let row = data + Int(perm[p]) * d
            for j in 0..<d { mean[j] += Double(row[j]) }
        }
        for j in 0..<d { mean[j] /= Double(m) }
        for p in lo..<(lo + m) {
            let row = data + Int(perm[p]) * d
            for j in 0..<d { let t = Double(row[j]) - mean[j]; vars[j] += t * t }
        }
        // Random choice among the `topDims` highest-variance dimensions (ties: lower dimension).
        var best: [Int] = []
        for j in 0..<d {
            var pos = best.count
            while pos > 0 && vars[best[pos - 1]] < vars[j] { pos -= 1 }
            if pos < topDims { best.insert(j, at: pos); if best.count > topDims { best.removeLast() } }
        }
        let dim = best[Int(rng.next() % UInt64(best.count))]
        var value = Float(mean[dim])
        // Partition perm[lo..<hi] by value < split.
        var mid = lo
        for p in lo..<hi where data[Int(perm[p]) * d + dim] < value { perm.swapAt(p, mid); mid += 1 }
        if mid == lo || mid == hi {
            // Degenerate split (e.g. duplicate centroids): sort by the dimension and halve.
            var slice = Array(perm[lo..<hi])
            slice.sort { a, b in
                let va = data[Int(a) * d + dim], vb = data[Int(b) * d + dim]
                return va != vb ? va < vb : a < b
            }
            perm.replaceSubrange(lo..<hi, with: slice)
            mid = (lo + hi) / 2
            value = data[Int(perm[mid]) * d + dim]
        }
        let id = splitDim.count
        splitDim.append(Int32(dim)); splitVal.append(value); left.append(0); right.append(0)
        let l = node(lo, mid, &mean, &vars, &rng)
        let r = node(mid, hi, &mean, &vars, &rng)
        left[id] = l; right[id] = r
        return Int32(id)
    }
}

/// One inner node: split dimension and value, child codes (≥ 0 node, < 0 leaf).
private struct KDNode { var dim: Int32; var val: Float; var left: Int32; var right: Int32 }

/// Raw pointers to a forest's flattened arrays (valid only inside `search`).
private struct ForestView {
    let nodes: UnsafePointer<KDNode>
    let direct: Bool
    let leafStart: UnsafePointer<Int32>, leafItems: UnsafePointer<UInt32>, centroids: UnsafePointer<Float>
    let d: Int
}

/// Per-thread scratch of best-bin-first search: visited stamps, the shared branch heap
/// (min-heap on the accumulated squared cut distance) and the sorted top-k.
private struct QueryState {
    let k: Int
    var stamp: UnsafeMutablePointer<UInt32>
    var cur: UInt32 = 0
    var heapBound: UnsafeMutablePointer<Float>
    var heapNode: UnsafeMutablePointer<Int32>
    var heapCount = 0, heapCapacity = 1024
    var topDist: UnsafeMutablePointer<Float>
    var topIdx: UnsafeMutablePointer<UInt32>
    var checks = 0

    init(centroids: Int, k: Int) {
        self.k = k
        stamp = .allocate(capacity: centroids); stamp.initialize(repeating: 0, count: centroids)
        heapBound = .allocate(capacity: 1024); heapNode = .allocate(capacity: 1024)
        topDist = .allocate(capacity: k); topIdx = .allocate(capacity: k)
    }

    func free() {
        stamp.deallocate()
        heapBound.deallocate()
        heapNode.deallocate()
        topDist.deallocate()
        topIdx.deallocate()
    }

    @inline(__always) var worst: Float { topDist[k - 1] }

    mutating func start() {
        cur &+= 1; checks = 0; heapCount = 0
        for j in 0..<k { topDist[j] = .infinity; topIdx[j] = UInt32.max }
    }

    /// Descends from `start` to a leaf, queueing the far branches, then scans the leaf's centroids.
    @inline(__always)
    mutating func descend(_ t: ForestView, _ q: UnsafePointer<Float>, _ start: Int32, _ mind: Float) {
        var node = start
        while node >= 0 {
            let nd = t.nodes[Int(node)]
            let diff = q[Int(nd.dim)] - nd.val
            let near = diff < 0 ? nd.left : nd.right
            let far = diff < 0 ? nd.right : nd.left
            let bound = mind + diff * diff
            if bound < worst { push(bound, far) }
            node = near
        }
        if t.direct { check(t, q, Int(~node)); return }
        let leaf = Int(~node)
        for p in Int(t.leafStart[leaf])..<Int(t.leafStart[leaf + 1]) { check(t, q, Int(t.leafItems[p])) }
    }

    /// Compares centroid `c` once per query (visited stamps) and keeps it when among the k best.
    @inline(__always)
    mutating func check(_ t: ForestView, _ q: UnsafePointer<Float>, _ c: Int) {
            if stamp[c] == cur { return }
            stamp[c] = cur
            checks += 1
            let dd = Kernels.squaredL2(q, t.centroids + c * t.d, t.d)
            if dd < topDist[k - 1] {
                var j = k - 1
                while j > 0 && topDist[j - 1] > dd { topDist[j] = topDist[j - 1]; topIdx[j] = topIdx[j - 1]; j -= 1 }
                topDist[j] = dd; topIdx[j] = UInt32(c)
            }
    }

    @inline(__always)
    mutating func push(_ b: Float, _ n: Int32) {
        if heapCount == heapCapacity {
            let nb = UnsafeMutablePointer<Float>.allocate(capacity: 2 * heapCapacity)
            let nn = UnsafeMutablePointer<Int32>.allocate(capacity: 2 * heapCapacity)
            nb.update(from: heapBound, count: heapCount); nn.update(from: heapNode, count: heapCount)
            heapBound.deallocate(); heapNode.deallocate()
            heapBound = nb; heapNode = nn; heapCapacity *= 2
        }
        var i = heapCount
        heapCount += 1
        while i > 0 {
            let p = (i - 1) >> 1
            if heapBound[p] <= b { break }
            heapBound[i] = heapBound[p]; heapNode[i] = heapNode[p]; i = p
        }
        heapBound[i] = b; heapNode[i] = n
    }

    @inline(__always)
    mutating func pop() -> (Float, Int32) {
        let top = (heapBound[0], heapNode[0])
        heapCount -= 1
        let count = heapCount
        if count > 0 {
            let lastB = heapBound[count], lastN = heapNode[count]
            var i = 0
            while true {
                let l = 2 * i + 1
                if l >= count { break }
                let c = (l + 1 < count && heapBound[l + 1] < heapBound[l]) ? l + 1 : l
                if heapBound[c] >= lastB { break }
                heapBound[i] = heapBound[c]; heapNode[i] = heapNode[c]; i = c
            }
            heapBound[i] = lastB; heapNode[i] = lastN
        }
        return top
    }
}
