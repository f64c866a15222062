#ifndef TESSERA_BLAS_CORE_H
#define TESSERA_BLAS_CORE_H

/// How OpenBLAS was set up when the process started (tessera_blas_core.c says why).
typedef struct {
    /// The kernel OpenBLAS's own dispatch picked (e.g. "Prescott", "SkylakeX").
    const char *detected;
    /// The kernel in use now. It differs from `detected` when Tessera replaced it: OpenBLAS did
    /// not know the CPU model and fell back to a kernel without the vector units the CPU has
    /// (OpenBLAS 0.3.21, Debian 12's, takes Emerald Rapids for a 2004 Prescott and runs SGEMM
    /// 6× slower).
    const char *active;
    /// log2 of the cycles an idle OpenBLAS worker spins before it sleeps (-1: not known).
    int thread_timeout;
} tessera_blas_core_info;

/// The choice made at load time (a constructor runs it before `main`).
tessera_blas_core_info tessera_blas_core(void);

#endif
