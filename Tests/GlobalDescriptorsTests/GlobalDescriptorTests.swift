import Foundation
import XCTest
import TesseraCore
@testable import GlobalDescriptors

final class GlobalDescriptorTests: XCTestCase {
    // C = 2, H = W = 2: channel 0 = [1, 2, 3, 4], channel 1 = [0, 0, 0, 2].
    let map = FeatureMap(channels: 2, height: 2, width: 2, data: [1, 2, 3, 4, 0, 0, 0, 2])

    func assertUnit(_ v: [Float], _ expected: [Float], file: StaticString = #filePath, line: UInt = #line) {
        let n = expected.reduce(0) { $0 + $1 * $1 }.squareRoot()
        XCTAssertEqual(v.count, expected.count, "descriptor length", file: file, line: line)
        for (a, b) in zip(v, expected) { XCTAssertEqual(a, b / n, accuracy: 1e-5, file: file, line: line) }
    }

    func testMacSpocGem() throws {
        assertUnit(try GlobalDescriptor.describe(map, pooling: .mac), [4, 2])
        assertUnit(try GlobalDescriptor.describe(map, pooling: .spoc), [2.5, 0.5])
        // GeM p = 3: ((1 + 8 + 27 + 64)/4)^(1/3) = 25^(1/3) = 2.924018;  (8/4)^(1/3) = 1.259921
        assertUnit(try GlobalDescriptor.describe(map, pooling: .gem),
                   [pow(25, 1.0 / 3), pow(2, 1.0 / 3)].map { Float($0) })
    }

    func testRmacOfUniformMapEqualsMac() throws {
        // Each channel constant over space: every region's MAC is the same direction.
        let c = FeatureMap(channels: 2, height: 5, width: 8,
                           data: [Float](repeating: 3, count: 40) + [Float](repeating: 1, count: 40))
        assertUnit(try GlobalDescriptor.describe(c, pooling: .rmac), [3, 1])
        // A single hot spot: R-MAC keeps it but less dominant than in MAC (regions without it add channel 1).
        var d = [Float](repeating: 0, count: 80)
        d[0] = 5; for i in 40..<80 { d[i] = 1 }
        let hot = FeatureMap(channels: 2, height: 5, width: 8, data: d)
        let r = try GlobalDescriptor.describe(hot, pooling: .rmac),
            m = try GlobalDescriptor.describe(hot, pooling: .mac)
        XCTAssertLessThan(r[0], m[0])
        XCTAssertEqual(r.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-5)
    }

    func testCombinationActnetAndScales() throws {
        var o = GlobalOptions(); o.cgdParts = [.mac, .spoc]
        let c = try GlobalDescriptor.describe(map, pooling: .cgd, options: o)
        let mac = try GlobalDescriptor.describe(map, pooling: .mac),
            spoc = try GlobalDescriptor.describe(map, pooling: .spoc)
        XCTAssertEqual(c.count, mac.count + spoc.count)
        for (a, b) in zip(c, (mac + spoc).map { $0 / Float(2).squareRoot() }) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        o.cgdParts = []
        XCTAssertThrowsError(try GlobalDescriptor.describe(map, pooling: .cgd, options: o))
        // ACTNET with γ = 1, a = 1, λ = 2, k = 1, β = 1: mean of x·e^(−x/2).
        var a = GlobalOptions(); a.actA = 1; a.actLambda = 2; a.actK = 1; a.actPower = 1
        let f = { (x: Double) in x * exp(-x / 2) }
        let e0 = (f(1) + f(2) + f(3) + f(4)) / 4, e1 = f(2) / 4
        assertUnit(try GlobalDescriptor.describe(map, pooling: .actnet, options: a), [Float(e0), Float(e1)])
        // Multi-scale: the same map twice gives the single-scale descriptor.
        XCTAssertEqual(try GlobalDescriptor.describe(scales: [map, map], pooling: .gem),
                       try GlobalDescriptor.describe(map, pooling: .gem))
        // Two different scales: the L2-normalised sum of the per-scale descriptors (a version that
        // ignored the second scale would give MAC of the first map alone).
        let other = FeatureMap(channels: 2, height: 1, width: 2, data: [0, 1, 5, 5])
        let m1 = try GlobalDescriptor.describe(map, pooling: .mac),
            m2 = try GlobalDescriptor.describe(other, pooling: .mac)
        assertUnit(try GlobalDescriptor.describe(scales: [map, other], pooling: .mac), zip(m1, m2).map { $0 + $1 })
        XCTAssertThrowsError(try GlobalDescriptor.describe(scales: [], pooling: .mac))
    }
}
