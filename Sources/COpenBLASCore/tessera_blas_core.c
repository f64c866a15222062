// Sets up OpenBLAS's pthread build for a process whose other work runs on its own threads, in
// a constructor: after libopenblas's (shared libraries initialise first), before any BLAS call.
//  1. The kernel: when OpenBLAS's run-time dispatch (DYNAMIC_ARCH) does not know the CPU model
//     and falls back to an older core than the CPU's vector units allow, the core is chosen
//     again through OpenBLAS's own mechanism, OPENBLAS_CORETYPE (read by gotoblas_dynamic_init).
//  2. The workers' spin: after each call OpenBLAS's idle workers spin (sched_yield) for
//     2^OPENBLAS_THREAD_TIMEOUT cycles, 2^28 (about 0.1 s) by default, and the forward pass's
//     own parallel stages (depthwise, stem, pooling) run between SGEMMs a few ms apart, so the
//     spinning workers take half the cores from them. Tessera sets the minimum, 2^4: workers
//     sleep at once and are woken for the next SGEMM.
// The worker threads are stopped (joined) around both changes: a worker that starts while the
// kernel table is replaced would initialise it a second time, and the timeout is read when the
// threads start. A user's own OPENBLAS_CORETYPE or OPENBLAS_THREAD_TIMEOUT is left alone.
#include "tessera_blas_core.h"

#include <stdlib.h>
#include <string.h>

// OpenBLAS exports these only when built with DYNAMIC_ARCH; weak, so other builds still link.
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));
extern char *openblas_get_corename(void) __attribute__((weak));
extern int blas_thread_shutdown_(void) __attribute__((weak));
extern int blas_thread_init(void) __attribute__((weak));
extern void openblas_read_env(void) __attribute__((weak));
extern int openblas_thread_timeout(void) __attribute__((weak));

static char detected[32] = "unknown", active[32] = "unknown";

/// Rank of a core by the vector units its kernels use (0: SSE only, or a name not listed).
static int rank(const char *core) {
    static const struct { const char *name; int rank; } cores[] = {
        {"Sandybridge", 1}, {"Haswell", 2}, {"Zen", 2}, {"SkylakeX", 3}, {"Cooperlake", 4},
        {"SapphireRapids", 5},
    };
    for (size_t i = 0; i < sizeof cores / sizeof *cores; i++)
        if (strcmp(core, cores[i].name) == 0) return cores[i].rank;
    return 0;
}

/// The best core of OpenBLAS 0.3.21's list this CPU runs, by its features (the OS's support for
/// the AVX and AVX-512 register state included: __builtin_cpu_supports checks XGETBV).
static const char *best_core(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
        return __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX";
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    if (__builtin_cpu_supports("avx")) return "Sandybridge";
#endif
    return NULL;
}

static void copy(char *to, const char *from) {
    strncpy(to, from ? from : "unknown", 31);
    to[31] = 0;
}

/// OPENBLAS_THREAD_TIMEOUT's value when the user sets none (log2 of cycles; OpenBLAS's minimum).
static const char *const worker_spin = "4";

__attribute__((constructor)) static void set_up_openblas(void) {
    if (!openblas_get_corename) return;
    copy(detected, openblas_get_corename());
    copy(active, detected);
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit || !blas_thread_shutdown_ || !blas_thread_init ||
        !openblas_read_env)
        return;
    const char *best = getenv("OPENBLAS_CORETYPE") ? NULL : best_core();
    const int replace = best && rank(detected) < rank(best), respin = !getenv("OPENBLAS_THREAD_TIMEOUT");
    if (!replace && !respin) return;
    blas_thread_shutdown_();
    if (replace) {
        setenv("OPENBLAS_CORETYPE", best, 1);
        gotoblas_dynamic_quit();
        gotoblas_dynamic_init();
        unsetenv("OPENBLAS_CORETYPE");
        copy(active, openblas_get_corename());
    }
    if (respin) {
        setenv("OPENBLAS_THREAD_TIMEOUT", worker_spin, 1);
        openblas_read_env();
        unsetenv("OPENBLAS_THREAD_TIMEOUT");
    }
    blas_thread_init();
}

tessera_blas_core_info tessera_blas_core(void) {
    const int timeout = openblas_thread_timeout ? openblas_thread_timeout() : -1;
    tessera_blas_core_info info = {detected, active, timeout};
    return info;
}
