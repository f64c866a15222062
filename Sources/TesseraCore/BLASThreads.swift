import COpenBLAS

/// OpenBLAS's own thread pool. By default every SGEMM splits over all cores, which is right for
/// one query or one image at a time; a process that runs several at once on its own threads
/// (the query server's workers) sets 1, so the workers, not OpenBLAS, share the cores.
public enum BLASThreads {
    public static var count: Int { Int(openblas_get_num_threads()) }
    public static func set(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
}
