// Prefill products go through cuBLAS on IEEE half tiles (tensor cores, FP32
// accumulation). Half tops out at 65504: an activation row beyond it would
// become inf, and tiny rows lose precision in half's subnormals. So each
// activation row is multiplied by a power of two that brings its largest
// magnitude into [2^13, 2^14) before it is rounded to half, and the row of
// products is multiplied back by the inverse power afterwards. Multiplying by
// a power of two is exact in float and commutes with rounding to half (away
// from half's subnormals and overflow), so a row that fits half already gets
// the very bits it would get unscaled, and any other row keeps half's 11
// significant bits instead of overflowing.
//
// Why not BF16: it has the range but 8 significant bits, which makes every
// rounding of a weight or an activation 8 times coarser than half's; the
// scaling gives the range and keeps half's precision.
//
// Shared by the CUDA kernels and the CPU tests (test_cuda_half_scaling).
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define WORKER_HOST_DEVICE __host__ __device__
#else
#define WORKER_HOST_DEVICE
#endif

namespace worker::cuda {

// The exponent k such that max_abs * 2^k lies in [2^13, 2^14); 0 for a row of
// zeros, or one holding inf or NaN (left as it is, so that it propagates as on
// the CPU).
WORKER_HOST_DEVICE inline int half_scale_exponent(float max_abs) {
    if (!(max_abs > 0.0f) || !(max_abs <= 3.402823466e38f)) return 0;
    int e = 0;
    (void)frexpf(max_abs, &e);  // max_abs = m * 2^e with m in [0.5, 1)
    return 14 - e;
}

}  // namespace worker::cuda

#undef WORKER_HOST_DEVICE
