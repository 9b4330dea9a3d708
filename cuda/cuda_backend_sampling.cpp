#include <algorithm>
#include <vector>

#include "core/error.h"
#include "cuda_backend_impl.h"

namespace worker::cuda {

using model::Tensor;

int32_t CudaBackend::sample(const Tensor& logits, const sampling::Settings& settings, std::span<const int32_t> history,
                            double uniform) {
    const OpScope scope(*this);
    refuse_in_capture(__func__);
    require_type(logits, GgmlType::F32, "sample", "logits");
    const int64_t n = logits.ne0;
    if (n <= 0) fail(CUDA_ERROR_INFERENCE_FAILED, "sample: empty logits");
    prepare_sampler(n);
    SamplerScratch scratch = sampler_scratch(n);
    std::vector<int32_t> distinct;
    if (settings.repetition_penalty != 1.0f) {
        // The distinct ids inside the vocabulary (the only ones a penalty
        // can touch): at most n of them, which the sampler arrays hold
        // room for, so the history never needs a new allocation.
        for (const int32_t id : history) {
            if (id >= 0 && id < n) distinct.push_back(id);
        }
        std::sort(distinct.begin(), distinct.end());
        distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
        if (!distinct.empty()) {
            check_cuda(cudaMemcpyAsync(scratch.history, distinct.data(), distinct.size() * sizeof(int32_t),
                                       cudaMemcpyHostToDevice, stream_),
                       "cudaMemcpyAsync (sampler history)");
        }
    }
    SampleLaunch s{};
    s.logits = f32(logits);
    s.n = n;
    s.n_history = static_cast<int64_t>(distinct.size());
    s.temperature = settings.temperature;
    s.top_k = settings.top_k;
    s.top_p = settings.top_p;
    s.min_p = settings.min_p;
    s.repetition_penalty = settings.repetition_penalty;
    s.uniform = uniform;
    launch_sample(s, scratch, stream_);
    auto* host = static_cast<int32_t*>(readback_.get());
    check_cuda(cudaMemcpyAsync(host + 1, scratch.result, sizeof(int32_t), cudaMemcpyDeviceToHost, stream_),
               "cudaMemcpyAsync (sampled id)");
    finish("sample");
    return host[1];
}

// One allocation for the sampler's per-vocabulary arrays, made when the
// vocabulary size is first seen.
void CudaBackend::prepare_sampler(int64_t n) {
    if (sampler_n_ == n) return;
    const size_t temp = sampler_sort_temp_bytes(n);
    ensure(sort_temp_, temp, "sampler sort storage", Graphs::DoNotUseIt);
    sort_temp_bytes_ = temp;
    ensure(sampler_, sampler_layout(n).total, "sampler arrays", Graphs::DoNotUseIt);
    sampler_n_ = n;
}

CudaBackend::SamplerLayout CudaBackend::sampler_layout(int64_t n) {
    auto align = [](size_t v) { return (v + 255) / 256 * 256; };
    const size_t un = static_cast<size_t>(n);
    SamplerLayout l{};
    l.logits = 0;
    l.scaled = l.logits + align(un * 4);
    l.keys = l.scaled + align(un * 4);
    l.ids = l.keys + align(un * 8);
    l.probs = l.ids + align(un * 8);
    l.history = l.probs + align(un * 4);
    l.result = l.history + align(un * 4);
    l.total = l.result + 256;
    return l;
}

SamplerScratch CudaBackend::sampler_scratch(int64_t n) const {
    const SamplerLayout l = sampler_layout(n);
    auto* base = static_cast<uint8_t*>(sampler_.get());
    SamplerScratch s{};
    s.logits = reinterpret_cast<float*>(base + l.logits);
    s.scaled = reinterpret_cast<float*>(base + l.scaled);
    s.keys = reinterpret_cast<uint32_t*>(base + l.keys);
    s.ids = reinterpret_cast<int32_t*>(base + l.ids);
    s.probs = reinterpret_cast<float*>(base + l.probs);
    s.history = reinterpret_cast<int32_t*>(base + l.history);
    s.result = reinterpret_cast<int32_t*>(base + l.result);
    s.sort_temp = sort_temp_.get();
    s.sort_temp_bytes = sort_temp_bytes_;
    return s;
}

}  // namespace worker::cuda
