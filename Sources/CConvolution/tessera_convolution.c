// Depthwise convolution (see tessera_convolution.h): a portable loop and, on x86-64 CPUs that
// have it, an AVX-512 one, chosen at run time. Both read the input in place: the zero padding
// is a range of columns skipped (portable) or lanes masked off (AVX-512), never a copy.
#include "tessera_convolution.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define TESSERA_X86 1
#endif

static inline int min_int(int a, int b) { return a < b ? a : b; }
static inline int max_int(int a, int b) { return a > b ? a : b; }
static inline float relu6(float x) { return x < 0 ? 0 : (x > 6 ? 6 : x); }

/// One channel, one output row at a time: each tap is one multiply-add over the run of output
/// columns whose input column lies inside the map (the others read padding, i.e. zero).
static inline __attribute__((always_inline)) void
depthwise_portable(const tessera_depthwise_conv *p, int first, int end) {
    const int k = p->kernel, s = p->stride, H = p->height, W = p->width, OH = p->out_height, OW = p->out_width;
    for (int c = first; c < end; c++) {
        const float *in = p->input + (long)c * H * W, *w = p->weights + (long)c * k * k;
        const float b = p->bias[c];
        float *out = p->output + (long)c * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            float *restrict o = out + (long)oy * OW;
            for (int x = 0; x < OW; x++) o[x] = b;
            for (int ky = 0; ky < k; ky++) {
                const int iy = oy * s + ky - p->pad_top;
                if (iy < 0 || iy >= H) continue;
                const float *restrict row = in + (long)iy * W;
                for (int kx = 0; kx < k; kx++) {
                    const float wk = w[ky * k + kx];
                    const int shift = kx - p->pad_left;           // input column = x·s + shift
                    const int lo = shift >= 0 ? 0 : (-shift + s - 1) / s;
                    const int last = W - 1 - shift;                // x·s ≤ last
                    const int hi = last < 0 ? 0 : min_int(OW, last / s + 1);
                    if (s == 1) {
                        for (int x = lo; x < hi; x++) o[x] += wk * row[x + shift];
                    } else {
                        for (int x = lo; x < hi; x++) o[x] += wk * row[2 * x + shift];
                    }
                }
            }
            for (int x = 0; x < OW; x++) o[x] = relu6(o[x]);
        }
    }
}

static void depthwise_baseline(const tessera_depthwise_conv *p, int first, int end) {
    depthwise_portable(p, first, end);
}

#if TESSERA_X86
__attribute__((target("avx2,fma"))) static void depthwise_avx2(const tessera_depthwise_conv *p, int first, int end) {
    depthwise_portable(p, first, end);
}

