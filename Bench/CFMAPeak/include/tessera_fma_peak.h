#ifndef TESSERA_FMA_PEAK_H
#define TESSERA_FMA_PEAK_H

/// Runs `iterations` rounds of 10 independent fused multiply-adds on the widest float vectors
/// the CPU has (AVX-512, else AVX2+FMA, else SSE) and returns the floating-point operations
/// done (2 per lane per FMA). Timed by the caller on each core: the machine's FMA peak, the
/// yardstick of the forward-pass benchmark.
double tessera_fma_peak_flops(long iterations);

/// The vector width the peak loop used ("avx512", "avx2", "sse").
const char *tessera_fma_peak_isa(void);

#endif
