// Element-wise and per-row kernels: add, scale, RMS norm, RoPE, gated
// activations, KV-cache copies, embedding lookup and weight dequantization.
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "cuda_check.h"
#include "device_util.cuh"
#include "kernels.h"
#include "quant/dequant.h"

namespace worker::cuda {

namespace {

constexpr int kThreads = 256;

// Grid for an element-wise op over [rows][cols]: x covers columns, y rows
// (folded into a loop when rows exceed the grid limit).
dim3 elementwise_grid(int64_t cols, int64_t rows) {
    const int64_t bx = (cols + kThreads - 1) / kThreads;
    const int64_t by = std::min<int64_t>(rows, 65535);
    return dim3(static_cast<unsigned>(bx), static_cast<unsigned>(by));
}

__global__ void add_kernel(const float* a, int64_t as, const float* b, int64_t bs, float* out, int64_t os,
                           int64_t cols, int64_t rows) {
    const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) out[r * os + c] = a[r * as + c] + b[r * bs + c];
}

__global__ void scale_kernel(float* x, int64_t stride, int64_t cols, int64_t rows, float s) {
    const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) x[r * stride + c] *= s;
}

// One block per row.
__global__ void rms_norm_kernel(const float* x, int64_t xs, const float* w, float eps, float* out, int64_t os,
                                int64_t cols) {
    __shared__ float shared[32];
    const float* xr = x + static_cast<int64_t>(blockIdx.x) * xs;
    float* orow = out + static_cast<int64_t>(blockIdx.x) * os;
    float sum = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += xr[c] * xr[c];
    sum = block_sum(sum, shared);
    const float inv = 1.0f / sqrtf(sum / static_cast<float>(cols) + eps);
    // In place is allowed: every read of x above is finished (block_sum syncs).
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        orow[c] = xr[c] * inv * (w != nullptr ? w[c] : 1.0f);
    }
}

// One thread per rotated pair; grid y covers rows. The angle of pair k is
// the position multiplied k times by theta_scale (computed once on the host),
// exactly as the CPU backend (and llama.cpp) forms it, so both round alike;
// then divided by the pair's frequency factor and, with YaRN, mixed between
// its scaled and unscaled value along ggml's ramp (rope_yarn), fused as the
// CPU backend fuses it. pos_dev, when not null, holds the position of row 0
// instead of pos0 (a decode step replayed from a CUDA graph).
__global__ void rope_kernel(float* x, int64_t stride, int64_t rows, int n_head, int head_dim, int n_rot, int pos0,
                            const int32_t* pos_dev, float theta_scale, float freq_scale, bool neox,
                            RopeExtension ext) {
    if (pos_dev != nullptr) pos0 = *pos_dev;
    const int half = n_rot / 2;
    const int64_t pair = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (pair >= static_cast<int64_t>(n_head) * half) return;
    const int h = static_cast<int>(pair / half);
    const int k = static_cast<int>(pair % half);
    const float factor = ext.freq_factors != nullptr ? ext.freq_factors[k] : 1.0f;
    float ramp_mix = 0.0f;
    if (ext.ext_factor != 0.0f) {
        const float y = __fdiv_rn(__fsub_rn(static_cast<float>(k), ext.corr_low),
                                  fmaxf(0.001f, __fsub_rn(ext.corr_high, ext.corr_low)));
        ramp_mix = __fmul_rn(__fsub_rn(1.0f, fminf(1.0f, fmaxf(0.0f, y))), ext.ext_factor);
    }
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
        float theta_extrap = static_cast<float>(pos0 + r);
        for (int j = 0; j < k; ++j) theta_extrap = __fmul_rn(theta_extrap, theta_scale);
        theta_extrap = __fdiv_rn(theta_extrap, factor);
        const float theta_interp = __fmul_rn(freq_scale, theta_extrap);
        const float theta =
            ext.ext_factor != 0.0f
                ? __fmaf_rn(theta_interp, __fsub_rn(1.0f, ramp_mix), __fmul_rn(theta_extrap, ramp_mix))
                : theta_interp;
        float sn, cs;
        sincosf(theta, &sn, &cs);
        sn = __fmul_rn(sn, ext.mscale);
        cs = __fmul_rn(cs, ext.mscale);
        float* v = x + r * stride + static_cast<int64_t>(h) * head_dim;
        const int a = neox ? k : 2 * k;
        const int b = neox ? k + half : 2 * k + 1;
        const float x0 = v[a], x1 = v[b];
        // Unfused, as the CPU computes it.
        v[a] = __fsub_rn(__fmul_rn(x0, cs), __fmul_rn(x1, sn));
        v[b] = __fadd_rn(__fmul_rn(x0, sn), __fmul_rn(x1, cs));
    }
}

