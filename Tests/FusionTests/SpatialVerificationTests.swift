import XCTest
import TesseraCore
@testable import Fusion

final class SpatialVerificationTests: XCTestCase {
    /// A query of 12 patches on a grid and a candidate holding the same words and signatures:
    /// placed by one transform (scale 2, shift (300, −40)) every match falls in one bin, so V
    /// is the whole BoW sum Σ idf² / (‖q‖·‖I‖); with the candidate's frames shuffled the
    /// matches scatter and V drops; HE keeps a far signature out.
    func testConsistentMatchesVoteTogether() throws {
        var rng = SeededGenerator(seed: 11)
        let n = 12
        let words = (0..<n).map { UInt32($0) }
        let signatures = (0..<(2 * n)).map { _ in rng.next() }
        let query = QuantizedLayer(count: n, k: 1, signatureWords: 2, words: words,
                                   distances: [Float](repeating: 0, count: n), signatures: signatures)
        let frames = (0..<n).map { PatchFrame(x: Float($0 % 4) * 64 + 112, y: Float($0 / 4) * 64 + 112, side: 224) }
        let moved = frames.map { PatchFrame(x: 2 * $0.x + 300, y: 2 * $0.y - 40, side: 448) }
        let idf = (0..<n).map { Float(1 + $0 % 3) }
        let verifier = SpatialVerifier()
        let bowSum = idf.reduce(0) { $0 + $1 * $1 }
        let consistent = ImageGeometry(frames: moved, layers: [query])
        let v = verifier.layerScore(query: query, queryFrames: frames, candidate: consistent, layer: 0, idf: idf,
                                    queryNorm: 2, inverseImageNorm: 0.5)
        XCTAssertEqual(v, bowSum / 2 * 0.5, accuracy: 1e-4)

        var shuffled = moved
        for i in 0..<n { shuffled[i] = PatchFrame(x: Float((i * 7) % n) * 700, y: Float((i * 5) % n) * 500, side: 448) }
        let scattered = verifier.layerScore(query: query, queryFrames: frames,
                                            candidate: ImageGeometry(frames: shuffled, layers: [query]), layer: 0,
                                            idf: idf, queryNorm: 2, inverseImageNorm: 0.5)
        XCTAssertLessThan(scattered, v / 3)

        // A signature far from the query's (all bits flipped) casts no vote under HE.
        var far = query
        far.signatures[0] = ~far.signatures[0]
        far.signatures[1] = ~far.signatures[1]
        let withFar = verifier.layerScore(query: query, queryFrames: frames,
                                          candidate: ImageGeometry(frames: moved, layers: [far]), layer: 0,
                                          idf: idf, queryNorm: 2, inverseImageNorm: 0.5)
        XCTAssertEqual(withFar, (bowSum - idf[0] * idf[0]) / 2 * 0.5, accuracy: 1e-4)
    }

    /// Bins: half-octave scale steps, translation cells of `cell` pixels, neighbours summed.
    func testBinsAndNeighbourhood() {
        let v = SpatialVerifier(options: VerificationOptions(cell: 64))
        let q = PatchFrame(x: 100, y: 100, side: 224)
        XCTAssertEqual(v.bin(q, PatchFrame(x: 100, y: 100, side: 224)), v.bin(q, PatchFrame(x: 163, y: 100, side: 224)))
        let same = v.bin(q, PatchFrame(x: 100, y: 100, side: 224))
        XCTAssertNotEqual(same, v.bin(q, PatchFrame(x: 164, y: 100, side: 224)))
        XCTAssertNotEqual(same, v.bin(q, PatchFrame(x: 100, y: 100, side: 316.8)))
        let a = v.bin(q, PatchFrame(x: 100, y: 100, side: 224)), b = v.bin(q, PatchFrame(x: 164, y: 100, side: 224))
        XCTAssertEqual(v.bestConsistentWeight([a: 1, b: 2]), 3)
        XCTAssertEqual(v.bestConsistentWeight([a: 1, b + (2 << 20): 2]), 2)
    }
}
