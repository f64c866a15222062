// Replaces OpenBLAS's kernel when its run-time dispatch (DYNAMIC_ARCH builds) does not know the
// CPU model and falls back to an older core than the CPU's vector units allow. The choice goes
// through OpenBLAS's own mechanism: OPENBLAS_CORETYPE, read by gotoblas_dynamic_init. It runs
// in a constructor, after libopenblas's (shared libraries initialise first) and before any
// BLAS call. OpenBLAS's worker threads are stopped (and joined) around the switch: a worker
// that starts while the kernel table is being replaced would initialise it a second time.
// A user's own OPENBLAS_CORETYPE is always left alone.
#include "tessera_blas_core.h"

#include <stdlib.h>
#include <string.h>

// OpenBLAS exports these only when built with DYNAMIC_ARCH; weak, so other builds still link.
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));
extern char *openblas_get_corename(void) __attribute__((weak));
extern int blas_thread_shutdown_(void) __attribute__((weak));
extern int blas_thread_init(void) __attribute__((weak));

static char detected[32] = "unknown", active[32] = "unknown";
static int replaced = 0;

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

__attribute__((constructor)) static void select_core(void) {
    if (!openblas_get_corename) return;
    copy(detected, openblas_get_corename());
    copy(active, detected);
    if (getenv("OPENBLAS_CORETYPE") || !gotoblas_dynamic_init || !gotoblas_dynamic_quit ||
        !blas_thread_shutdown_ || !blas_thread_init)
        return;
    const char *best = best_core();
    if (!best || rank(detected) >= rank(best)) return;
    setenv("OPENBLAS_CORETYPE", best, 1);
    blas_thread_shutdown_();
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    blas_thread_init();
    unsetenv("OPENBLAS_CORETYPE");
    copy(active, openblas_get_corename());
    replaced = strcmp(active, detected) != 0;
}

tessera_blas_core_info tessera_blas_core(void) {
    tessera_blas_core_info info = {detected, active, replaced};
    return info;
}
