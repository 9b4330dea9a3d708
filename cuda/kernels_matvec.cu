// Decode-time matrix-vector products. Bandwidth bound: every weight byte is
// read once per token, so the weights stay in their block format and the
// activations are quantized once to 8-bit blocks; each lane of a warp takes
// one 32-element unit of a row at a time (consecutive lanes read consecutive
// bytes), multiplies 4 int8 pairs per dp4a, and the warp reduces with
// shuffles. One warp per output row, kRowsPerBlock rows per thread block.
#include <cuda_fp16.h>

#include <algorithm>

#include "core/error.h"
#include "cuda_check.h"
#include "device_util.cuh"
#include "kernels.h"
#include "quant/dequant.h"
#include "quant_units.h"

namespace worker::cuda {

namespace {

constexpr int kRowsPerBlock = 4;

// ---- activation quantization: one warp per 32-element block -------------------------

// Q8_0 / Q8_1 modes: one warp per 32-element block (see quant_units.h).
template <ActQuant kMode>
__global__ void quantize_q8_kernel(const float* x, int64_t stride, int64_t cols, int64_t rows, BlockQ8Act* out) {
    const int lane = threadIdx.x % 32;
    const int64_t blocks_per_row = cols / 32;
    const int64_t block = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
    if (block >= blocks_per_row * rows) return;  // uniform per warp
    const int64_t r = block / blocks_per_row;
    const int64_t b = block % blocks_per_row;
    const float v = x[r * stride + b * 32 + lane];
    const float amax = warp_max(fabsf(v));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const int q = round_to_int(mul_rn(v, id));
    const int sum = warp_sum_int(q);
    BlockQ8Act& o = out[block];
    o.qs[lane] = static_cast<int8_t>(q);
    if (lane == 0) {
        const float s_value = d * static_cast<float>(sum);
        o.d = round_to_half(d);
        o.s = kMode == ActQuant::Q8_1 ? round_to_half(s_value) : s_value;
    }
}

// Q8_K mode: one warp per 256-element block; lane l takes element l of each
// of the 8 sub-blocks. The scale comes from the value of largest magnitude,
// the first one (lowest index) on ties, as the CPU's loop finds it.
__global__ void quantize_q8_k_kernel(const float* x, int64_t stride, int64_t cols, int64_t rows, BlockQ8Act* out) {
    const int lane = threadIdx.x % 32;
    const int64_t blocks_per_row = cols / 256;
    const int64_t block = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
    if (block >= blocks_per_row * rows) return;  // uniform per warp
    const int64_t r = block / blocks_per_row;
    const int64_t b = block % blocks_per_row;
    const float* xb = x + r * stride + b * 256;
    float v[8];
    float best_abs = -1.0f, best = 0.0f;
    int best_index = 0x7FFFFFFF;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        v[j] = xb[32 * j + lane];
        if (fabsf(v[j]) > best_abs) {  // j ascending: the lane's first maximum
            best_abs = fabsf(v[j]);
            best = v[j];
            best_index = 32 * j + lane;
        }
    }
    for (int offset = 16; offset > 0; offset >>= 1) {
        const float other_abs = __shfl_xor_sync(kFullMask, best_abs, offset);
        const float other = __shfl_xor_sync(kFullMask, best, offset);
        const int other_index = __shfl_xor_sync(kFullMask, best_index, offset);
        if (other_abs > best_abs || (other_abs == best_abs && other_index < best_index)) {
            best_abs = other_abs;
            best = other;
            best_index = other_index;
        }
    }
    const bool zero = best_abs == 0.0f;
    const float iscale = zero ? 0.0f : -127.0f / best;
    const float d = zero ? 0.0f : 1.0f / iscale;
    BlockQ8Act* o = out + block * 8;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        const int q = zero ? 0 : min(127, round_to_int(mul_rn(iscale, v[j])));
        const int sum = warp_sum_int(q);
        o[j].qs[lane] = static_cast<int8_t>(q);
        if (lane == 0) {
            o[j].d = d;
            o[j].s = d * static_cast<float>(sum);
        }
    }
}

