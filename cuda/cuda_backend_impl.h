// The class behind cuda_backend.h, private to cuda/. Its member functions
// live in one file per concern:
//   cuda_backend.cpp           creation, destruction, stream errors, the
//                              functions of cuda_backend.h
//   cuda_backend_memory.cpp    weights (staged upload), buffers, copies,
//                              scratch growth, residency
//   cuda_backend_ops.cpp       element-wise ops, rope, KV cache, attention
//   cuda_backend_matmul.cpp    matrix products: quantized matrix-vector
//                              kernels for decode, cuBLAS for prefill
//   cuda_backend_sampling.cpp  sampling on the device
//   cuda_backend_graphs.cpp    decode steps captured in CUDA graphs, replayed
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cuda_backend.h"
#include "cuda_check.h"
#include "device_memory.h"
#include "kernels.h"
#include "core/settings.h"
#include "model/backend.h"

namespace worker::cuda {

// Elements between rows of an F32/F16/I32 tensor.
int64_t stride_of(const model::Tensor& t, size_t element_size, const char* op, const char* what);

// Refuses a tensor of another type, or one without memory.
void require_type(const model::Tensor& t, GgmlType type, const char* op, const char* what);

inline float* f32(const model::Tensor& t) { return static_cast<float*>(t.data); }

// Pinned host memory (page-locked, not mapped into the device's address
// space): staging for uploads and the few bytes read back per step.
class PinnedHost {
public:
    PinnedHost() = default;
    explicit PinnedHost(size_t bytes) {
        check_cuda(cudaHostAlloc(&ptr_, bytes, cudaHostAllocDefault), "cudaHostAlloc (staging)");
        size_ = bytes;
    }
    PinnedHost(PinnedHost&& o) noexcept : ptr_(o.ptr_), size_(o.size_) {
        o.ptr_ = nullptr;
        o.size_ = 0;
    }
    PinnedHost& operator=(PinnedHost&& o) noexcept {
        std::swap(ptr_, o.ptr_);
        std::swap(size_, o.size_);
        return *this;
    }
    ~PinnedHost() {
        if (ptr_ != nullptr) cudaFreeHost(ptr_);
    }
    void* get() const { return ptr_; }
    size_t size() const { return size_; }

private:
    void* ptr_ = nullptr;
    size_t size_ = 0;
};

class CudaBackend final : public model::Backend {
public:
    using Tensor = model::Tensor;

    CudaBackend(int device, const Settings& settings);
    ~CudaBackend() override;

    std::string name() const override;

    const VramLedger& ledger() const { return *ledger_; }
    GraphStats graph_stats() const { return graph_stats_; }

    // ---- memory (cuda_backend_memory.cpp) -------------------------------------

    Tensor upload_weight(const gguf::File& file, const gguf::TensorInfo& info) override;
    uint64_t weight_bytes() const override { return ledger_->usage().weights; }
    std::optional<uint64_t> device_memory_bytes() const override { return ledger_->usage().total(); }
    std::unique_ptr<model::Buffer> allocate(size_t bytes, const char* purpose) override;
    GgmlType kv_type() const override { return GgmlType::F16; }
    void check_residency() const override;
    void write(const Tensor& dst, const void* host, size_t bytes) override;
    void read(const Tensor& src, void* host, size_t bytes) override;
    void copy(const Tensor& src, const Tensor& dst, size_t bytes) override;
    void synchronize() override;

    // ---- ops (cuda_backend_ops.cpp; matmul in cuda_backend_matmul.cpp) --------

    void embed(const Tensor& table, const Tensor& ids, const Tensor& out) override;
    void matmul(const Tensor& w, const Tensor& x, const Tensor& out) override;
    void add(const Tensor& a, const Tensor& b, const Tensor& out) override;
    void scale(const Tensor& x, float s) override;
    void rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) override;
    void rope(const Tensor& x, const model::RopeParams& p) override;
    void swiglu(const Tensor& gate, const Tensor& up, const Tensor& out) override;
    void geglu(const Tensor& gate, const Tensor& up, const Tensor& out) override;
    void copy_to_cache(const Tensor& src, const Tensor& cache, int32_t pos) override;
    void attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, const model::AttentionParams& p,
                   const Tensor& out) override;

    // ---- sampling (cuda_backend_sampling.cpp) ---------------------------------

    int32_t sample(const Tensor& logits, const sampling::Settings& settings, std::span<const int32_t> history,
                   double uniform) override;

    // ---- decode steps in CUDA graphs (cuda_backend_graphs.cpp) ----------------

    void decode_step(uint64_t session, int32_t pos, const std::function<void()>& record) override;
    void forget_session(uint64_t session) noexcept override;

    // Test hook (cuda::fail_next_captures): the next `n` captures are made to
    // fail as a capture the driver invalidates does.
    void fail_next_captures(int n) { injected_capture_failures_ = n; }

