import CPostingScan

/// The machine code that runs the posting scan's Hamming filter for 128-bit signatures
/// (`tessera_hamming128_filter` in the C target `CPostingScan`; MOF eq. 5–6): it lists the
/// postings of a block whose distance to the query signature is under the HE threshold.
public enum HammingKernel: CaseIterable, Sendable {
    /// Portable C, four postings per branch (POPCNT where the CPU has it).
    case scalar
    /// x86-64 AVX-512 with VPOPCNTDQ: eight postings per iteration.
    case avx512

    /// The fastest kernel this CPU runs.
    public static let best: HammingKernel = tessera_hamming_best_kernel() == TESSERA_HAMMING_AVX512 ? .avx512 : .scalar

    /// Whether this CPU runs the kernel.
    public var isSupported: Bool { tessera_hamming_kernel_supported(c) != 0 }

    var c: tessera_hamming_kernel {
        switch self {
        case .scalar: return TESSERA_HAMMING_SCALAR
        case .avx512: return TESSERA_HAMMING_AVX512
        }
    }
}
