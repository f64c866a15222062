import CPostingScan
import XCTest
@testable import Fusion
import TesseraCore

final class HammingKernelTests: XCTestCase {
    /// Every kernel this CPU runs: the portable one always, AVX-512 where the CPU has it.
    let kernels = HammingKernel.allCases.filter(\.isSupported)

    /// A block of `n` postings in runs of 1–4 per image, with signatures at random distances
    /// from the query (near it and far), and the query.
    private func block(_ n: Int, _ rng: inout SeededGenerator)
        -> (bytes: [UInt8], images: [ImageID], signatures: [UInt64], query: (UInt64, UInt64)) {
        let q = (rng.next(), rng.next())
        var images = [ImageID](), signatures = [UInt64](), image: ImageID = 5
        while images.count < n {
            image += ImageID(1 + rng.next() % 3)
            for _ in 0..<min(Int(1 + rng.next() % 4), n - images.count) {
                // Sparse masks put the signature within a few bits of the query, full ones far.
                let sparse = rng.next() % 2 == 0
                let m0 = sparse ? rng.next() & rng.next() & rng.next() : rng.next()
                let m1 = sparse ? rng.next() & rng.next() & rng.next() : rng.next()
                images.append(image)
                signatures += [q.0 ^ m0, q.1 ^ m1]
            }
        }
        return (PostingLayout.encode(images: images, signatures: signatures, signatureWords: 2), images, signatures, q)
    }

    /// The filter over `from..<from + count` of a block, as arrays (image, run, distance).
    private func filter(_ kernel: HammingKernel, _ bytes: [UInt8], from: Int, count: Int, query q: (UInt64, UInt64),
                        limit: Int, next: UnsafeRawPointer?) -> [[Int]] {
        var images = [UInt32](repeating: 0, count: count), runs = [UInt32](repeating: 0, count: count)
        var distances = [UInt8](repeating: 0, count: count)
        let found = bytes.withUnsafeBytes { raw in
            images.withUnsafeMutableBufferPointer { i in
                runs.withUnsafeMutableBufferPointer { r in
                    distances.withUnsafeMutableBufferPointer { d in
                        var block = tessera_posting_block(
                            postings: raw.baseAddress?.assumingMemoryBound(to: UInt8.self),
                            count: bytes.count / 20, next: next?.assumingMemoryBound(to: UInt8.self))
                        return tessera_hamming128_filter(kernel.c, &block, from, count, q.0, q.1, Int32(limit),
                                                         tessera_filter_hits(images: i.baseAddress, runs: r.baseAddress,
                                                                             distances: d.baseAddress))
                    }
                }
            }
        }
        return (0..<found).map { [Int(images[$0]), Int(runs[$0]), Int(distances[$0])] }
    }

    func testKernelsFindExactlyThePostingsUnderTheLimitWithTheirRuns() {
        // Blocks of every length up to 40 (the kernels' groups of 4 and 8 and their remainders)
        // and some longer ones, limits from 0 (nothing passes) to 129 (everything does), each
        // block filtered whole and in three parts: the hits must be those of a direct
        // evaluation, in order, each with its image's run over the whole block.
        var rng = SeededGenerator(seed: 31)
        let elsewhere = [UInt8](repeating: 0, count: 64)
        var hits = 0
        for n in Array(0...40) + [97, 300, 1000] {
            let b = block(n, &rng)
            for limit in [0, 1, 20, 52, 64, 90, 129] {
                var expected = [[Int]]()
                for i in 0..<n {
                    let d = (b.signatures[2 * i] ^ b.query.0).nonzeroBitCount
                        + (b.signatures[2 * i + 1] ^ b.query.1).nonzeroBitCount
                    guard d < limit else { continue }
                    expected.append([Int(b.images[i]), b.images.filter { $0 == b.images[i] }.count, d])
                }
                if limit == 0 { XCTAssertEqual(expected, []) }
                if limit == 129 { XCTAssertEqual(expected.count, n) }
                hits += expected.count
                let cut1 = n / 3, cut2 = n - n / 5
                for kernel in kernels {
                    elsewhere.withUnsafeBytes { next in
                        XCTAssertEqual(filter(kernel, b.bytes, from: 0, count: n, query: b.query, limit: limit,
                                              next: nil),
                                       expected, "\(kernel), \(n) postings, limit \(limit)")
                        let parts = [(0, cut1), (cut1, cut2 - cut1), (cut2, n - cut2)].flatMap {
                            filter(kernel, b.bytes, from: $0.0, count: $0.1, query: b.query, limit: limit,
                                   next: next.baseAddress)
                        }
                        XCTAssertEqual(parts, expected, "\(kernel), \(n) postings in three parts, limit \(limit)")
                    }
                }
            }
        }
        XCTAssertGreaterThan(hits, 1000)
    }

    func testBestKernelIsSupported() {
        XCTAssertTrue(HammingKernel.best.isSupported)
        XCTAssertTrue(HammingKernel.scalar.isSupported)
        XCTAssertTrue(kernels.contains(.best))
    }
}