template <Glu kKind>
__global__ void glu_kernel(const float* gate, int64_t gs, const float* up, int64_t us, float* out, int64_t os,
                           int64_t cols, int64_t rows) {
    const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
        const float g = gate[r * gs + c];
        float act;
        if constexpr (kKind == Glu::Silu) {
            act = g / (1.0f + expf(-g));
        } else {
            // The CPU backend's (and llama.cpp's) GELU: through half precision,
            // input and result rounded to half, identity/zero past +-10.
            if (g <= -10.0f) {
                act = 0.0f;
            } else if (g >= 10.0f) {
                act = g;
            } else {
                constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
                const float x = __half2float(__float2half_rn(g));
                const float inner = __fmul_rn(__fmul_rn(kSqrt2OverPi, x),
                                              __fadd_rn(1.0f, __fmul_rn(__fmul_rn(0.044715f, x), x)));
                const float y = __fmul_rn(__fmul_rn(0.5f, x), __fadd_rn(1.0f, tanhf(inner)));
                act = __half2float(__float2half_rn(y));
            }
        }
        out[r * os + c] = act * up[r * us + c];
    }
}

__global__ void copy_to_cache_kernel(const float* src, int64_t ss, int64_t cols, int64_t rows, __half* cache,
                                     int64_t cs, int64_t pos, const int32_t* pos_dev) {
    const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    if (pos_dev != nullptr) pos = *pos_dev;
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) cache[(pos + r) * cs + c] = __float2half_rn(src[r * ss + c]);
}

// Element `e` of a row of `Block`s, through the shared dequantizers.
template <typename Block>
__device__ __forceinline__ float row_element(const uint8_t* row, int64_t e) {
    constexpr int kElements = quant::BlockElements<Block>::value;
    const Block* blocks = reinterpret_cast<const Block*>(row);
    return quant::block_value(blocks[e / kElements], static_cast<int>(e % kElements));
}

template <>
__device__ __forceinline__ float row_element<float>(const uint8_t* row, int64_t e) {
    return reinterpret_cast<const float*>(row)[e];
}

template <>
__device__ __forceinline__ float row_element<__half>(const uint8_t* row, int64_t e) {
    return __half2float(reinterpret_cast<const __half*>(row)[e]);
}

template <typename Block>
__global__ void embed_kernel(const uint8_t* table, size_t row_bytes, int64_t cols, int64_t table_rows,
                             const int32_t* ids, int64_t n, float* out, int64_t os, int* error_flag) {
    const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    for (int64_t i = blockIdx.y; i < n; i += gridDim.y) {
        const int32_t id = ids[i];
        if (id < 0 || id >= table_rows) {
            out[i * os + c] = 0.0f;
            if (c == 0) atomicExch(error_flag, 1);
            continue;
        }
        out[i * os + c] = row_element<Block>(table + static_cast<size_t>(id) * row_bytes, c);
    }
}

template <typename Block>
__global__ void dequantize_f16_kernel(const uint8_t* w, size_t row_bytes, int64_t first_row, int64_t cols,
                                      __half* out) {
    const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    const int64_t r = blockIdx.y;
    out[r * cols + c] = __float2half_rn(row_element<Block>(w + static_cast<size_t>(first_row + r) * row_bytes, c));
}

