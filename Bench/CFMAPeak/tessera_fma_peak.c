// The FMA peak loop (see tessera_fma_peak.h). Ten accumulators: more than the FMA latency
// (4 cycles) times the FMA units (2), so the loop runs at throughput.
#include "tessera_fma_peak.h"

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f"))) static float peak512(long n) {
    __m512 a[10];
    for (int j = 0; j < 10; j++) a[j] = _mm512_set1_ps(0.001f * j);
    const __m512 x = _mm512_set1_ps(0.9999f), y = _mm512_set1_ps(1e-6f);
    for (long i = 0; i < n; i++)
        for (int j = 0; j < 10; j++) a[j] = _mm512_fmadd_ps(a[j], x, y);
    __m512 s = a[0];
    for (int j = 1; j < 10; j++) s = _mm512_add_ps(s, a[j]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float peak256(long n) {
    __m256 a[10];
    for (int j = 0; j < 10; j++) a[j] = _mm256_set1_ps(0.001f * j);
    const __m256 x = _mm256_set1_ps(0.9999f), y = _mm256_set1_ps(1e-6f);
    for (long i = 0; i < n; i++)
        for (int j = 0; j < 10; j++) a[j] = _mm256_fmadd_ps(a[j], x, y);
    __m256 s = a[0];
    for (int j = 1; j < 10; j++) s = _mm256_add_ps(s, a[j]);
    float o[8];
    _mm256_storeu_ps(o, s);
    return o[0];
}
#endif

static volatile float sink;

static float peak_portable(long n) {
    float a[4][10];
    for (int l = 0; l < 4; l++)
        for (int j = 0; j < 10; j++) a[l][j] = 0.001f * j;
    for (long i = 0; i < n; i++)
        for (int j = 0; j < 10; j++)
            for (int l = 0; l < 4; l++) a[l][j] = a[l][j] * 0.9999f + 1e-6f;
    return a[0][0] + a[3][9];
}

const char *tessera_fma_peak_isa(void) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) return "avx512";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
#endif
    return "sse";
}

double tessera_fma_peak_flops(long iterations) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) {
        sink = peak512(iterations);
        return 2.0 * 16 * 10 * iterations;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        sink = peak256(iterations);
        return 2.0 * 8 * 10 * iterations;
    }
#endif
    sink = peak_portable(iterations);
    return 2.0 * 4 * 10 * iterations;
}
