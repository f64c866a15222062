// The forward pass's convolution kernels (see tessera_convolution.h): portable loops and, on
// x86-64 CPUs that have it, AVX-512 ones, chosen at run time. All read the input in place: the
// zero padding is a range of columns skipped (portable) or lanes masked off (AVX-512), never
// a copy.
#include "tessera_convolution.h"

#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define TESSERA_X86 1
#endif

static inline int min_int(int a, int b) { return a < b ? a : b; }
static inline int max_int(int a, int b) { return a > b ? a : b; }
static inline float relu6(float x) { return x < 0 ? 0 : (x > 6 ? 6 : x); }

/// The full convolution's portable loop: per output channel and row, each (input channel,
/// tap) is one multiply-add over the run of output columns whose input column lies inside.
static inline __attribute__((always_inline)) void full_portable(const tessera_full_conv *p, int first, int end) {
    const int k = p->kernel, s = p->stride, H = p->height, W = p->width, OH = p->out_height, OW = p->out_width;
    for (int o = 0; o < p->out_channels; o++) {
        const float *w = p->weights + (long)o * p->in_channels * k * k;
        for (int oy = first; oy < end; oy++) {
            float *restrict out = p->output + ((long)o * OH + oy) * OW;
            for (int x = 0; x < OW; x++) out[x] = p->bias[o];
            for (int c = 0; c < p->in_channels; c++)
                for (int ky = 0; ky < k; ky++) {
                    const int iy = oy * s + ky - p->pad_top;
                    if (iy < 0 || iy >= H) continue;
                    const float *restrict row = p->input + ((long)c * H + iy) * W;
                    for (int kx = 0; kx < k; kx++) {
                        const float wk = w[(c * k + ky) * k + kx];
                        const int shift = kx - p->pad_left, last = W - 1 - shift;
                        const int lo = shift >= 0 ? 0 : (-shift + s - 1) / s;
                        const int hi = last < 0 ? 0 : min_int(OW, last / s + 1);
                        for (int x = lo; x < hi; x++) out[x] += wk * row[x * s + shift];
                    }
                }
            if (p->relu6)
                for (int x = 0; x < OW; x++) out[x] = relu6(out[x]);
        }
    }
}

/// The depthwise convolution's portable loop: each channel is a full convolution of one
/// input channel to one output channel.
static inline __attribute__((always_inline)) void
depthwise_portable(const tessera_depthwise_conv *p, int first, int end) {
    const int k = p->kernel, H = p->height, W = p->width, OH = p->out_height, OW = p->out_width;
    for (int c = first; c < end; c++) {
        const tessera_full_conv one = {
            .input = p->input + (long)c * H * W, .in_channels = 1, .height = H, .width = W,
            .weights = p->weights + (long)c * k * k, .bias = p->bias + c, .out_channels = 1, .kernel = k,
            .stride = p->stride, .pad_top = p->pad_top, .pad_left = p->pad_left, .relu6 = 1,
            .output = p->output + (long)c * OH * OW, .out_height = OH, .out_width = OW,
        };
        full_portable(&one, 0, OH);
    }
}

static void full_baseline(const tessera_full_conv *p, int first, int end) { full_portable(p, first, end); }

static void depthwise_baseline(const tessera_depthwise_conv *p, int first, int end) {
    depthwise_portable(p, first, end);
}

#if TESSERA_X86
__attribute__((target("avx2,fma"))) static void depthwise_avx2(const tessera_depthwise_conv *p, int first, int end) {
    depthwise_portable(p, first, end);
}

__attribute__((target("avx2,fma"))) static void full_avx2(const tessera_full_conv *p, int first, int end) {
    full_portable(p, first, end);
}