private:
    // Opens every public op: makes the device current, and marks an open
    // capture as broken when the op throws (its work never reached the graph).
    class OpScope {
    public:
        explicit OpScope(CudaBackend& backend) : backend_(backend), exceptions_(std::uncaught_exceptions()) {
            backend_.activate();
        }
        ~OpScope() {
            if (backend_.capturing_ && std::uncaught_exceptions() > exceptions_) backend_.capture_failed_ = true;
        }
        OpScope(const OpScope&) = delete;
        OpScope& operator=(const OpScope&) = delete;

    private:
        CudaBackend& backend_;
        int exceptions_;
    };

    struct StepGraph {
        bool warm = false;               // an eager step has sized the scratch buffers
        int failed_captures = 0;         // captures of this session's step that failed
        cudaGraphExec_t exec = nullptr;  // the captured step
    };

    // Whether executable graphs point at a scratch buffer: only those that a
    // decode step uses (the 8-bit activations of the matrix-vector path and
    // the attention's split results).
    enum class Graphs { UseIt, DoNotUseIt };

    // The sampler's arrays in one allocation, the history of distinct ids
    // (at most one per vocabulary entry) among them.
    struct SamplerLayout {
        size_t logits, scaled, keys, ids, probs, history, result, total;
    };

    // cuda_backend.cpp
    void activate() const;
    void destroy() noexcept;
    void finish(const char* what);
    int* embed_flag() const { return static_cast<int*>(flags_.get()); }

    // cuda_backend_memory.cpp
    void check_model_fits(const gguf::File& file) const;
    void check_copy(const Tensor& t, size_t bytes, const char* what) const;
    void copy_staged(uint8_t* dst, const uint8_t* src, size_t bytes, const std::string& name);
    void* ensure(DeviceMemory& buffer, size_t bytes, const char* what, Graphs graphs);

    // cuda_backend_ops.cpp
    void glu(Glu kind, const Tensor& gate, const Tensor& up, const Tensor& out);

    // cuda_backend_matmul.cpp
    BlockQ8Act* decode_activation_blocks(int64_t cols);
    void gemm(const Tensor& w, const Tensor& x, int64_t xs, const Tensor& out, int64_t os);

    // cuda_backend_sampling.cpp
    void prepare_sampler(int64_t n);
    static SamplerLayout sampler_layout(int64_t n);
    SamplerScratch sampler_scratch(int64_t n) const;

    // cuda_backend_graphs.cpp
    bool capture_step(StepGraph& graph, int32_t pos, const std::function<void()>& record);
    const int32_t* step_position(const char* op, int64_t host_pos) const;
    void refuse_in_capture(const char* what) const;
    void drop_graphs() noexcept;

    int device_;
    std::shared_ptr<VramLedger> ledger_;
    cudaStream_t stream_ = nullptr;
    cublasHandle_t cublas_ = nullptr;
    PinnedHost staging_[2];
    cudaEvent_t staging_free_[2] = {nullptr, nullptr};
    PinnedHost readback_;  // [0] error flag, [1] sampled id
    std::vector<DeviceMemory> weights_;
    DeviceMemory flags_;
    DeviceMemory q8_decode_;  // graphs use it
    DeviceMemory q8_prefill_;
    DeviceMemory half_x_;
    DeviceMemory half_w_;
    DeviceMemory row_exponents_;
    DeviceMemory cublas_workspace_;
    DeviceMemory sampler_;
    DeviceMemory sort_temp_;
    DeviceMemory attention_partial_;  // graphs use it
    int64_t sampler_n_ = -1;
    size_t sort_temp_bytes_ = 0;
    int64_t max_weight_cols_ = 0;
    std::string checked_path_;  // the file last checked against the free VRAM: path and size
    size_t checked_size_ = 0;
    DeviceMemory position_;  // the position a replayed decode step reads
    bool graphs_enabled_;
    bool capturing_ = false;
    bool capture_failed_ = false;
    int64_t capture_pos_ = 0;
    int injected_capture_failures_ = 0;
    std::unordered_map<uint64_t, StepGraph> graphs_;  // by session
    GraphStats graph_stats_;
};

}  // namespace worker::cuda
