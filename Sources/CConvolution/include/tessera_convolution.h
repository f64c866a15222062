#ifndef TESSERA_CONVOLUTION_H
#define TESSERA_CONVOLUTION_H

/// The machine code that runs the depthwise convolution.
typedef enum {
    /// Portable C (the compiler vectorises it for the build's baseline; an AVX2+FMA copy runs
    /// where the CPU has those).
    TESSERA_CONV_PORTABLE = 0,
    /// x86-64 AVX-512 (F): 16 output columns per register, masked loads for the padding.
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

#endif