/// Lanes l of a 16-float load at column `at` that fall inside [0, W).
__attribute__((target("avx512f"))) static inline __mmask16 inside(int at, int W) {
    const int lo = max_int(0, -at), hi = min_int(16, W - at);
    return hi <= lo ? 0 : (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

enum { MAX_TILE_ROWS = 8, MAX_TILE_VECTORS = 3 };

/// Tiles of `rows_per_tile` output rows × 16·`vectors` output columns (8 or 9 accumulators,
/// enough independent FMAs to hide their latency), for channels [first, end). Each input row
/// a tile needs is loaded once per tap column and feeds every output row of the tile that uses
/// it. Masked loads supply the padding's zeros (their masks depend only on the tile's
/// columns, so they are made once per tile), and masked stores end each row. Inlined with
/// constant tile shapes and strides, so the accumulators live in registers.
__attribute__((target("avx512f"), always_inline)) static inline void
depthwise_tiles(const tessera_depthwise_conv *p, int first, int end, const int rows_per_tile, const int vectors,
                const int s) {
    const int k = p->kernel, H = p->height, W = p->width, OH = p->out_height, OW = p->out_width;
    const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int c = first; c < end; c++) {
        const float *in = p->input + (long)c * H * W, *w = p->weights + (long)c * k * k;
        const __m512 b = _mm512_set1_ps(p->bias[c]);
        float *out = p->output + (long)c * OH * OW;
        for (int oy0 = 0; oy0 < OH; oy0 += rows_per_tile) {
            const int rows = min_int(rows_per_tile, OH - oy0), span = (rows - 1) * s + k;
            for (int x0 = 0; x0 < OW; x0 += 16 * vectors) {
                // Lanes inside the map of the loads of tap column kx, vector v (two per vector
                // for stride 2: columns at, at+2, … at+30 span two registers).
                __mmask16 mask[5][MAX_TILE_VECTORS][2];
                for (int kx = 0; kx < k; kx++)
                    for (int v = 0; v < vectors; v++) {
                        const int at = (x0 + 16 * v) * s + kx - p->pad_left;
                        mask[kx][v][0] = inside(at, W);
                        mask[kx][v][1] = inside(at + 16, W);
                    }
                __m512 acc[MAX_TILE_ROWS][MAX_TILE_VECTORS];
                for (int j = 0; j < rows_per_tile; j++)
                    for (int v = 0; v < vectors; v++) acc[j][v] = b;
                for (int r = 0; r < span; r++) {
                    const int iy = oy0 * s - p->pad_top + r;
                    if (iy < 0 || iy >= H) continue;
                    const float *row = in + (long)iy * W;
                    for (int kx = 0; kx < k; kx++) {
                        __m512 x[MAX_TILE_VECTORS];
                        for (int v = 0; v < vectors; v++) {
                            const float *at = row + (x0 + 16 * v) * s + kx - p->pad_left;
                            const __m512 lo = _mm512_maskz_loadu_ps(mask[kx][v][0], at);
                            x[v] = s == 1 ? lo
                                          : _mm512_permutex2var_ps(lo, even,
                                                                   _mm512_maskz_loadu_ps(mask[kx][v][1], at + 16));
                        }
                        for (int j = 0; j < rows_per_tile; j++) {
                            const int ky = r - j * s;                 // output row oy0 + j uses tap row ky
                            if (j >= rows || ky < 0 || ky >= k) continue;
                            const __m512 wk = _mm512_set1_ps(w[ky * k + kx]);
                            for (int v = 0; v < vectors; v++) acc[j][v] = _mm512_fmadd_ps(wk, x[v], acc[j][v]);
                        }
                    }
                }
                for (int j = 0; j < rows; j++)
                    for (int v = 0; v < vectors; v++) {
                        const int n = min_int(16, OW - x0 - 16 * v);
                        if (n <= 0) break;
                        const __m512 y = _mm512_min_ps(_mm512_max_ps(acc[j][v], zero), six);
                        _mm512_mask_storeu_ps(out + (long)(oy0 + j) * OW + x0 + 16 * v, (__mmask16)((1u << n) - 1), y);
                    }
            }
        }
    }
}

#define DEPTHWISE_SHAPE(rows, vectors)                                                                           \
    __attribute__((target("avx512f"))) static void depthwise_##rows##x##vectors(                                 \
        const tessera_depthwise_conv *p, int first, int end) {                                                   \
        if (p->stride == 1) depthwise_tiles(p, first, end, rows, vectors, 1);                                    \
        else depthwise_tiles(p, first, end, rows, vectors, 2);                                                   \
    }
DEPTHWISE_SHAPE(8, 1)
DEPTHWISE_SHAPE(4, 2)
DEPTHWISE_SHAPE(3, 3)

/// Rows of up to 48 columns take one tile across (16 × 8, 32 × 4 or 48 × 3: no lanes wasted
/// beyond the row's last vector); wider rows take 32 × 4 tiles (measured faster than 64 × 2).
__attribute__((target("avx512f"))) static void depthwise_avx512(const tessera_depthwise_conv *p, int first, int end) {
    switch ((p->out_width + 15) / 16) {
    case 1: depthwise_8x1(p, first, end); break;
    case 3: depthwise_3x3(p, first, end); break;
    default: depthwise_4x2(p, first, end); break;
    }
}

enum { FULL_MAX_TAPS = 27 };