// Calls fn.template operator()<Block>() for the block type of `type`; false
// when the type has no device dequantizer. The cases are the types with
// kCudaDequant in the type table (quant/ggml_type.h).
template <typename Fn>
bool dispatch_block_type(GgmlType type, Fn&& fn) {
    switch (type) {
        case GgmlType::F32: fn.template operator()<float>(); return true;
        case GgmlType::F16: fn.template operator()<__half>(); return true;
        case GgmlType::Q4_0: fn.template operator()<quant::BlockQ4_0>(); return true;
        case GgmlType::Q4_1: fn.template operator()<quant::BlockQ4_1>(); return true;
        case GgmlType::Q5_0: fn.template operator()<quant::BlockQ5_0>(); return true;
        case GgmlType::Q5_1: fn.template operator()<quant::BlockQ5_1>(); return true;
        case GgmlType::Q8_0: fn.template operator()<quant::BlockQ8_0>(); return true;
        case GgmlType::Q2_K: fn.template operator()<quant::BlockQ2_K>(); return true;
        case GgmlType::Q3_K: fn.template operator()<quant::BlockQ3_K>(); return true;
        case GgmlType::Q4_K: fn.template operator()<quant::BlockQ4_K>(); return true;
        case GgmlType::Q5_K: fn.template operator()<quant::BlockQ5_K>(); return true;
        case GgmlType::Q6_K: fn.template operator()<quant::BlockQ6_K>(); return true;
        default: return false;
    }
}

}  // namespace

void launch_add(const float* a, int64_t a_stride, const float* b, int64_t b_stride, float* out, int64_t out_stride,
                int64_t cols, int64_t rows, cudaStream_t stream) {
    if (cols <= 0 || rows <= 0) return;
    add_kernel<<<elementwise_grid(cols, rows), kThreads, 0, stream>>>(a, a_stride, b, b_stride, out, out_stride, cols,
                                                                      rows);
    check_launch("add_kernel");
}

void launch_scale(float* x, int64_t stride, int64_t cols, int64_t rows, float s, cudaStream_t stream) {
    if (cols <= 0 || rows <= 0) return;
    scale_kernel<<<elementwise_grid(cols, rows), kThreads, 0, stream>>>(x, stride, cols, rows, s);
    check_launch("scale_kernel");
}

void launch_rms_norm(const float* x, int64_t x_stride, const float* weight, float eps, float* out, int64_t out_stride,
                     int64_t cols, int64_t rows, cudaStream_t stream) {
    if (cols <= 0 || rows <= 0) return;
    if (rows > 0x7FFFFFFF) fail(CUDA_ERROR_INFERENCE_FAILED, "rms_norm: too many rows (", rows, ")");
    const int threads = cols >= 1024 ? 1024 : cols >= 256 ? 256 : 64;
    rms_norm_kernel<<<static_cast<unsigned>(rows), threads, 0, stream>>>(x, x_stride, weight, eps, out, out_stride,
                                                                         cols);
    check_launch("rms_norm_kernel");
}

void launch_rope(float* x, int64_t stride, int64_t rows, int n_head, int head_dim, int n_rot, int pos0,
                 const int32_t* pos_dev, float freq_base, float freq_scale, bool neox, const RopeExtension& ext,
                 cudaStream_t stream) {
    const int64_t pairs = static_cast<int64_t>(n_head) * (n_rot / 2);
    if (pairs <= 0 || rows <= 0) return;
    constexpr int kRopeThreads = 128;
    const dim3 grid(static_cast<unsigned>((pairs + kRopeThreads - 1) / kRopeThreads),
                    static_cast<unsigned>(std::min<int64_t>(rows, 65535)));
    // Host float pow, as the CPU backend computes it.
    const float theta_scale = std::pow(freq_base, -2.0f / static_cast<float>(n_rot));
    rope_kernel<<<grid, kRopeThreads, 0, stream>>>(x, stride, rows, n_head, head_dim, n_rot, pos0, pos_dev,
                                                   theta_scale, freq_scale, neox, ext);
    check_launch("rope_kernel");
}

