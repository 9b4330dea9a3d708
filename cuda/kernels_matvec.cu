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

namespace worker::cuda {

namespace {

constexpr int kRowsPerBlock = 4;

// ---- activation quantization: one warp per 32-element block -------------------------

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
    const int q = amax == 0.0f ? 0 : __float2int_rn(v / d);
    const int sum = warp_sum_int(q);
    BlockQ8Act& o = out[block];
    o.qs[lane] = static_cast<int8_t>(q);
    if (lane == 0) {
        o.d = d;
        o.s = d * static_cast<float>(sum);
    }
}

// ---- one 32-element unit of a weight row against one activation block -----------------

__device__ __forceinline__ void load_act(const BlockQ8Act& a, int (&x)[8]) {
    const int2* p = reinterpret_cast<const int2*>(a.qs);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int2 v = p[i];
        x[2 * i] = v.x;
        x[2 * i + 1] = v.y;
    }
}

// Q4_0: w = d * (q - 8), q a nibble; element j < 16 is the low nibble of
// qs[j], element j + 16 the high nibble.
__device__ __forceinline__ float unit_dot_q4_0(const uint8_t* row, int64_t u, const BlockQ8Act& a) {
    const quant::BlockQ4_0& b = reinterpret_cast<const quant::BlockQ4_0*>(row)[u];
    int x[8];
    load_act(a, x);
    int acc = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const uint32_t v = load_u32_a2(b.qs + 4 * i);
        acc = __dp4a(static_cast<int>(v & 0x0F0F0F0Fu), x[i], acc);
        acc = __dp4a(static_cast<int>((v >> 4) & 0x0F0F0F0Fu), x[i + 4], acc);
    }
    return half_bits_to_float(b.d) * (a.d * static_cast<float>(acc) - 8.0f * a.s);
}

// Q4_1: w = d * q + m.
__device__ __forceinline__ float unit_dot_q4_1(const uint8_t* row, int64_t u, const BlockQ8Act& a) {
    const quant::BlockQ4_1& b = reinterpret_cast<const quant::BlockQ4_1*>(row)[u];
    int x[8];
    load_act(a, x);
    int acc = 0;
    const uint32_t* qs = reinterpret_cast<const uint32_t*>(b.qs);  // 4-byte aligned: blocks are 20 bytes
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const uint32_t v = qs[i];
        acc = __dp4a(static_cast<int>(v & 0x0F0F0F0Fu), x[i], acc);
        acc = __dp4a(static_cast<int>((v >> 4) & 0x0F0F0F0Fu), x[i + 4], acc);
    }
    return half_bits_to_float(b.d) * a.d * static_cast<float>(acc) + half_bits_to_float(b.m) * a.s;
}

// Bits 0..3 of `bits` to bit 4 of bytes 0..3.
__device__ __forceinline__ uint32_t spread_to_bit4(uint32_t bits) {
    return ((bits & 1u) << 4) | ((bits & 2u) << 11) | ((bits & 4u) << 18) | ((bits & 8u) << 25);
}

// Q5_0: w = d * (q - 16), q = nibble | (bit j of qh) << 4.
__device__ __forceinline__ float unit_dot_q5_0(const uint8_t* row, int64_t u, const BlockQ8Act& a) {
    const quant::BlockQ5_0& b = reinterpret_cast<const quant::BlockQ5_0*>(row)[u];
    int x[8];
    load_act(a, x);
    const uint32_t qh = load_u32_a2(b.qh);
    int acc = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const uint32_t v = load_u32_a2(b.qs + 4 * i);
        const uint32_t lo = (v & 0x0F0F0F0Fu) | spread_to_bit4(qh >> (4 * i));
        const uint32_t hi = ((v >> 4) & 0x0F0F0F0Fu) | spread_to_bit4(qh >> (16 + 4 * i));
        acc = __dp4a(static_cast<int>(lo), x[i], acc);
        acc = __dp4a(static_cast<int>(hi), x[i + 4], acc);
    }
    return half_bits_to_float(b.d) * (a.d * static_cast<float>(acc) - 16.0f * a.s);
}

// Q8_0: w = d * q.
__device__ __forceinline__ float unit_dot_q8_0(const uint8_t* row, int64_t u, const BlockQ8Act& a) {
    const quant::BlockQ8_0& b = reinterpret_cast<const quant::BlockQ8_0*>(row)[u];
    int x[8];
    load_act(a, x);
    const uint8_t* qs = reinterpret_cast<const uint8_t*>(b.qs);
    int acc = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) acc = __dp4a(static_cast<int>(load_u32_a2(qs + 4 * i)), x[i], acc);
    return half_bits_to_float(b.d) * a.d * static_cast<float>(acc);
}