/// 16 output columns at a time: the in_channels·k·k input vectors they need are loaded once
/// (masked at the padding; stride 2 keeps the even lanes of two loads) into registers, then
/// every output channel is one chain of FMAs over them with broadcast weights.
__attribute__((target("avx512f"))) static void full_avx512(const tessera_full_conv *p, int first, int end) {
    const int k = p->kernel, s = p->stride, H = p->height, W = p->width, OH = p->out_height, OW = p->out_width;
    const int C = p->in_channels, taps = C * k * k;
    const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int oy = first; oy < end; oy++) {
        for (int x0 = 0; x0 < OW; x0 += 16) {
            __m512 x[FULL_MAX_TAPS];
            for (int c = 0, t = 0; c < C; c++)
                for (int ky = 0; ky < k; ky++) {
                    const int iy = oy * s + ky - p->pad_top;
                    const float *row = p->input + ((long)c * H + iy) * W;
                    for (int kx = 0; kx < k; kx++, t++) {
                        const int at = x0 * s + kx - p->pad_left;
                        if (iy < 0 || iy >= H) {
                            x[t] = zero;
                        } else if (s == 1) {
                            x[t] = _mm512_maskz_loadu_ps(inside(at, W), row + at);
                        } else {
                            const __m512 lo = _mm512_maskz_loadu_ps(inside(at, W), row + at);
                            const __m512 hi = _mm512_maskz_loadu_ps(inside(at + 16, W), row + at + 16);
                            x[t] = _mm512_permutex2var_ps(lo, even, hi);
                        }
                    }
                }
            const __mmask16 store = (__mmask16)((1u << min_int(16, OW - x0)) - 1);
            for (int o = 0; o < p->out_channels; o++) {
                const float *w = p->weights + (long)o * taps;
                __m512 a0 = _mm512_set1_ps(p->bias[o]), a1 = zero, a2 = zero;
                int t = 0;
                for (; t + 3 <= taps; t += 3) {
                    a0 = _mm512_fmadd_ps(_mm512_set1_ps(w[t]), x[t], a0);
                    a1 = _mm512_fmadd_ps(_mm512_set1_ps(w[t + 1]), x[t + 1], a1);
                    a2 = _mm512_fmadd_ps(_mm512_set1_ps(w[t + 2]), x[t + 2], a2);
                }
                for (; t < taps; t++) a0 = _mm512_fmadd_ps(_mm512_set1_ps(w[t]), x[t], a0);
                __m512 y = _mm512_add_ps(a0, _mm512_add_ps(a1, a2));
                if (p->relu6) y = _mm512_min_ps(_mm512_max_ps(y, zero), six);
                _mm512_mask_storeu_ps(p->output + ((long)o * OH + oy) * OW + x0, store, y);
            }
        }
    }
}
enum { POINTWISE_COLUMNS = 64 };

/// The 6×64 micro-kernel: acc(i, ·) += Σ_k a(k, i) · b(k, ·) over the packed panels `a`
/// (K × 6) and `b` (K × 64), then the epilogue, into the rows of `out` that exist.
__attribute__((target("avx512f"))) static void pointwise_tile(const tessera_pointwise_conv *p, const float *a,
                                                              const float *b, int row0, int col0, int cols) {
    const int K = p->in_channels, N = p->positions;
    __m512 acc[TESSERA_POINTWISE_PANEL][4];
    for (int i = 0; i < TESSERA_POINTWISE_PANEL; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const float *bk = b + (long)k * POINTWISE_COLUMNS, *ak = a + (long)k * TESSERA_POINTWISE_PANEL;
        const __m512 b0 = _mm512_loadu_ps(bk), b1 = _mm512_loadu_ps(bk + 16), b2 = _mm512_loadu_ps(bk + 32),
                     b3 = _mm512_loadu_ps(bk + 48);
        for (int i = 0; i < TESSERA_POINTWISE_PANEL; i++) {
            const __m512 ai = _mm512_set1_ps(ak[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(ai, b2, acc[i][2]);
            acc[i][3] = _mm512_fmadd_ps(ai, b3, acc[i][3]);
        }
    }
    const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6);
    for (int i = 0; i < TESSERA_POINTWISE_PANEL && row0 + i < p->out_channels; i++) {
        const int row = row0 + i;
        const __m512 bias = _mm512_set1_ps(p->bias[row]);
        for (int j = 0; j < 4 && 16 * j < cols; j++) {
            const __mmask16 m = (__mmask16)((1u << min_int(16, cols - 16 * j)) - 1);
            const long at = (long)row * N + col0 + 16 * j;
            __m512 y = _mm512_add_ps(acc[i][j], bias);
            if (p->residual) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(m, p->residual + at));
            if (p->relu6) y = _mm512_min_ps(_mm512_max_ps(y, zero), six);
            _mm512_mask_storeu_ps(p->output + at, m, y);
        }
    }
}

