// Host-side launchers of the CUDA backend's kernels. Plain C++ (no CUDA
// types beyond cudaStream_t), so that cuda_backend.cpp compiles with the host
// compiler. Strides are in elements. Every launcher checks its launch and
// throws Error(CUDA_ERROR_KERNEL_LAUNCH_FAILED) naming the kernel.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "quant/ggml_type.h"
#include "quant_units.h"

namespace worker::cuda {


// ---- element-wise ------------------------------------------------------------------

// out[r][c] = a[r][c] + b[b_stride ? r : 0][c]  (b_stride 0: b is one broadcast row)
void launch_add(const float* a, int64_t a_stride, const float* b, int64_t b_stride, float* out, int64_t out_stride,
                int64_t cols, int64_t rows, cudaStream_t stream);
void launch_scale(float* x, int64_t stride, int64_t cols, int64_t rows, float s, cudaStream_t stream);
// weight may be null (no weight).
void launch_rms_norm(const float* x, int64_t x_stride, const float* weight, float eps, float* out, int64_t out_stride,
                     int64_t cols, int64_t rows, cudaStream_t stream);
// pos_dev (here and below), when not null, points at the device int the
// kernel reads the position from instead of the argument: a decode step
// captured once in a CUDA graph and replayed with the position updated.
// What llama.cpp's ggml_rope_ext adds to a plain rope (model::RopeParams):
// per-pair frequency divisors in device memory (or null), and YaRN's ramp.
// `mscale` multiplies cos and sin: attn_factor, times 1 + 0.1 ln(1 / freq_scale)
// when ext_factor != 0 (computed on the host, with the host's logf).
struct RopeExtension {
    const float* freq_factors = nullptr;
    float ext_factor = 0.0f;
    float mscale = 1.0f;
    float corr_low = 0.0f;
    float corr_high = 0.0f;
};
void launch_rope(float* x, int64_t stride, int64_t rows, int n_head, int head_dim, int n_rot, int pos0,
                 const int32_t* pos_dev, float freq_base, float freq_scale, bool neox, const RopeExtension& ext,
                 cudaStream_t stream);
enum class Glu { Silu, GeluTanh };
void launch_glu(Glu kind, const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, float* out,
                int64_t out_stride, int64_t cols, int64_t rows, cudaStream_t stream);
// cache rows [pos, pos + rows) (IEEE half, row stride cache_stride) = src.
void launch_copy_to_cache(const float* src, int64_t src_stride, int64_t cols, int64_t rows, uint16_t* cache,
                          int64_t cache_stride, int64_t pos, const int32_t* pos_dev, cudaStream_t stream);
// *dst = value, in stream order (the position a replayed decode step reads).
void launch_set_position(int32_t* dst, int32_t value, cudaStream_t stream);
// *word = value from a one-thread kernel: the health probe (cuda_device.h).
void launch_health_probe(uint32_t* word, uint32_t value, cudaStream_t stream);
// out[i] = dequantized row ids[i] of the table, for the types with
// kCudaDequant in the type table (quant/ggml_type.h). An id outside
// [0, table_rows) writes zeros and sets *error_flag to 1.
void launch_embed(GgmlType type, const void* table, size_t table_row_bytes, int64_t cols, int64_t table_rows,
                  const int32_t* ids, int64_t n, float* out, int64_t out_stride, int* error_flag, cudaStream_t stream);

// ---- matrix products ------------------------------------------------------------------

// x (rows of cols floats, cols % 32 == 0) to rows * cols / 32 blocks, as the
// CPU backend quantizes activations for a weight of `weight_type`
// (quant_units.h).
void launch_quantize_q8(GgmlType weight_type, const float* x, int64_t stride, int64_t cols, int64_t rows,
                        BlockQ8Act* out, cudaStream_t stream);
// out[i][r] = w[r] . x[i] for n activation rows already quantized by
// launch_quantize_q8 (n * cols / 32 blocks), for the types with kCudaMatvec.
void launch_matvec_q8(GgmlType type, const void* w, size_t row_bytes, int64_t rows, int64_t cols,
                      const BlockQ8Act* xq, int64_t n, float* out, int64_t out_stride, cudaStream_t stream);
// The same for F32 and F16 weights, with float activations.
void launch_matvec_float(GgmlType type, const void* w, size_t row_bytes, int64_t rows, int64_t cols, const float* x,
                         int64_t x_stride, int64_t n, float* out, int64_t out_stride, cudaStream_t stream);
// Rows [first_row, first_row + n_rows) of w as contiguous IEEE half
// [n_rows][cols], for the types with kCudaDequant.
void launch_dequantize_f16(GgmlType type, const void* w, size_t row_bytes, int64_t first_row, int64_t n_rows,
                           int64_t cols, uint16_t* out, cudaStream_t stream);

// ---- prefill activations for cuBLAS (half_scaling.h) ----------------------------------

// Row r of the strided F32 matrix x as contiguous half values
// out[r * cols + c] = half(x[r][c] * 2^exponents[r]), exponents[r] from the
// row's largest magnitude (half_scale_exponent).
void launch_to_half_scaled(const float* x, int64_t stride, int64_t cols, int64_t rows, uint16_t* out,
                           int32_t* exponents, cudaStream_t stream);
// The same for quantized activations (rows * cols / 32 blocks), element d * q.
void launch_q8_to_half_scaled(const BlockQ8Act* xq, int64_t cols, int64_t rows, uint16_t* out, int32_t* exponents,
                              cudaStream_t stream);
// out[r][c] *= 2^-exponents[r]: the products of scaled rows scaled back.
void launch_unscale_rows(float* out, int64_t stride, int64_t cols, int64_t rows, const int32_t* exponents,
                         cudaStream_t stream);

// ---- attention ------------------------------------------------------------------------

struct AttentionLaunch {
    const float* q;
    int64_t q_stride;
    const uint16_t* k_cache;  // IEEE half
    int64_t k_stride;
    const uint16_t* v_cache;
    int64_t v_stride;
    float* out;
    int64_t out_stride;
    int64_t n_tokens;
    int n_head;
    int n_head_kv;
    int head_dim;  // even, <= kMaxHeadDim
    int pos0;
    const int32_t* pos_dev;  // not null: pos0 is read from here on the device
    float scale;
    int window;
};
constexpr int kMaxHeadDim = 512;
// Decode attention splits a head's keys among at most this many blocks.
constexpr int kMaxAttentionSplits = 32;
// Floats of the partial results a decode step's split attention needs.
constexpr int64_t attention_partial_floats(int n_head, int head_dim) {
    return static_cast<int64_t>(n_head) * kMaxAttentionSplits * (head_dim + 2);
}
// Splits a decode step over n_keys keys uses (1: none).
int attention_splits(int64_t n_keys);
// `partial`: attention_partial_floats() floats of scratch, or null to never
// split. With partial, a decode step (one query row) always takes the split
// path, one split or many, so that it gives the same bits whether its key
// count is known on the host (eager) or only on the device (a.pos_dev, a
// replayed graph, which launches kMaxAttentionSplits blocks per head and
// leaves the unused ones empty).
void launch_attention(const AttentionLaunch& a, float* partial, cudaStream_t stream);

// ---- sampling ---------------------------------------------------------------------------

// Device scratch the sampler needs for a vocabulary of n: sizes in bytes.
struct SamplerScratch {
    float* logits;        // n: the working copy (penalised)
    float* scaled;        // n: logits / temperature
    uint32_t* keys;       // 2n: sort keys in and out
    int32_t* ids;         // 2n: ids in and out
    float* probs;         // n
    void* sort_temp;      // CUB temporary storage
    size_t sort_temp_bytes;
    int32_t* history;     // n: distinct history ids
    int32_t* result;      // 1
};
// Bytes of CUB temporary storage a sort of n keys needs.
size_t sampler_sort_temp_bytes(int64_t n);

struct SampleLaunch {
    const float* logits;
    int64_t n;
    int64_t n_history;  // distinct ids already in scratch.history
    float temperature;
    int32_t top_k;
    float top_p;
    float min_p;
    float repetition_penalty;
    double uniform;
};
// Leaves the chosen id in *scratch.result.
void launch_sample(const SampleLaunch& s, const SamplerScratch& scratch, cudaStream_t stream);

}  // namespace worker::cuda