// blockDim = (32, kRowsPerBlock); grid = (row blocks, n activation rows).
template <GgmlType kType>
__global__ void __launch_bounds__(32 * kRowsPerBlock)
    matvec_q8_kernel(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t units, const BlockQ8Act* xq,
                     float* out, int64_t out_stride) {
    const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.y;
    if (row >= rows) return;  // the whole warp leaves together
    const int64_t col = blockIdx.y;
    const uint8_t* wr = w + static_cast<size_t>(row) * row_bytes;
    const BlockQ8Act* xr = xq + col * units;
    float sum = 0.0f;
    for (int64_t u = threadIdx.x; u < units; u += 32) sum += unit_dot<kType>(wr, u, xr[u]);
    sum = warp_sum(sum);
    if (threadIdx.x == 0) out[col * out_stride + row] = sum;
}

// F32 and F16 weights: 16-byte loads of weights where the row allows.
template <typename T, bool kVector>
__global__ void __launch_bounds__(32 * kRowsPerBlock)
    matvec_float_kernel(const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols, const float* x,
                        int64_t x_stride, float* out, int64_t out_stride) {
    const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.y;
    if (row >= rows) return;
    const int64_t col = blockIdx.y;
    const T* wr = reinterpret_cast<const T*>(w + static_cast<size_t>(row) * row_bytes);
    const float* xr = x + col * x_stride;
    float sum = 0.0f;
    if constexpr (kVector) {
        constexpr int kPerLoad = 16 / sizeof(T);
        const uint4* wv = reinterpret_cast<const uint4*>(wr);
        for (int64_t c = static_cast<int64_t>(threadIdx.x) * kPerLoad; c < cols; c += 32 * kPerLoad) {
            const uint4 packed = wv[c / kPerLoad];
            const T* e = reinterpret_cast<const T*>(&packed);
#pragma unroll
            for (int k = 0; k < kPerLoad; ++k) {
                if constexpr (sizeof(T) == 2) {
                    sum += __half2float(e[k]) * xr[c + k];
                } else {
                    sum += e[k] * xr[c + k];
                }
            }
        }
    } else {
        for (int64_t c = threadIdx.x; c < cols; c += 32) {
            if constexpr (sizeof(T) == 2) {
                sum += __half2float(wr[c]) * xr[c];
            } else {
                sum += wr[c] * xr[c];
            }
        }
    }
    sum = warp_sum(sum);
    if (threadIdx.x == 0) out[col * out_stride + row] = sum;
}

void check_grid(int64_t rows, int64_t n, const char* op) {
    if ((rows + kRowsPerBlock - 1) / kRowsPerBlock > 0x7FFFFFFF || n > 65535) {
        fail(CUDA_ERROR_INFERENCE_FAILED, op, ": ", rows, " rows x ", n, " columns exceed the launch grid");
    }
}

}  // namespace

void launch_quantize_q8(GgmlType weight_type, const float* x, int64_t stride, int64_t cols, int64_t rows,
                        BlockQ8Act* out, cudaStream_t stream) {
    if (cols % 32 != 0) fail(CUDA_ERROR_INFERENCE_FAILED, "quantize_q8: row of ", cols, " is not a multiple of 32");
    ActQuant mode = act_quant_for(weight_type);
    if (mode == ActQuant::Q8_K && cols % 256 != 0) mode = ActQuant::Q8_0;  // as the CPU backend falls back
    const int64_t warps = (mode == ActQuant::Q8_K ? cols / 256 : cols / 32) * rows;
    if (warps <= 0) return;
    constexpr int kThreads = 256;
    const int64_t grid = (warps * 32 + kThreads - 1) / kThreads;
    if (grid > 0x7FFFFFFF) fail(CUDA_ERROR_INFERENCE_FAILED, "quantize_q8: ", warps, " blocks exceed the grid");
    const unsigned g = static_cast<unsigned>(grid);
    switch (mode) {
        case ActQuant::Q8_K:
            quantize_q8_k_kernel<<<g, kThreads, 0, stream>>>(x, stride, cols, rows, out);
            check_launch("quantize_q8_k_kernel");
            break;
        case ActQuant::Q8_1:
            quantize_q8_kernel<ActQuant::Q8_1><<<g, kThreads, 0, stream>>>(x, stride, cols, rows, out);
            check_launch("quantize_q8_kernel<Q8_1>");
            break;
        default:
            quantize_q8_kernel<ActQuant::Q8_0><<<g, kThreads, 0, stream>>>(x, stride, cols, rows, out);
            check_launch("quantize_q8_kernel<Q8_0>");
            break;
    }
}