/// Columns of X packed at a time: as many 64-column blocks as fit in about 256 KiB of L2
/// (K × columns floats), at least one, at most 16.
static int pointwise_chunk(int K) {
    const int blocks = (256 * 1024 / 4) / (K * POINTWISE_COLUMNS);
    return POINTWISE_COLUMNS * max_int(1, min_int(16, blocks));
}

/// For each chunk of columns: pack X's chunk (K × 64 per block, zero-padded), then run every
/// panel of output channels over the chunk's blocks, so each output row is written in runs of
/// up to 1,024 columns and each weight panel stays in L1 across the blocks.
__attribute__((target("avx512f"))) static void pointwise_avx512(const tessera_pointwise_conv *p, int first, int end,
                                                                float *packed) {
    const int K = p->in_channels, N = p->positions, M = p->out_channels, chunk = pointwise_chunk(K);
    const long panelFloats = (long)K * TESSERA_POINTWISE_PANEL, blockFloats = (long)K * POINTWISE_COLUMNS;
    for (int c0 = first; c0 < end; c0 += chunk) {
        const int c1 = min_int(end, c0 + chunk);
        for (int col0 = c0, blk = 0; col0 < c1; col0 += POINTWISE_COLUMNS, blk++) {
            const int cols = min_int(POINTWISE_COLUMNS, c1 - col0);
            for (int k = 0; k < K; k++) {
                const float *x = p->input + (long)k * N + col0;
                float *d = packed + blk * blockFloats + (long)k * POINTWISE_COLUMNS;
                for (int j = 0; j < 4; j++) {
                    const int n = min_int(16, cols - 16 * j);
                    const __mmask16 m = n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
                    _mm512_storeu_ps(d + 16 * j, _mm512_maskz_loadu_ps(m, x + 16 * j));
                }
            }
        }
        for (int row0 = 0, q = 0; row0 < M; row0 += TESSERA_POINTWISE_PANEL, q++)
            for (int col0 = c0, blk = 0; col0 < c1; col0 += POINTWISE_COLUMNS, blk++)
                pointwise_tile(p, p->packed_weights + q * panelFloats, packed + blk * blockFloats, row0, col0,
                               min_int(POINTWISE_COLUMNS, c1 - col0));
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

void tessera_full_conv_rows(const tessera_full_conv *conv, int first, int end, tessera_conv_kernel kernel) {
#if TESSERA_X86
    if (kernel == TESSERA_CONV_AVX512 && conv->in_channels * conv->kernel * conv->kernel <= FULL_MAX_TAPS &&
        tessera_conv_kernel_supported(kernel)) {
        full_avx512(conv, first, end);
        return;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        full_avx2(conv, first, end);
        return;
    }
#endif
    (void)kernel;
    full_baseline(conv, first, end);
}

long tessera_pointwise_packed_count(int out_channels, int in_channels) {
    const long panels = (out_channels + TESSERA_POINTWISE_PANEL - 1) / TESSERA_POINTWISE_PANEL;
    return panels * TESSERA_POINTWISE_PANEL * in_channels;
}

void tessera_pointwise_pack(const float *weights, int out_channels, int in_channels, float *packed) {
    const long panels = (out_channels + TESSERA_POINTWISE_PANEL - 1) / TESSERA_POINTWISE_PANEL;
    for (long q = 0; q < panels; q++)
        for (int k = 0; k < in_channels; k++)
            for (int i = 0; i < TESSERA_POINTWISE_PANEL; i++) {
                const long row = q * TESSERA_POINTWISE_PANEL + i;
                packed[(q * in_channels + k) * TESSERA_POINTWISE_PANEL + i] =
                    row < out_channels ? weights[row * in_channels + k] : 0;
            }
}

void tessera_pointwise_columns(const tessera_pointwise_conv *conv, int first, int end) {
#if TESSERA_X86
    float *packed = malloc(sizeof(float) * (size_t)conv->in_channels * (size_t)pointwise_chunk(conv->in_channels));
    if (!packed) abort();
    pointwise_avx512(conv, first, end, packed);
    free(packed);
#else
    (void)conv, (void)first, (void)end;
    abort();
#endif
}
