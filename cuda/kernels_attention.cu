// Causal attention over the FP16 KV cache, for decode (one query row) and
// prefill (many, at any starting position: a prompt may come in chunks) alike:
// one thread block per (query token, head) — block x = token * n_head + head,
// so that any number of tokens fits the grid — walks its
// keys in tiles with an online softmax, so the score matrix is never written
// out and any context length fits in a fixed amount of shared memory.
// Grouped-query attention maps head h to KV head h / (n_head / n_head_kv); a
// sliding window limits the keys to (pos - window, pos].
//
// A decode step splits each head's keys among several blocks when the
// context is long (flash-decoding): each writes its partial maximum, sum and
// unnormalised output, and a second kernel combines them, so a model with few
// heads still fills the GPU. Short contexts take the same path with one split.
#include <cuda_fp16.h>

#include <algorithm>

#include "core/error.h"
#include "cuda_check.h"
#include "device_util.cuh"
#include "kernels.h"

namespace worker::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kTile = 64;                                   // keys scored per step
constexpr int kDimsPerThread = kMaxHeadDim / kThreads;      // output dims each thread accumulates
constexpr int64_t kMinKeysPerSplit = 128;                   // decode: fewer keys are not worth splitting

// Splits of a decode step over n_keys keys, and the keys each one takes
// (the last may take fewer): the same on the host and on the device.
__host__ __device__ inline int splits_for(int64_t n_keys) {
    if (n_keys <= kMinKeysPerSplit) return 1;
    const int64_t at_most = (n_keys + kMaxAttentionSplits - 1) / kMaxAttentionSplits;
    const int64_t per_split = at_most > kMinKeysPerSplit ? at_most : kMinKeysPerSplit;
    return static_cast<int>((n_keys + per_split - 1) / per_split);
}
__host__ __device__ inline int64_t keys_per_split(int64_t n_keys) {
    const int splits = splits_for(n_keys);
    return (n_keys + splits - 1) / splits;
}

// The end of attention_kernel: kPartial, the block's {max, sum,
// unnormalised output} into `partial`; otherwise the normalised output row.
template <bool kPartial>
__device__ __forceinline__ void write_result(const AttentionLaunch& a, float* partial, int h, int64_t i,
                                             float running_max, float running_sum, const float (&acc)[kDimsPerThread]) {
    const int hd = a.head_dim;
    if constexpr (kPartial) {
        float* out = partial + (static_cast<int64_t>(h) * gridDim.y + blockIdx.y) * (hd + 2);
        if (threadIdx.x == 0) {
            out[0] = running_max;
            out[1] = running_sum;
        }
#pragma unroll
        for (int j = 0; j < kDimsPerThread; ++j) {
            const int d = threadIdx.x + j * kThreads;
            if (d < hd) out[2 + d] = acc[j];
        }
    } else {
        float* out = a.out + i * a.out_stride + static_cast<int64_t>(h) * hd;
        const float inv = 1.0f / running_sum;
#pragma unroll
        for (int j = 0; j < kDimsPerThread; ++j) {
            const int d = threadIdx.x + j * kThreads;
            if (d < hd) out[d] = acc[j] * inv;
        }
    }
}

// !kPartial: blockIdx.x = token * n_head + head. kPartial (one query row):
// blockIdx.x is the head, blockIdx.y the split of its keys, and the block
// writes {max, sum, unnormalised output[head_dim]} to `partial`. Splits past
// the last one the key count needs stay empty (sum 0).
template <bool kPartial>
__global__ void __launch_bounds__(kThreads) attention_kernel(AttentionLaunch a, float* partial) {
    __shared__ float q_shared[kMaxHeadDim];
    __shared__ float scores[kTile];

    const int h = kPartial ? static_cast<int>(blockIdx.x) : static_cast<int>(blockIdx.x % a.n_head);
    const int64_t i = kPartial ? 0 : static_cast<int64_t>(blockIdx.x / a.n_head);
    const int kvh = h / (a.n_head / a.n_head_kv);
    const int hd = a.head_dim;
    const int64_t pos = (a.pos_dev != nullptr ? *a.pos_dev : a.pos0) + i;
    const int64_t first = a.window > 0 ? max(static_cast<int64_t>(0), pos - a.window + 1) : 0;
    int64_t begin = first, end = pos + 1;
    if constexpr (kPartial) {
        const int64_t per_split = keys_per_split(end - first);
        begin = first + static_cast<int64_t>(blockIdx.y) * per_split;
        end = min(end, begin + per_split);  // begin >= end: an empty split
    }
    const int lane = threadIdx.x % 32;
    const int warp = threadIdx.x / 32;

    const float* q = a.q + i * a.q_stride + static_cast<int64_t>(h) * hd;
    // q meets the half cache in half precision, as on the CPU backend (and in
    // llama.cpp): round it once here.
    for (int d = threadIdx.x; d < hd; d += kThreads) q_shared[d] = __half2float(__float2half_rn(q[d]));
    __syncthreads();

    float acc[kDimsPerThread];
#pragma unroll
    for (int j = 0; j < kDimsPerThread; ++j) acc[j] = 0.0f;
    float running_max = -INFINITY;
    float running_sum = 0.0f;

    for (int64_t t0 = begin; t0 < end; t0 += kTile) {
        const int tn = static_cast<int>(min(static_cast<int64_t>(kTile), end - t0));
        // Scores: one warp per key, lanes over pairs of dimensions.
        for (int jj = warp; jj < tn; jj += kWarps) {
            const __half2* k = reinterpret_cast<const __half2*>(a.k_cache + (t0 + jj) * a.k_stride +
                                                                static_cast<int64_t>(kvh) * hd);
            float s = 0.0f;
            for (int p = lane; p < hd / 2; p += 32) {
                const float2 kf = __half22float2(k[p]);
                s += q_shared[2 * p] * kf.x + q_shared[2 * p + 1] * kf.y;
            }
            s = warp_sum(s) * a.scale;
            if (lane == 0) scores[jj] = s;
        }
        __syncthreads();
        float tile_max = -INFINITY;
        for (int jj = 0; jj < tn; ++jj) tile_max = fmaxf(tile_max, scores[jj]);
        const float new_max = fmaxf(running_max, tile_max);
        const float correction = expf(running_max - new_max);  // 0 on the first tile
        __syncthreads();  // every thread has read the raw scores
        for (int jj = threadIdx.x; jj < tn; jj += kThreads) scores[jj] = expf(scores[jj] - new_max);
        __syncthreads();
        float tile_sum = 0.0f;
        for (int jj = 0; jj < tn; ++jj) tile_sum += scores[jj];
        running_sum = running_sum * correction + tile_sum;
#pragma unroll
        for (int j = 0; j < kDimsPerThread; ++j) {
            const int d = threadIdx.x + j * kThreads;
            if (d >= hd) break;
            float v_acc = 0.0f;
            const __half* v = reinterpret_cast<const __half*>(a.v_cache) + t0 * a.v_stride +
                              static_cast<int64_t>(kvh) * hd + d;
            for (int jj = 0; jj < tn; ++jj) v_acc += scores[jj] * __half2float(v[jj * a.v_stride]);
            acc[j] = acc[j] * correction + v_acc;
        }
        running_max = new_max;
        __syncthreads();  // scores are rewritten by the next tile
    }

    write_result<kPartial>(a, partial, h, i, running_max, running_sum, acc);
}

