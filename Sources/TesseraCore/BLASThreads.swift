import COpenBLAS
import COpenBLASCore

/// OpenBLAS's own thread pool. By default every SGEMM splits over all cores, which is right for
/// one query or one image at a time; a process that runs several at once on its own threads
/// (the query server's workers) sets 1, so the workers, not OpenBLAS, share the cores.
public enum BLASThreads {
    public static var count: Int { Int(openblas_get_num_threads()) }
    public static func set(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
}

/// How COpenBLASCore set OpenBLAS up at load time: the kernel in use, whether Tessera chose it
/// because OpenBLAS's own dispatch did not know the CPU, and how long idle workers spin
/// (benchmark reports print the kernel).
public enum BLASCore {
    public static var active: String { String(cString: tessera_blas_core().active) }
    public static var detected: String { String(cString: tessera_blas_core().detected) }
    public static var replaced: Bool { active != detected }
    /// log2 of the cycles an idle OpenBLAS worker spins before sleeping (-1: not known).
    public static var threadTimeout: Int { Int(tessera_blas_core().thread_timeout) }

    /// "SkylakeX", or "Cooperlake (OpenBLAS chose Prescott)" when Tessera replaced the choice.
    public static var summary: String { replaced ? "\(active) (OpenBLAS chose \(detected))" : active }
}
