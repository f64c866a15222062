import Foundation
import XCTest
import TesseraCore
@testable import Fusion

final class LayerScoringTests: XCTestCase {
    // Toy layer: 4 words with idf = [1, 2, 0.5, 1.5]; 128-bit signatures; d_t = 52, σ = 30.
    //   image 0: (w0, 0 bits), (w1, 0 bits), (w1, 20 bits)   tf(w0) = 1, tf(w1) = 2
    //   image 1: (w0, 10 bits), (w2, 0 bits)
    //   image 2: (w3, 0 bits)
    // Norms ‖I‖² = Σ idf² · tf:  I0 = 1 + 4·2 = 9 → 3;  I1 = 1 + 0.25 = 1.25;  I2 = 2.25 → 1.5.
    // Query (k = 1): (w0, 0 bits), (w1, 0 bits)  → ‖q‖² = 1 + 4 = 5.
    let idf: [Float] = [1, 2, 0.5, 1.5]
    let db: [[(UInt32, [UInt64])]] = [
        [(0, bits(0)), (1, bits(0)), (1, bits(20))],
        [(0, bits(10)), (2, bits(0))],
        [(3, bits(0))],
    ]
    var lists: MemoryLists {
        var l = MemoryLists(signatureWords: 2)
        for (i, f) in db.enumerated() { l.add(layer: 0, image: ImageID(i), features: f) }
        return l
    }
    var norms: [Float] { db.map { f in imageNorm(quantized(f.map { [$0] }), idf: idf) } }
    let query = quantized([[(0, bits(0))], [(1, bits(0))]])