// One block per head: rescales every split's partial result to the common
// maximum and normalises by the combined sum. Empty splits (sum 0) add nothing.
__global__ void __launch_bounds__(kThreads) attention_combine_kernel(const float* partial, int n_splits, int hd,
                                                                     float* out) {
    const int h = blockIdx.x;
    const float* p = partial + static_cast<int64_t>(h) * n_splits * (hd + 2);
    float global_max = -INFINITY;
    for (int s = 0; s < n_splits; ++s) {
        if (p[s * (hd + 2) + 1] > 0.0f) global_max = fmaxf(global_max, p[s * (hd + 2)]);
    }
    float total = 0.0f;
    for (int s = 0; s < n_splits; ++s) {
        const float sum = p[s * (hd + 2) + 1];
        if (sum > 0.0f) total += sum * expf(p[s * (hd + 2)] - global_max);
    }
    for (int d = threadIdx.x; d < hd; d += kThreads) {
        float v = 0.0f;
        for (int s = 0; s < n_splits; ++s) {
            const float* split = p + s * (hd + 2);
            if (split[1] > 0.0f) v += split[2 + d] * expf(split[0] - global_max);
        }
        out[static_cast<int64_t>(h) * hd + d] = v / total;
    }
}

}  // namespace

int attention_splits(int64_t n_keys) { return splits_for(n_keys); }

void launch_attention(const AttentionLaunch& a, float* partial, cudaStream_t stream) {
    if (a.n_tokens <= 0) return;
    if (a.head_dim <= 0 || a.head_dim > kMaxHeadDim || a.head_dim % 2 != 0) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "attention: head dimension ", a.head_dim, " is not supported on the GPU (even, <= ",
             kMaxHeadDim, ")");
    }
    if (a.n_head_kv <= 0 || a.n_head % a.n_head_kv != 0) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "attention: ", a.n_head, " heads are not a multiple of ", a.n_head_kv,
             " KV heads");
    }
    if (a.n_tokens * a.n_head > 0x7FFFFFFF) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "attention: ", a.n_tokens, " query rows of ", a.n_head,
             " heads exceed the grid");
    }
    if (reinterpret_cast<uintptr_t>(a.k_cache) % 4 != 0 || a.k_stride % 2 != 0 || a.head_dim % 2 != 0) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "attention: K cache rows are not 4-byte aligned");
    }
    // One query row: split the keys (into one split when they are few), so
    // that an eager step and a replayed one compute alike.
    if (a.n_tokens == 1 && partial != nullptr) {
        int splits = kMaxAttentionSplits;  // the key count is only known on the device
        if (a.pos_dev == nullptr) {
            const int64_t pos = a.pos0;
            const int64_t first = a.window > 0 ? std::max<int64_t>(0, pos - a.window + 1) : 0;
            splits = attention_splits(pos + 1 - first);
        }
        const dim3 grid(static_cast<unsigned>(a.n_head), static_cast<unsigned>(splits));
        attention_kernel<true><<<grid, kThreads, 0, stream>>>(a, partial);
        check_launch("attention_kernel<split>");
        attention_combine_kernel<<<static_cast<unsigned>(a.n_head), kThreads, 0, stream>>>(partial, splits, a.head_dim,
                                                                                         a.out);
        check_launch("attention_combine_kernel");
        return;
    }
    if (a.pos_dev != nullptr) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "attention: a position in device memory needs one query row and split storage");
    }
    const auto blocks = static_cast<unsigned>(a.n_tokens * a.n_head);
    attention_kernel<false><<<blocks, kThreads, 0, stream>>>(a, nullptr);
    check_launch("attention_kernel");
}

}  // namespace worker::cuda