void launch_glu(Glu kind, const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, float* out,
                int64_t out_stride, int64_t cols, int64_t rows, cudaStream_t stream) {
    if (cols <= 0 || rows <= 0) return;
    const dim3 grid = elementwise_grid(cols, rows);
    if (kind == Glu::Silu) {
        glu_kernel<Glu::Silu><<<grid, kThreads, 0, stream>>>(gate, gate_stride, up, up_stride, out, out_stride, cols,
                                                             rows);
        check_launch("swiglu_kernel");
    } else {
        glu_kernel<Glu::GeluTanh><<<grid, kThreads, 0, stream>>>(gate, gate_stride, up, up_stride, out, out_stride,
                                                                 cols, rows);
        check_launch("geglu_kernel");
    }
}

void launch_copy_to_cache(const float* src, int64_t src_stride, int64_t cols, int64_t rows, uint16_t* cache,
                          int64_t cache_stride, int64_t pos, const int32_t* pos_dev, cudaStream_t stream) {
    if (cols <= 0 || rows <= 0) return;
    copy_to_cache_kernel<<<elementwise_grid(cols, rows), kThreads, 0, stream>>>(
        src, src_stride, cols, rows, reinterpret_cast<__half*>(cache), cache_stride, pos, pos_dev);
    check_launch("copy_to_cache_kernel");
}

namespace {
__global__ void set_position_kernel(int32_t* dst, int32_t value) { *dst = value; }
__global__ void health_probe_kernel(uint32_t* word, uint32_t value) { *word = value; }
}  // namespace

void launch_set_position(int32_t* dst, int32_t value, cudaStream_t stream) {
    set_position_kernel<<<1, 1, 0, stream>>>(dst, value);
    check_launch("set_position_kernel");
}

void launch_health_probe(uint32_t* word, uint32_t value, cudaStream_t stream) {
    health_probe_kernel<<<1, 1, 0, stream>>>(word, value);
    check_launch("health_probe_kernel");
}

void launch_embed(GgmlType type, const void* table, size_t table_row_bytes, int64_t cols, int64_t table_rows,
                  const int32_t* ids, int64_t n, float* out, int64_t out_stride, int* error_flag,
                  cudaStream_t stream) {
    if (cols <= 0 || n <= 0) return;
    const dim3 grid = elementwise_grid(cols, n);
    const bool known = dispatch_block_type(type, [&]<typename Block>() {
        embed_kernel<Block><<<grid, kThreads, 0, stream>>>(static_cast<const uint8_t*>(table), table_row_bytes, cols,
                                                           table_rows, ids, n, out, out_stride, error_flag);
    });
    if (!known) fail(CUDA_ERROR_INFERENCE_FAILED, "embed: table type ", type_name(type), " is not supported on the GPU");
    check_launch("embed_kernel");
}

void launch_dequantize_f16(GgmlType type, const void* w, size_t row_bytes, int64_t first_row, int64_t n_rows,
                           int64_t cols, uint16_t* out, cudaStream_t stream) {
    if (cols <= 0 || n_rows <= 0) return;
    if (n_rows > 65535) fail(CUDA_ERROR_INFERENCE_FAILED, "dequantize: chunk of ", n_rows, " rows is too large");
    const dim3 grid(static_cast<unsigned>((cols + kThreads - 1) / kThreads), static_cast<unsigned>(n_rows));
    const bool known = dispatch_block_type(type, [&]<typename Block>() {
        dequantize_f16_kernel<Block><<<grid, kThreads, 0, stream>>>(static_cast<const uint8_t*>(w), row_bytes,
                                                                    first_row, cols, reinterpret_cast<__half*>(out));
    });
    if (!known) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "dequantize: weight type ", type_name(type), " is not supported on the GPU");
    }
    check_launch("dequantize_f16_kernel");
}

}  // namespace worker::cuda