/// Lanes l of a 16-float load at column `at` that fall inside [0, W).
__attribute__((target("avx512f"))) static inline __mmask16 inside(int at, int W) {
    const int lo = max_int(0, -at), hi = min_int(16, W - at);
    return hi <= lo ? 0 : (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

enum { TILE_ROWS = 4, TILE_VECTORS = 2 };

/// A tile of 4 output rows × 32 output columns (8 accumulators, enough independent FMAs to
/// hide their latency) at a time: each input row the tile needs is loaded once per tap column
/// and feeds every output row of the tile that uses it. Masked loads supply the padding's
/// zeros (their masks depend only on the tile's columns, so they are made once per tile),
/// and masked stores end each row.
__attribute__((target("avx512f"))) static void depthwise_avx512(const tessera_depthwise_conv *p, int first, int end) {
    const int k = p->kernel, s = p->stride, H = p->height, W = p->width, OH = p->out_height, OW = p->out_width;
    const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int c = first; c < end; c++) {
        const float *in = p->input + (long)c * H * W, *w = p->weights + (long)c * k * k;
        const __m512 b = _mm512_set1_ps(p->bias[c]);
        float *out = p->output + (long)c * OH * OW;
        for (int oy0 = 0; oy0 < OH; oy0 += TILE_ROWS) {
            const int rows = min_int(TILE_ROWS, OH - oy0), span = (rows - 1) * s + k;
            for (int x0 = 0; x0 < OW; x0 += 16 * TILE_VECTORS) {
                // Lanes inside the map of the loads of tap column kx, vector v (two per vector
                // for stride 2: columns at, at+2, … at+30 span two registers).
                __mmask16 mask[5][TILE_VECTORS][2];
                for (int kx = 0; kx < k; kx++)
                    for (int v = 0; v < TILE_VECTORS; v++) {
                        const int at = (x0 + 16 * v) * s + kx - p->pad_left;
                        mask[kx][v][0] = inside(at, W);
                        mask[kx][v][1] = inside(at + 16, W);
                    }
                __m512 acc[TILE_ROWS][TILE_VECTORS];
                for (int j = 0; j < TILE_ROWS; j++)
                    for (int v = 0; v < TILE_VECTORS; v++) acc[j][v] = b;
                for (int r = 0; r < span; r++) {
                    const int iy = oy0 * s - p->pad_top + r;
                    if (iy < 0 || iy >= H) continue;
                    const float *row = in + (long)iy * W;
                    for (int kx = 0; kx < k; kx++) {
                        __m512 x[TILE_VECTORS];
                        for (int v = 0; v < TILE_VECTORS; v++) {
                            const float *at = row + (x0 + 16 * v) * s + kx - p->pad_left;
                            const __m512 lo = _mm512_maskz_loadu_ps(mask[kx][v][0], at);
                            x[v] = s == 1 ? lo
                                          : _mm512_permutex2var_ps(lo, even,
                                                                   _mm512_maskz_loadu_ps(mask[kx][v][1], at + 16));
                        }
                        for (int j = 0; j < TILE_ROWS; j++) {
                            const int ky = r - j * s;                 // output row oy0 + j uses tap row ky
                            if (j >= rows || ky < 0 || ky >= k) continue;
                            const __m512 wk = _mm512_set1_ps(w[ky * k + kx]);
                            for (int v = 0; v < TILE_VECTORS; v++) acc[j][v] = _mm512_fmadd_ps(wk, x[v], acc[j][v]);
                        }
                    }
                }
                for (int j = 0; j < rows; j++)
                    for (int v = 0; v < TILE_VECTORS; v++) {
                        const int n = min_int(16, OW - x0 - 16 * v);
                        if (n <= 0) break;
                        const __m512 y = _mm512_min_ps(_mm512_max_ps(acc[j][v], zero), six);
                        _mm512_mask_storeu_ps(out + (long)(oy0 + j) * OW + x0 + 16 * v, (__mmask16)((1u << n) - 1), y);
                    }
            }
        }
    }
}
#endif

int tessera_conv_kernel_supported(tessera_conv_kernel kernel) {
    switch (kernel) {
    case TESSERA_CONV_PORTABLE:
        return 1;
    case TESSERA_CONV_AVX512:
#if TESSERA_X86
        return __builtin_cpu_supports("avx512f");
#else
        return 0;
#endif
    }
    return 0;
}

tessera_conv_kernel tessera_conv_best_kernel(void) {
    return tessera_conv_kernel_supported(TESSERA_CONV_AVX512) ? TESSERA_CONV_AVX512 : TESSERA_CONV_PORTABLE;
}

void tessera_depthwise(const tessera_depthwise_conv *conv, int first, int end, tessera_conv_kernel kernel) {
#if TESSERA_X86
    if (kernel == TESSERA_CONV_AVX512 && conv->kernel <= 5 && tessera_conv_kernel_supported(kernel)) {
        depthwise_avx512(conv, first, end);
        return;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        depthwise_avx2(conv, first, end);
        return;
    }
#endif
    (void)kernel;
    depthwise_baseline(conv, first, end);
}
