import Foundation
import TesseraCore
import XCTest

/// OpenBLAS's kernel uses the vector units the CPU has, even where OpenBLAS's own dispatch does
/// not know the CPU model (Debian 12's 0.3.21 runs Emerald Rapids as a 2004 Prescott, with
/// SGEMM, 88% of the forward pass, 6× slower).
final class BLASCoreTests: XCTestCase {
    func testTheKernelMatchesTheCPUsVectorUnits() throws {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil else {
            throw XCTSkip("OPENBLAS_CORETYPE chooses the kernel")
        }
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            throw XCTSkip("no /proc/cpuinfo")
        }
        let flags = Set(flagLine.split(separator: " ").map(String.init))
        let avx512 = ["SkylakeX", "Cooperlake", "SapphireRapids"]
        if ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) {
            XCTAssert(avx512.contains(BLASCore.active), "AVX-512 CPU runs OpenBLAS kernel \(BLASCore.summary)")
        } else if flags.contains("avx2"), flags.contains("fma") {
            XCTAssert((["Haswell", "Zen"] + avx512).contains(BLASCore.active),
                      "AVX2 CPU runs OpenBLAS kernel \(BLASCore.summary)")
        }
        XCTAssertEqual(BLASCore.replaced, BLASCore.active != BLASCore.detected)
    }

    /// Idle OpenBLAS workers sleep at once instead of spinning for 2^28 cycles, which took half
    /// the cores from the forward pass's own parallel stages between SGEMMs.
    func testIdleWorkersDoNotSpin() throws {
        guard ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"] == nil else {
            throw XCTSkip("OPENBLAS_THREAD_TIMEOUT sets the spin")
        }
        XCTAssertEqual(BLASCore.threadTimeout, 4)
    }
}
