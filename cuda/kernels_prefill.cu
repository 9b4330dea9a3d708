// Activations for the cuBLAS prefill products: rounded to IEEE half after a
// per-row power-of-two scale (half_scaling.h), and the products scaled back.
#include <cuda_fp16.h>

#include <algorithm>

#include "core/error.h"
#include "cuda_check.h"
#include "device_util.cuh"
#include "half_scaling.h"
#include "kernels.h"

namespace worker::cuda {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float block_max(float v, float* shared) {
    const int lane = threadIdx.x % 32;
    const int warp = threadIdx.x / 32;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < static_cast<int>(blockDim.x / 32) ? shared[lane] : 0.0f;
    return warp_max(v);
}

// Element c of row r of the input: a float row, or the value d * q of an
// 8-bit activation block (the rounding the matrix-vector path and the CPU use).
struct FloatRows {
    const float* x;
    int64_t stride;
    __device__ float operator()(int64_t r, int64_t c) const { return x[r * stride + c]; }
};
struct Q8Rows {
    const BlockQ8Act* xq;
    int64_t cols;
    __device__ float operator()(int64_t r, int64_t c) const {
        const BlockQ8Act& b = xq[(r * cols + c) / 32];
        return b.d * static_cast<float>(b.qs[c % 32]);
    }
};

// One block per row: the row's largest magnitude gives its exponent, then
// every element is scaled and rounded to half into out[r * cols + c].
template <typename Rows>
__global__ void __launch_bounds__(kThreads) to_half_scaled_kernel(Rows rows, int64_t cols, __half* out,
                                                                  int32_t* exponents) {
    __shared__ float shared[32];
    const int64_t r = blockIdx.x;
    float m = 0.0f;
    // fmaxf passes over NaN: a NaN element stays NaN whatever the scale, and
    // its products are NaN as on the CPU. An inf gives the exponent 0.
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, fabsf(rows(r, c)));
    m = block_max(m, shared);
    const int e = half_scale_exponent(m);
    if (threadIdx.x == 0) exponents[r] = e;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) out[r * cols + c] = __float2half_rn(ldexpf(rows(r, c), e));
}

// out[r][c] *= 2^-exponents[r] for the [rows][cols] products.
__global__ void unscale_rows_kernel(float* out, int64_t stride, int64_t cols, int64_t rows, const int32_t* exponents) {
    const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
        const int e = exponents[r];
        if (e != 0) out[r * stride + c] = ldexpf(out[r * stride + c], -e);
    }
}

void check_rows(int64_t rows, const char* op) {
    if (rows > 0x7FFFFFFF) fail(CUDA_ERROR_INFERENCE_FAILED, op, ": ", rows, " rows exceed the launch grid");
}

}  // namespace

void launch_to_half_scaled(const float* x, int64_t stride, int64_t cols, int64_t rows, uint16_t* out,
                           int32_t* exponents, cudaStream_t stream) {
    if (cols <= 0 || rows <= 0) return;
    check_rows(rows, "half conversion");
    to_half_scaled_kernel<FloatRows><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
        FloatRows{x, stride}, cols, reinterpret_cast<__half*>(out), exponents);
    check_launch("to_half_scaled_kernel<float>");
}

void launch_q8_to_half_scaled(const BlockQ8Act* xq, int64_t cols, int64_t rows, uint16_t* out, int32_t* exponents,
                              cudaStream_t stream) {
    if (cols <= 0 || rows <= 0) return;
    check_rows(rows, "half conversion");
    to_half_scaled_kernel<Q8Rows><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
        Q8Rows{xq, cols}, cols, reinterpret_cast<__half*>(out), exponents);
    check_launch("to_half_scaled_kernel<q8>");
}

void launch_unscale_rows(float* out, int64_t stride, int64_t cols, int64_t rows, const int32_t* exponents,
                         cudaStream_t stream) {
    if (cols <= 0 || rows <= 0) return;
    const dim3 grid(static_cast<unsigned>((cols + kThreads - 1) / kThreads),
                    static_cast<unsigned>(std::min<int64_t>(rows, 65535)));
    unscale_rows_kernel<<<grid, kThreads, 0, stream>>>(out, stride, cols, rows, exponents);
    check_launch("unscale_rows_kernel");
}

}  // namespace worker::cuda