// Q4_K: unit g of a super-block is its sub-block g: w = (d * scale_g) * q -
// (dmin * min_g), q the low (g even) or high (g odd) nibbles of qs[32 (g / 2) ..].
__device__ __forceinline__ float unit_dot_q4_k(const uint8_t* row, int64_t u, const BlockQ8Act& a) {
    const quant::BlockQ4_K& b = reinterpret_cast<const quant::BlockQ4_K*>(row)[u / 8];
    const int g = static_cast<int>(u % 8);
    int x[8];
    load_act(a, x);
    // 16-byte aligned: super-blocks are 144 bytes and rows start 256-aligned.
    const uint4* qs = reinterpret_cast<const uint4*>(b.qs + 32 * (g / 2));
    const uint4 q0 = qs[0], q1 = qs[1];
    const uint32_t words[8] = {q0.x, q0.y, q0.z, q0.w, q1.x, q1.y, q1.z, q1.w};
    const int shift = 4 * (g % 2);
    int acc = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) acc = __dp4a(static_cast<int>((words[i] >> shift) & 0x0F0F0F0Fu), x[i], acc);
    int scale = 0, min = 0;
    quant::k_scale_min(b.scales, g, scale, min);
    const float d = half_bits_to_float(b.d) * static_cast<float>(scale);
    const float m = half_bits_to_float(b.dmin) * static_cast<float>(min);
    return d * a.d * static_cast<float>(acc) - m * a.s;
}

// Q6_K: unit j of a super-block covers elements 32 j .. 32 j + 31: half n =
// j / 4, quarter k = j % 4; low nibble of ql[64 n + 32 (k % 2) + l] (high
// nibble when k >= 2), 2 high bits from field k of qh[32 n + l], bias 32,
// signed scales per 16 elements.
__device__ __forceinline__ float unit_dot_q6_k(const uint8_t* row, int64_t u, const BlockQ8Act& a) {
    const quant::BlockQ6_K& b = reinterpret_cast<const quant::BlockQ6_K*>(row)[u / 8];
    const int j = static_cast<int>(u % 8);
    const int n = j / 4, k = j % 4;
    int x[8];
    load_act(a, x);
    const uint8_t* ql = b.ql + 64 * n + 32 * (k % 2);
    const uint8_t* qh = b.qh + 32 * n;
    const int low_shift = 4 * (k / 2);
    const int high_shift = 2 * k;
    int acc[2] = {0, 0};
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        const uint32_t lo = (load_u32_a2(ql + 4 * i) >> low_shift) & 0x0F0F0F0Fu;
        const uint32_t hi = ((load_u32_a2(qh + 4 * i) >> high_shift) & 0x03030303u) << 4;
        const int q = static_cast<int>(__vsub4(lo | hi, 0x20202020u));  // bytes q - 32, in [-32, 31]
        acc[i / 4] = __dp4a(q, x[i], acc[i / 4]);
    }
    const int scaled = static_cast<int>(b.scales[8 * n + 2 * k]) * acc[0] +
                       static_cast<int>(b.scales[8 * n + 2 * k + 1]) * acc[1];
    return half_bits_to_float(b.d) * a.d * static_cast<float>(scaled);
}

template <GgmlType kType>
__device__ __forceinline__ float unit_dot(const uint8_t* row, int64_t u, const BlockQ8Act& a) {
    if constexpr (kType == GgmlType::Q4_0) return unit_dot_q4_0(row, u, a);
    if constexpr (kType == GgmlType::Q4_1) return unit_dot_q4_1(row, u, a);
    if constexpr (kType == GgmlType::Q5_0) return unit_dot_q5_0(row, u, a);
    if constexpr (kType == GgmlType::Q8_0) return unit_dot_q8_0(row, u, a);
    if constexpr (kType == GgmlType::Q4_K) return unit_dot_q4_k(row, u, a);
    if constexpr (kType == GgmlType::Q6_K) return unit_dot_q6_k(row, u, a);
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

const char* type_name(GgmlType type) {
    const char* name = type_traits(type).name;
    return name != nullptr ? name : "unknown";
}

void check_grid(int64_t rows, int64_t n, const char* op) {
    if ((rows + kRowsPerBlock - 1) / kRowsPerBlock > 0x7FFFFFFF || n > 65535) {
        fail(CUDA_ERROR_INFERENCE_FAILED, op, ": ", rows, " rows x ", n, " columns exceed the launch grid");
    }
}

}  // namespace

bool has_q8_matvec(GgmlType type) {
    switch (type) {
        case GgmlType::Q4_0:
        case GgmlType::Q4_1:
        case GgmlType::Q5_0:
        case GgmlType::Q8_0:
        case GgmlType::Q4_K:
        case GgmlType::Q6_K: return true;
        default: return false;
    }
}

void launch_quantize_q8(const float* x, int64_t stride, int64_t cols, int64_t rows, BlockQ8Act* out,
                        cudaStream_t stream) {
    if (cols % 32 != 0) fail(CUDA_ERROR_INFERENCE_FAILED, "quantize_q8: row of ", cols, " is not a multiple of 32");
    const int64_t blocks = cols / 32 * rows;
    if (blocks <= 0) return;
    constexpr int kThreads = 256;
    const int64_t grid = (blocks * 32 + kThreads - 1) / kThreads;
    if (grid > 0x7FFFFFFF) fail(CUDA_ERROR_INFERENCE_FAILED, "quantize_q8: ", blocks, " blocks exceed the grid");
    quantize_q8_kernel<<<static_cast<unsigned>(grid), kThreads, 0, stream>>>(x, stride, cols, rows, out);
    check_launch("quantize_q8_kernel");
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
