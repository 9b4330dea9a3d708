// Sampling on the GPU with the same choice as src/sampling for the same
// logits and uniform draw, so that only the chosen id crosses to the host.
//
// The CPU sampler's order: repetition penalty, greedy argmax (ties to the
// lowest id) when temperature <= 0; otherwise logits / temperature, sorted by
// (value desc, id asc), top-k, softmax over the survivors with a double
// total, top-p (cumulative double >= top_p), min-p (p >= min_p * p_max), and
// the first id whose cumulative double probability exceeds uniform * kept.
// Every sum that the CPU makes sequentially in double is made here by one
// thread in the same order, so the rounding is identical; the element-wise
// steps run in parallel with the same float expressions.
#include <cub/device/device_radix_sort.cuh>
#include <cuda_fp16.h>

#include <cstdint>

#include "core/error.h"
#include "cuda_check.h"
#include "device_util.cuh"
#include "kernels.h"
#include "sampling/temperature.h"
#include "sampling_steps.h"

namespace worker::cuda {

namespace {

constexpr int kThreads = 1024;

// The sampler works on a copy: the logits tensor stays as the forward pass left it.
__global__ void copy_kernel(const float* logits, int64_t n, float* work) {
    for (int64_t i = grid_stride_start(); i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        work[i] = logits[i];
    }
}

// `history` holds distinct ids (deduplicated on the host, as the CPU penalises
// each id once), so no two threads touch the same logit.
__global__ void penalise_kernel(float* work, int64_t n, const int32_t* history, int64_t n_history, float penalty) {
    for (int64_t j = grid_stride_start(); j < n_history; j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int32_t id = history[j];
        if (id < 0 || id >= n) continue;
        work[id] = sampling_steps::penalise(work[id], penalty);
    }
}

struct Best {
    float value;
    int32_t id;
};

// a before b in the CPU's argmax: larger value, then lower id.
__device__ __forceinline__ Best better(Best a, Best b) {
    return (b.value > a.value || (b.value == a.value && b.id < a.id)) ? b : a;
}

// One block: the lowest id among the largest values.
__global__ void __launch_bounds__(kThreads) argmax_kernel(const float* work, int64_t n, int32_t* result) {
    __shared__ Best shared[kThreads / 32];
    Best best{-INFINITY, 0x7FFFFFFF};
    for (int64_t i = threadIdx.x; i < n; i += kThreads) best = better(best, Best{work[i], static_cast<int32_t>(i)});
    for (int offset = 16; offset > 0; offset >>= 1) {
        const Best other{__shfl_xor_sync(kFullMask, best.value, offset), __shfl_xor_sync(kFullMask, best.id, offset)};
        best = better(best, other);
    }
    if (threadIdx.x % 32 == 0) shared[threadIdx.x / 32] = best;
    __syncthreads();
    if (threadIdx.x == 0) {
        Best b = shared[0];
        for (int w = 1; w < kThreads / 32; ++w) b = better(b, shared[w]);
        // Every value -inf (or NaN): the CPU keeps id 0.
        *result = b.id == 0x7FFFFFFF ? 0 : b.id;
    }
}

// `top` holds the id of the largest logit (argmax_kernel's result).
__global__ void scale_for_sort_kernel(const float* work, int64_t n, float temperature, const int32_t* top,
                                      float* scaled, uint32_t* keys, int32_t* ids) {
    const float max_logit = work[*top];
    for (int64_t i = grid_stride_start(); i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const float v = sampling::scale_logit(work[i], max_logit, temperature);
        scaled[i] = v;
        keys[i] = sampling_steps::order_key(v);
        ids[i] = static_cast<int32_t>(i);
    }
}

// One block over the sorted candidates (ids sorted, scaled values by id).
__global__ void __launch_bounds__(kThreads) sample_finish_kernel(const float* scaled, const int32_t* sorted_ids,
                                                                 int64_t n_keep, float top_p, float min_p,
                                                                 double uniform, float* probs, int32_t* result) {
    __shared__ double total_shared;
    const float max_logit = scaled[sorted_ids[0]];
    for (int64_t i = threadIdx.x; i < n_keep; i += kThreads) {
        probs[i] = sampling_steps::exp_prob(scaled[sorted_ids[i]] - max_logit);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        double total = 0.0;
        for (int64_t i = 0; i < n_keep; ++i) total = add_rn(total, static_cast<double>(probs[i]));
        total_shared = total;
    }
    __syncthreads();
    const double total = total_shared;
    for (int64_t i = threadIdx.x; i < n_keep; i += kThreads) {
        probs[i] = static_cast<float>(div_rn(static_cast<double>(probs[i]), total));
    }
    __syncthreads();
    if (threadIdx.x == 0) *result = sorted_ids[sampling_steps::draw(probs, n_keep, top_p, min_p, uniform)];
}

unsigned blocks_for(int64_t n) {
    const int64_t b = (n + 255) / 256;
    return static_cast<unsigned>(b < 1 ? 1 : (b > 4096 ? 4096 : b));
}

}  // namespace

size_t sampler_sort_temp_bytes(int64_t n) {
    size_t bytes = 0;
    check_cuda(cub::DeviceRadixSort::SortPairsDescending(nullptr, bytes, static_cast<const uint32_t*>(nullptr),
                                                         static_cast<uint32_t*>(nullptr),
                                                         static_cast<const int32_t*>(nullptr),
                                                         static_cast<int32_t*>(nullptr), static_cast<int>(n)),
               "cub::DeviceRadixSort size query");
    return bytes;
}

void launch_sample(const SampleLaunch& s, const SamplerScratch& scratch, cudaStream_t stream) {
    if (s.n <= 0 || s.n > 0x7FFFFFFF) fail(CUDA_ERROR_INFERENCE_FAILED, "sample: vocabulary of ", s.n, " is not supported");
    copy_kernel<<<blocks_for(s.n), 256, 0, stream>>>(s.logits, s.n, scratch.logits);
    check_launch("sample_copy_kernel");
    if (s.repetition_penalty != 1.0f && s.n_history > 0) {
        penalise_kernel<<<blocks_for(s.n_history), 256, 0, stream>>>(scratch.logits, s.n, scratch.history,
                                                                     s.n_history, s.repetition_penalty);
        check_launch("sample_penalty_kernel");
    }
    argmax_kernel<<<1, kThreads, 0, stream>>>(scratch.logits, s.n, scratch.result);
    check_launch("sample_argmax_kernel");
    if (s.temperature <= 0.0f) return;
    scale_for_sort_kernel<<<blocks_for(s.n), 256, 0, stream>>>(scratch.logits, s.n, s.temperature, scratch.result,
                                                               scratch.scaled, scratch.keys, scratch.ids);
    check_launch("sample_scale_kernel");
    size_t temp_bytes = scratch.sort_temp_bytes;
    check_cuda(cub::DeviceRadixSort::SortPairsDescending(scratch.sort_temp, temp_bytes, scratch.keys,
                                                         scratch.keys + s.n, scratch.ids, scratch.ids + s.n,
                                                         static_cast<int>(s.n), 0, 32, stream),
               "cub::DeviceRadixSort (sample)");
    check_launch("cub radix sort (sample)");
    const int64_t n_keep = s.top_k > 0 && s.top_k < s.n ? s.top_k : s.n;
    sample_finish_kernel<<<1, kThreads, 0, stream>>>(scratch.scaled, scratch.ids + s.n, n_keep, s.top_p, s.min_p,
                                                     s.uniform, scratch.probs, scratch.result);
    check_launch("sample_finish_kernel");
}

}  // namespace worker::cuda