    func testImageNorms() {
        XCTAssertEqual(norms[0], 3, accuracy: 1e-6)
        XCTAssertEqual(norms[1], Float(1.25).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(norms[2], 1.5, accuracy: 1e-6)
    }

    func testHammingScoresByHand() throws {
        let s = try scoreLayer(query: query, lists: lists, layer: 0, idf: idf, imageNorms: norms)
        // I0: w0: idf²·w(0)/sqrt(1·1) = 1;  w1: idf²·(w(0) + w(20))/sqrt(1·2) = 4·(1 + e^(−400/900))/√2
        //     = 4·1.641180/1.414214 = 4.641954; total 5.641954 / (√5 · 3 = 6.708204) = 0.841052
        let i0 = (1 + 4 * (1 + exp(-400.0 / 900)) / 2.0.squareRoot()) / (5.0.squareRoot() * 3)
        // I1: w0: 1·e^(−100/900) = 0.894839;  / (√5 · √1.25 = 2.5) = 0.357936
        let i1 = exp(-100.0 / 900) / 2.5
        XCTAssertEqual(Double(s[0]), i0, accuracy: 1e-5)
        XCTAssertEqual(Double(s[1]), i1, accuracy: 1e-5)
        XCTAssertEqual(s[2], 0)
        XCTAssertEqual(topK(scores: s, k: 3).map { $0.0 }, [0, 1, 2])
    }

    func testBagOfWordsScoresByHand() throws {
        let opts = ScoringOptions(hammingEmbedding: false)
        let s = try scoreLayer(query: query, lists: lists, layer: 0, idf: idf, imageNorms: norms, options: opts)
        // I0: w0: 1;  w1: 4 · (1·2 pairs) / sqrt(1·2) = 4√2 = 5.656854; total 6.656854 / 6.708204 = 0.992345
        XCTAssertEqual(Double(s[0]), (1 + 4 * 2.0.squareRoot()) / (5.0.squareRoot() * 3), accuracy: 1e-5)
        // I1: w0: 1 / 2.5 = 0.4 (the 10-bit distance does not matter without HE)
        XCTAssertEqual(s[1], 0.4, accuracy: 1e-6)
        XCTAssertEqual(s[2], 0)
    }

    func testNoBurstinessByHand() throws {
        let opts = ScoringOptions(hammingEmbedding: false, burstiness: false)
        let s = try scoreLayer(query: query, lists: lists, layer: 0, idf: idf, imageNorms: norms, options: opts)
        // I0: w0: 1;  w1: 4 · 2 pairs = 8;  9 / 6.708204 = 1.341641
        XCTAssertEqual(Double(s[0]), 9 / (5.0.squareRoot() * 3), accuracy: 1e-5)
    }

    func testSelfMatchWithoutHammingIsOne() throws {
        let selfQuery = quantized(db[0].map { [$0] })
        let s = try scoreLayer(query: selfQuery, lists: lists, layer: 0, idf: idf, imageNorms: norms,
                               options: ScoringOptions(hammingEmbedding: false))
        XCTAssertEqual(s[0], 1, accuracy: 1e-6)
    }

    func testThresholdBoundaryIsStrict() throws {
        var l = MemoryLists(signatureWords: 2)
        l.add(layer: 0, image: 0, features: [(0, bits(51))])
        l.add(layer: 0, image: 1, features: [(0, bits(52))])
        let q = quantized([[(0, bits(0))]])
        let s = try scoreLayer(query: q, lists: l, layer: 0, idf: [1], imageNorms: [1, 1])
        XCTAssertEqual(Double(s[0]), exp(-51.0 * 51 / 900), accuracy: 1e-6)  // d = d_t − 1 votes
        XCTAssertEqual(s[1], 0)                                            // d = d_t does not
    }

    func testWeightAtChosenDistance() {
        let table = ScoringOptions().weightTable(bits: 128)
        XCTAssertEqual(table.count, 129)
        XCTAssertEqual(table[30], Float(exp(-1.0)), accuracy: 1e-7)    // d = σ ⇒ e^(−1)
        XCTAssertEqual(table[0], 1)
        XCTAssertEqual(ScoringOptions().threshold(bits: 64), 26)
        XCTAssertEqual(ScoringOptions().threshold(bits: 256), 104)
        XCTAssertEqual(ScoringOptions(hammingThreshold: 40).threshold(bits: 256), 40)
    }

    func testMultipleAssignmentDoesNotDoubleCount() throws {
        // One query feature on 3 distinct words, one database feature on w1: exactly one vote.
        var l = MemoryLists(signatureWords: 2)
        l.add(layer: 0, image: 0, features: [(1, bits(0))])
        let q = quantized([[(0, bits(0)), (1, bits(0)), (2, bits(0))]])
        let scorer = try LayerScorer(query: q, idf: idf)
        var s = [Float](repeating: 0, count: 1)
        let stats = try scorer.accumulate(lists: l, layer: 0, imageNorms: [2], into: &s)
        XCTAssertEqual(stats.pairs, 1)
        // raw = idf₁² = 4; ‖q‖² = 1 + 4 + 0.25 = 5.25, ‖I‖ = 2 ⇒ S = 4 / (2·√5.25) = 0.872872
        XCTAssertEqual(Double(s[0]), 4 / (2 * 5.25.squareRoot()), accuracy: 1e-5)
    }

    func testRemovedImageNeverScores() throws {
        var n = norms
        n[1] = 0
        let s = try scoreLayer(query: query, lists: lists, layer: 0, idf: idf, imageNorms: n)
        XCTAssertEqual(s[1], 0)
        XCTAssertGreaterThan(s[0], 0)
        // Image ids beyond the norm table are ignored too (no crash).
        let short = try scoreLayer(query: query, lists: lists, layer: 0, idf: idf, imageNorms: [norms[0]])
        XCTAssertEqual(short.count, 1)
    }

    func testTypedErrors() {
        XCTAssertThrowsError(try LayerScorer(query: quantized([[(9, bits(0))]]), idf: idf)) {
            XCTAssertEqual($0 as? ScoringError, .wordOutOfRange(word: 9, vocabularySize: 4))
        }
        let one = quantized([[(0, [0])]], signatureWords: 1)
        XCTAssertThrowsError(try scoreLayer(query: one, lists: lists, layer: 0, idf: idf, imageNorms: norms)) {
            XCTAssertEqual($0 as? ScoringError, .signatureWidthMismatch(query: 1, index: 2))
        }
    }

    func testScanMatchesNaiveReference() throws {
        // Random index; the optimised scan must equal a direct evaluation of eq. 5, 6, 8,
        // whether each list is lent whole or in blocks of 1 or 3 images (as sealed LMDB blocks are).
        var rng = SeededGenerator(seed: 7)
        let vocab = 12, nImages = 30
        let idf = (0..<vocab).map { _ in Float.random(in: 0.1...3, using: &rng) }
        var l = MemoryLists(signatureWords: 2)
        var dbFeatures: [[(UInt32, [UInt64])]] = []
        for i in 0..<nImages {
            let f = (0..<Int.random(in: 1...8, using: &rng)).map { _ in
                (UInt32.random(in: 0..<UInt32(vocab), using: &rng), bits(Int.random(in: 0...70, using: &rng)))
            }
            dbFeatures.append(f)
            l.add(layer: 0, image: ImageID(i), features: f)
        }
        let norms = dbFeatures.map { imageNorm(quantized($0.map { [$0] }), idf: idf) }
        // 20 features × 3 of 12 words: groups of one assignment (tf_q = 1) and of several take both paths of the scan.
        let qf: [[(UInt32, [UInt64])]] = (0..<20).map { _ in
            let ws = Array((0..<UInt32(vocab)).shuffled(using: &rng).prefix(3))
            return ws.map { ($0, bits(Int.random(in: 0...40, using: &rng))) }
        }
        let q = quantized(qf)
        for perBlock in [Int.max, 1, 3] { for kernel in HammingKernel.allCases where kernel.isSupported {
            l.imagesPerBlock = perBlock
            var scorer = try LayerScorer(query: q, idf: idf)
            scorer.hammingKernel = kernel
            let s = try scorer.score(lists: l, layer: 0, imageNorms: norms)
            var tfq: [UInt32: Int] = [:]
            for f in qf { for (w, _) in f { tfq[w, default: 0] += 1 } }
            let qn = imageNorm(q, idf: idf)
            for i in 0..<nImages {
                var tfi: [UInt32: Int] = [:]
                for (w, _) in dbFeatures[i] { tfi[w, default: 0] += 1 }
                var raw = 0.0
                for f in qf { for (w, bx) in f { for (v, by) in dbFeatures[i] where v == w {
                    let d = zip(bx, by).map { ($0 ^ $1).nonzeroBitCount }.reduce(0, +)
                    guard d < 52 else { continue }
                    raw += Double(idf[Int(w)] * idf[Int(w)]) * exp(-Double(d * d) / 900)
                        / Double(tfq[w]! * tfi[w]!).squareRoot()
                } } }
                XCTAssertEqual(Double(s[i]), raw / Double(qn * norms[i]), accuracy: 1e-5,
                               "image \(i), \(perBlock) per block, \(kernel) kernel")
            }
        } }
    }

    func testLongRunsAndInverseNormEntryPoint() throws {
        // A run past the 1/√n table (70 postings of one image in one list) and a short one;
        // the inverse-norm entry point equals the norm one and eq. 8 computed directly.
        var l = MemoryLists(signatureWords: 2)
        l.add(layer: 0, image: 0, features: Array(repeating: (1, bits(0)), count: 70))
        l.add(layer: 0, image: 1, features: Array(repeating: (1, bits(0)), count: 3))
        let idf: [Float] = [1, 2]
        let q = quantized([[(1, bits(0))]])
        let norms: [Float] = [4, 0.5]
        var viaInverse = [Float](repeating: 0, count: 2)
        try LayerScorer(query: q, idf: idf).accumulate(lists: l, layer: 0, inverseNorms: inverseNorms(norms),
                                                       into: &viaInverse)
        let direct = try scoreLayer(query: q, lists: l, layer: 0, idf: idf, imageNorms: norms)
        XCTAssertEqual(viaInverse, direct)
        // S = idf² · tf_I · w(0) / √(tf_q · tf_I) / (‖q‖ · ‖I‖)
        // with w(0) = 1, tf_q = 1, ‖q‖ = idf = 2.
        for (i, tf) in [(0, 70.0), (1, 3.0)] {
            XCTAssertEqual(Double(direct[i]), 4 * tf / tf.squareRoot() / (2 * Double(norms[i])), accuracy: 1e-4)
        }
        XCTAssertEqual(inverseNorms([0, 2]), [0, 0.5])
    }

    func testVotesAtThresholdAndRunsAcrossGroupsOfFour() throws {
        // One list of 10 postings, so the tf_q = 1 loop takes two groups of four and a tail of
        // two: image 3 at positions 0–1 (both vote), image 5 at 2–7 (a run across the groups'
        // boundary where only position 7 votes, at d = 51 = d_t − 1), image 6 at 8–9 (d = 52,
        // no vote). tf_I counts the whole run, voting or not (eq. 8).
        var l = MemoryLists(signatureWords: 2)
        l.add(layer: 0, image: 3, features: [(0, bits(0)), (0, bits(10))])
        l.add(layer: 0, image: 5, features: Array(repeating: (0, bits(60)), count: 5) + [(0, bits(51))])
        l.add(layer: 0, image: 6, features: [(0, bits(52)), (0, bits(52))])
        let q = quantized([[(0, bits(0))]])
        let norms: [Float] = [0, 0, 0, 2, 0, 3, 1]
        let s = try scoreLayer(query: q, lists: l, layer: 0, idf: [1], imageNorms: norms)
        let w = { (d: Double) in exp(-d * d / 900) }
        XCTAssertEqual(Double(s[3]), (w(0) + w(10)) / 2.0.squareRoot() / 2, accuracy: 1e-6)
        XCTAssertEqual(Double(s[5]), w(51) / 6.0.squareRoot() / 3, accuracy: 1e-6)
        XCTAssertEqual(s[6], 0)
        // Votes queued for a score array of no images are dropped, not added out of bounds.
        var none: [Float] = []
        XCTAssertEqual(try LayerScorer(query: q, idf: [1]).accumulate(lists: l, layer: 0, inverseNorms: [],
                                                                      into: &none).postings, 10)
        XCTAssertEqual(none, [])
        // Plain BoW: every posting votes, tf_q · tf_I / √(tf_q · tf_I) = √tf_I per image.
        let bow = try scoreLayer(query: q, lists: l, layer: 0, idf: [1], imageNorms: norms,
                                 options: ScoringOptions(hammingEmbedding: false))
        XCTAssertEqual(Double(bow[3]), 2.0.squareRoot() / 2, accuracy: 1e-6)
        XCTAssertEqual(Double(bow[5]), 6.0.squareRoot() / 3, accuracy: 1e-6)
        XCTAssertEqual(Double(bow[6]), 2.0.squareRoot(), accuracy: 1e-6)
    }

    func testMoreVotesThanOneBatch() throws {
        // 700 images with runs of 1–3 postings on one word, about 1,200 voting postings: the
        // tf_q = 1 loop queues its votes and adds them in several batches, each spanning blocks
        // when the list is lent in blocks of 50 images, and the rest at the end; with each
        // kernel. Each image's score must equal eq. 8 computed directly: Σ w(d) over its voting
        // postings / √tf_I / (‖q‖ · ‖I‖).
        var l = MemoryLists(signatureWords: 2)
        var distances = [[Int]]()
        for i in 0..<700 {
            let d = (0..<(i % 3 + 1)).map { j in (7 * i + 13 * j) % 60 }
            distances.append(d)
            l.add(layer: 0, image: ImageID(i), features: d.map { (0, bits($0)) })
        }
        XCTAssertGreaterThan(distances.joined().filter { $0 < 52 }.count, 2 * 256)
        let norms = (0..<700).map { Float(1 + $0 % 5) }
        let q = quantized([[(0, bits(0))]])
        for perBlock in [Int.max, 50] { for kernel in HammingKernel.allCases where kernel.isSupported {
            l.imagesPerBlock = perBlock
            var scorer = try LayerScorer(query: q, idf: [1])
            scorer.hammingKernel = kernel
            let s = try scorer.score(lists: l, layer: 0, imageNorms: norms)
            for (i, d) in distances.enumerated() {
                let votes = d.filter { $0 < 52 }.reduce(0.0) { $0 + exp(-Double($1 * $1) / 900) }
                XCTAssertEqual(Double(s[i]), votes / Double(d.count).squareRoot() / Double(norms[i]), accuracy: 1e-6,
                               "image \(i), \(perBlock) per block, \(kernel) kernel")
            }
        } }
    }

    func testPopcount128() {
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<1000 {
            let a = rng.next() & rng.next(), b = rng.next() | rng.next()
            XCTAssertEqual(popcount128(a, b), a.nonzeroBitCount + b.nonzeroBitCount)
        }
        XCTAssertEqual(popcount128(.max, .max), 128)
        XCTAssertEqual(popcount128(0, 0), 0)
    }
}