void launch_matvec_q8(GgmlType type, const void* w, size_t row_bytes, int64_t rows, int64_t cols,
                      const BlockQ8Act* xq, int64_t n, float* out, int64_t out_stride, cudaStream_t stream) {
    if (rows <= 0 || n <= 0) return;
    check_grid(rows, n, "matvec_q8");
    const dim3 grid(static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock), static_cast<unsigned>(n));
    const dim3 block(32, kRowsPerBlock);
    const auto* wb = static_cast<const uint8_t*>(w);
    const int64_t units = cols / 32;
    switch (type) {
        case GgmlType::Q4_0:
            matvec_q8_kernel<GgmlType::Q4_0><<<grid, block, 0, stream>>>(wb, row_bytes, rows, units, xq, out, out_stride);
            check_launch("matvec_q8_kernel<Q4_0>");
            break;
        case GgmlType::Q4_1:
            matvec_q8_kernel<GgmlType::Q4_1><<<grid, block, 0, stream>>>(wb, row_bytes, rows, units, xq, out, out_stride);
            check_launch("matvec_q8_kernel<Q4_1>");
            break;
        case GgmlType::Q5_0:
            matvec_q8_kernel<GgmlType::Q5_0><<<grid, block, 0, stream>>>(wb, row_bytes, rows, units, xq, out, out_stride);
            check_launch("matvec_q8_kernel<Q5_0>");
            break;
        case GgmlType::Q8_0:
            matvec_q8_kernel<GgmlType::Q8_0><<<grid, block, 0, stream>>>(wb, row_bytes, rows, units, xq, out, out_stride);
            check_launch("matvec_q8_kernel<Q8_0>");
            break;
        case GgmlType::Q4_K:
            matvec_q8_kernel<GgmlType::Q4_K><<<grid, block, 0, stream>>>(wb, row_bytes, rows, units, xq, out, out_stride);
            check_launch("matvec_q8_kernel<Q4_K>");
            break;
        case GgmlType::Q6_K:
            matvec_q8_kernel<GgmlType::Q6_K><<<grid, block, 0, stream>>>(wb, row_bytes, rows, units, xq, out, out_stride);
            check_launch("matvec_q8_kernel<Q6_K>");
            break;
        default:
            fail(CUDA_ERROR_INFERENCE_FAILED, "matmul: weight type ", type_name(type),
                 " has no quantized matrix-vector kernel");
    }
}

void launch_matvec_float(GgmlType type, const void* w, size_t row_bytes, int64_t rows, int64_t cols, const float* x,
                         int64_t x_stride, int64_t n, float* out, int64_t out_stride, cudaStream_t stream) {
    if (rows <= 0 || n <= 0) return;
    check_grid(rows, n, "matvec_float");
    const dim3 grid(static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock), static_cast<unsigned>(n));
    const dim3 block(32, kRowsPerBlock);
    const auto* wb = static_cast<const uint8_t*>(w);
    // 16-byte loads need every row to start 16-byte aligned: the tensor
    // itself is (256), so the row length must be a multiple of 16 bytes.
    const bool vector = row_bytes % 16 == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0;
    if (type == GgmlType::F32) {
        if (vector) {
            matvec_float_kernel<float, true><<<grid, block, 0, stream>>>(wb, row_bytes, rows, cols, x, x_stride, out,
                                                                         out_stride);
        } else {
            matvec_float_kernel<float, false><<<grid, block, 0, stream>>>(wb, row_bytes, rows, cols, x, x_stride,
                                                                          out, out_stride);
        }
        check_launch("matvec_float_kernel<F32>");
    } else if (type == GgmlType::F16) {
        if (vector) {
            matvec_float_kernel<__half, true><<<grid, block, 0, stream>>>(wb, row_bytes, rows, cols, x, x_stride, out,
                                                                          out_stride);
        } else {
            matvec_float_kernel<__half, false><<<grid, block, 0, stream>>>(wb, row_bytes, rows, cols, x, x_stride,
                                                                           out, out_stride);
        }
        check_launch("matvec_float_kernel<F16>");
    } else {
        fail(CUDA_ERROR_INFERENCE_FAILED, "matmul: weight type ", type_name(type), " is not a float type");
    }
}

}  // namespace worker::cuda
