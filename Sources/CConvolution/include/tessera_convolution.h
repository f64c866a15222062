#ifndef TESSERA_CONVOLUTION_H
#define TESSERA_CONVOLUTION_H

/// The machine code that runs a convolution.
typedef enum {
    /// Portable C (the compiler vectorises it for the build's baseline; an AVX2+FMA copy runs
    /// where the CPU has those).
    TESSERA_CONV_PORTABLE = 0,
    /// x86-64 AVX-512 (F): 16 output columns per register, masked loads for the padding
    /// (the fused 1×1 kernel exists only in this form).
    TESSERA_CONV_AVX512 = 1,
} tessera_conv_kernel;

/// The fastest kernel this CPU runs (checked with CPUID once per call; cache it).
tessera_conv_kernel tessera_conv_best_kernel(void);

/// Whether this CPU runs `kernel`.
int tessera_conv_kernel_supported(tessera_conv_kernel kernel);

/// One depthwise k×k convolution on a channel-major (C×H×W) map.
typedef struct {
    const float *input;   ///< C × height × width
    int height, width;
    const float *weights; ///< C × k × k (BatchNorm folded)
    const float *bias;    ///< C
    int kernel;           ///< k (odd: 3 or 5 in EfficientNet)
    int stride;           ///< 1 or 2
    int pad_top, pad_left;///< TF "SAME" padding before the first row and column
    float *output;        ///< C × out_height × out_width
    int out_height, out_width;
} tessera_depthwise_conv;

/// Computes channels [first, end) of `conv`: out(c, y, x) = ReLU6(b_c + Σ_{i,j} w_c(i, j) ·
/// in(c, y·s + i − pad_top, x·s + j − pad_left)), taps outside the map being zero. Channels are
/// independent, so callers split them over threads.
void tessera_depthwise(const tessera_depthwise_conv *conv, int first, int end, tessera_conv_kernel kernel);

/// One full k×k convolution (every output channel sees every input channel) on a
/// channel-major map, for few input channels: the network's stem (3 → 32 channels, 3×3,
/// stride 2). Same padding and layout conventions as `tessera_depthwise_conv`.
typedef struct {
    const float *input;   ///< in_channels × height × width
    int in_channels, height, width;
    const float *weights; ///< out_channels × in_channels × k × k (BatchNorm folded)
    const float *bias;    ///< out_channels
    int out_channels;
    int kernel;           ///< k
    int stride;           ///< 1 or 2
    int pad_top, pad_left;
    int relu6;            ///< 1: clamp the outputs to [0, 6]
    float *output;        ///< out_channels × out_height × out_width
    int out_height, out_width;
} tessera_full_conv;

/// Computes output rows [first, end) of every output channel of `conv`: out(o, y, x) =
/// b_o + Σ_{c,i,j} w_o(c, i, j) · in(c, y·s + i − pad_top, x·s + j − pad_left), then ReLU6 if
/// asked. The AVX-512 kernel keeps the in_channels·k·k input vectors of 16 output columns in
/// registers and runs every output channel over them (in_channels·k·k ≤ 27); other shapes and
/// CPUs run the portable loop.
void tessera_full_conv_rows(const tessera_full_conv *conv, int first, int end, tessera_conv_kernel kernel);

/// Rows of the output per panel of packed pointwise weights (the micro-kernel's height).
enum { TESSERA_POINTWISE_PANEL = 6 };

/// Floats of `tessera_pointwise_pack`'s output for an out_channels × in_channels matrix.
long tessera_pointwise_packed_count(int out_channels, int in_channels);

/// Packs 1×1 convolution weights (out_channels × in_channels, row-major) into panels of
/// TESSERA_POINTWISE_PANEL output channels, each in_channels × PANEL (zero rows pad the last).
void tessera_pointwise_pack(const float *weights, int out_channels, int in_channels, float *packed);

/// One 1×1 convolution as a matrix product with its epilogue fused: Y (out_channels ×
/// positions) = ReLU6?(W · X + b [+ residual]), all channel-major.
typedef struct {
    const float *input;          ///< X: in_channels × positions
    int in_channels, positions;
    const float *packed_weights; ///< W, packed by tessera_pointwise_pack
    const float *bias;           ///< out_channels
    int out_channels;
    const float *residual;       ///< out_channels × positions, added before the ReLU6; or NULL
    int relu6;                   ///< 1: clamp to [0, 6]
    float *output;               ///< out_channels × positions
} tessera_pointwise_conv;

/// Computes output columns (positions) [first, end) of `conv` with the AVX-512 kernel: for
/// each block of 64 columns, X's block is packed (in_channels × 64) and every panel of 6
/// output channels runs a 6×64 micro-kernel (24 accumulators) over it; bias, residual and
/// ReLU6 are applied as the accumulators are stored. Needs AVX-512 (`tessera_conv_kernel_supported`).
void tessera_pointwise_columns(const tessera_pointwise_conv *conv, int first, int end);

#endif
