#include "cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/context.h"
#include "core/error.h"
#include "cuda_check.h"
#include "kernels.h"
#include "model/backend.h"

namespace worker::cuda {

namespace {

using model::Tensor;

// Up to this many activation rows a matmul runs the matrix-vector kernels
// (weights read once per row, from L2 after the first); beyond it, cuBLAS.
constexpr int64_t kMaxMatvecRows = 8;
// Budget of the FP16 buffer a quantized weight is expanded into, a chunk of
// rows at a time, for cuBLAS.
constexpr size_t kDequantChunkBytes = size_t{64} << 20;
// cuBLAS workspace, given from our accounted scratch (the size NVIDIA
// recommends for Hopper; plenty for Ampere/Ada).
constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;
// Failed captures of one session's decode step after which that session
// stops trying and runs every step eagerly.
constexpr int kMaxCaptureFailures = 3;

const char* type_name(GgmlType type) {
    const char* name = type_traits(type).name;
    return name != nullptr ? name : "unknown";
}

// Elements between rows of an F32/F16/I32 tensor.
int64_t stride_of(const Tensor& t, size_t element_size, const char* op, const char* what) {
    if (t.ne1 <= 1 && t.nb1 == 0) return t.ne0;
    if (t.nb1 % element_size != 0) {
        fail(CUDA_ERROR_INFERENCE_FAILED, op, ": ", what, " row stride of ", t.nb1, " bytes is not a multiple of ",
             element_size);
    }
    return static_cast<int64_t>(t.nb1 / element_size);
}

void require_type(const Tensor& t, GgmlType type, const char* op, const char* what) {
    if (t.type != type) {
        fail(CUDA_ERROR_INFERENCE_FAILED, op, ": ", what, " must be ", type_name(type), ", got ", type_name(t.type));
    }
    if (t.data == nullptr && t.ne0 * t.ne1 > 0) fail(CUDA_ERROR_INFERENCE_FAILED, op, ": ", what, " has no memory");
}

float* f32(const Tensor& t) { return static_cast<float*>(t.data); }

VramCategory category_for(const char* purpose) {
    std::string p = purpose != nullptr ? purpose : "";
    std::transform(p.begin(), p.end(), p.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (p.find("kv") != std::string::npos || p.find("cache") != std::string::npos) return VramCategory::KvCache;
    return VramCategory::Activations;
}

class CudaBuffer final : public model::Buffer {
public:
    CudaBuffer(std::shared_ptr<VramLedger> ledger, DeviceMemory memory, size_t bytes)
        : Buffer(memory.get(), bytes), ledger_(std::move(ledger)), memory_(std::move(memory)) {}

private:
    std::shared_ptr<VramLedger> ledger_;  // outlives memory_ (declared first, destroyed last)
    DeviceMemory memory_;
};

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
    // Decode steps are captured once per session in a CUDA graph and replayed
    // unless settings.cuda_graphs is off (every kernel of every step launched).
    CudaBackend(int device, const Settings& settings)
        : device_(device), ledger_(std::make_shared<VramLedger>(device)), graphs_enabled_(settings.cuda_graphs) {
        activate();
        try {
            check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
            check_cublas(cublasCreate(&cublas_), "cublasCreate");
            check_cublas(cublasSetStream(cublas_, stream_), "cublasSetStream");
            const size_t chunk = settings.cuda_staging_bytes;
            for (int i = 0; i < 2; ++i) {
                staging_[i] = PinnedHost(chunk);
                check_cuda(cudaEventCreateWithFlags(&staging_free_[i], cudaEventDisableTiming), "cudaEventCreate");
            }
            readback_ = PinnedHost(sizeof(int32_t) * 2);
            flags_ = DeviceMemory(*ledger_, sizeof(int32_t) * 2, VramCategory::Scratch, "error flag");
            position_ = DeviceMemory(*ledger_, sizeof(int32_t), VramCategory::Scratch, "decode step position");
            check_cuda(cudaMemsetAsync(flags_.get(), 0, sizeof(int32_t) * 2, stream_), "cudaMemsetAsync (flags)");
            check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (backend creation)");
        } catch (...) {
            destroy();
            throw;
        }
    }

    ~CudaBackend() override { destroy(); }

    std::string name() const override { return str_cat("cuda:", device_); }

    const VramLedger& ledger() const { return *ledger_; }
    GraphStats graph_stats() const { return graph_stats_; }

    // ---- memory ------------------------------------------------------------

    Tensor upload_weight(const gguf::File& file, const gguf::TensorInfo& info) override {
        const OpScope scope(*this);
        refuse_in_capture(__func__);
        Tensor t;
        t.type = info.type;
        t.ne0 = static_cast<int64_t>(info.dims.empty() ? 1 : info.dims[0]);
        t.ne1 = t.ne0 > 0 ? static_cast<int64_t>(info.n_elements / static_cast<uint64_t>(t.ne0)) : 0;
        t.nb1 = t.row_bytes();
        if (t.nb1 * static_cast<size_t>(t.ne1) != info.n_bytes) {
            fail(CUDA_ERROR_MODEL_LOAD_FAILED, "tensor '", info.name, "' of ", file.path(), ": ", info.n_bytes,
                 " bytes do not hold ", t.ne1, " rows of ", t.nb1, " bytes");
        }
        // The whole file is compared with the free VRAM before its first
        // weight. A file is told apart by its path and size, never by its
        // address: a File freed and another opened may share an address.
        if (weights_.empty() || file.path() != checked_path_ || file.file_size() != checked_size_) {
            check_model_fits(file);
            checked_path_ = file.path();
            checked_size_ = file.file_size();
        }
        DeviceMemory memory(*ledger_, info.n_bytes, VramCategory::Weights,
                            str_cat("weight '", info.name, "' of ", file.path()));
        try {
            copy_staged(static_cast<uint8_t*>(memory.get()), file.tensor_data(info), info.n_bytes, info.name);
        } catch (...) {
            // Copies may still be in flight into `memory`: let them land before it is freed.
            cudaStreamSynchronize(stream_);
            throw;
        }
        t.data = memory.get();
        weights_.push_back(std::move(memory));
        max_weight_cols_ = std::max(max_weight_cols_, t.ne0);
        return t;
    }

    uint64_t weight_bytes() const override { return ledger_->usage().weights; }
    std::optional<uint64_t> device_memory_bytes() const override { return ledger_->usage().total(); }

    std::unique_ptr<model::Buffer> allocate(size_t bytes, const char* purpose) override {
        const OpScope scope(*this);
        refuse_in_capture(__func__);
        const char* what = purpose != nullptr ? purpose : "buffer";
        DeviceMemory memory(*ledger_, bytes, category_for(purpose), what);
        return std::make_unique<CudaBuffer>(ledger_, std::move(memory), bytes);
    }

    GgmlType kv_type() const override { return GgmlType::F16; }

    // Every allocation the ledger knows (weights, KV cache, activations,
    // scratch) must be plain device memory.
    void check_residency() const override {
        activate();
        for (int c = 0; c < static_cast<int>(VramCategory::kCount); ++c) {
            ledger_->check_residency(static_cast<VramCategory>(c));
        }
    }

    void write(const Tensor& dst, const void* host, size_t bytes) override {
        const OpScope scope(*this);
        refuse_in_capture(__func__);
        check_copy(dst, bytes, "write");
        if (bytes == 0) return;
        check_cuda(cudaMemcpyAsync(dst.data, host, bytes, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync (write)");
        // From pageable memory the runtime has consumed the source when the call
        // returns; from pinned memory it has not, so wait: the caller may reuse it.
        cudaPointerAttributes attributes{};
        if (cudaPointerGetAttributes(&attributes, host) != cudaSuccess) {
            cudaGetLastError();
        } else if (attributes.type == cudaMemoryTypeHost) {
            check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (write from pinned memory)");
        }
    }

    void read(const Tensor& src, void* host, size_t bytes) override {
        const OpScope scope(*this);
        refuse_in_capture(__func__);
        check_copy(src, bytes, "read");
        if (bytes > 0) {
            check_cuda(cudaMemcpyAsync(host, src.data, bytes, cudaMemcpyDeviceToHost, stream_),
                       "cudaMemcpyAsync (read)");
        }
        finish("read");
    }

    void copy(const Tensor& src, const Tensor& dst, size_t bytes) override {
        const OpScope scope(*this);
        refuse_in_capture(__func__);
        check_copy(src, bytes, "copy");
        check_copy(dst, bytes, "copy");
        if (bytes > 0) {
            check_cuda(cudaMemcpyAsync(dst.data, src.data, bytes, cudaMemcpyDeviceToDevice, stream_),
                       "cudaMemcpyAsync (copy)");
        }
    }

    void synchronize() override {
        const OpScope scope(*this);
        refuse_in_capture(__func__);
        finish("synchronize");
    }

    // ---- ops -----------------------------------------------------------------

    void embed(const Tensor& table, const Tensor& ids, const Tensor& out) override {
        const OpScope scope(*this);
        require_type(ids, GgmlType::I32, "embed", "ids");
        require_type(out, GgmlType::F32, "embed", "out");
        const int64_t n = ids.ne0 * ids.ne1;
        if (out.ne0 != table.ne0 || out.ne1 < n) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "embed: out [", out.ne1, "][", out.ne0, "] cannot hold ", n,
                 " rows of ", table.ne0);
        }
        if (!can_dequantize_on_device(table.type)) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "embed: table type ", type_name(table.type), " is not supported");
        }
        launch_embed(table.type, table.data, table.nb1, table.ne0, table.ne1, static_cast<const int32_t*>(ids.data),
                     n, f32(out), stride_of(out, 4, "embed", "out"), embed_flag(), stream_);
    }

    void matmul(const Tensor& w, const Tensor& x, const Tensor& out) override {
        const OpScope scope(*this);
        require_type(x, GgmlType::F32, "matmul", "x");
        require_type(out, GgmlType::F32, "matmul", "out");
        if (x.ne0 != w.ne0 || out.ne0 != w.ne1 || out.ne1 != x.ne1) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "matmul: shapes do not match: w [", w.ne1, "][", w.ne0, "], x [", x.ne1,
                 "][", x.ne0, "], out [", out.ne1, "][", out.ne0, "]");
        }
        const int64_t n = x.ne1;
        const int64_t xs = stride_of(x, 4, "matmul", "x");
        const int64_t os = stride_of(out, 4, "matmul", "out");
        if (n == 0 || w.ne1 == 0) return;
        const bool is_float = w.type == GgmlType::F32 || w.type == GgmlType::F16;
        if (n <= kMaxMatvecRows && is_float) {
            launch_matvec_float(w.type, w.data, w.nb1, w.ne1, w.ne0, f32(x), xs, n, f32(out), os, stream_);
            return;
        }
        if (n <= kMaxMatvecRows && has_q8_matvec(w.type)) {
            if (w.ne0 % 32 != 0) fail(CUDA_ERROR_INFERENCE_FAILED, "matmul: row of ", w.ne0, " is not a multiple of 32");
            if (w.type == GgmlType::Q4_K && (reinterpret_cast<uintptr_t>(w.data) % 16 != 0 || w.nb1 % 16 != 0)) {
                fail(CUDA_ERROR_INFERENCE_FAILED, "matmul: Q4_K weight rows are not 16-byte aligned");
            }
            auto* xq = decode_activation_blocks(w.ne0);
            launch_quantize_q8(w.type, f32(x), xs, w.ne0, n, xq, stream_);
            launch_matvec_q8(w.type, w.data, w.nb1, w.ne1, w.ne0, xq, n, f32(out), os, stream_);
            return;
        }
        gemm(w, x, xs, out, os);
    }

    void add(const Tensor& a, const Tensor& b, const Tensor& out) override {
        const OpScope scope(*this);
        require_type(a, GgmlType::F32, "add", "a");
        require_type(b, GgmlType::F32, "add", "b");
        require_type(out, GgmlType::F32, "add", "out");
        const bool broadcast = b.ne1 == 1 && a.ne1 != 1;
        if (a.ne0 != b.ne0 || (!broadcast && a.ne1 != b.ne1) || out.ne0 != a.ne0 || out.ne1 != a.ne1) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "add: shapes [", a.ne1, "][", a.ne0, "] and [", b.ne1, "][", b.ne0,
                 "] do not match");
        }
        launch_add(f32(a), stride_of(a, 4, "add", "a"), f32(b), broadcast ? 0 : stride_of(b, 4, "add", "b"), f32(out),
                   stride_of(out, 4, "add", "out"), a.ne0, a.ne1, stream_);
    }

    void scale(const Tensor& x, float s) override {
        const OpScope scope(*this);
        require_type(x, GgmlType::F32, "scale", "x");
        launch_scale(f32(x), stride_of(x, 4, "scale", "x"), x.ne0, x.ne1, s, stream_);
    }

    void rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) override {
        const OpScope scope(*this);
        require_type(x, GgmlType::F32, "rms_norm", "x");
        require_type(out, GgmlType::F32, "rms_norm", "out");
        if (!weight.empty()) {
            require_type(weight, GgmlType::F32, "rms_norm", "weight");
            if (weight.ne0 != x.ne0) {
                fail(CUDA_ERROR_INFERENCE_FAILED, "rms_norm: weight of ", weight.ne0, " for rows of ", x.ne0);
            }
        }
        if (out.ne0 != x.ne0 || out.ne1 != x.ne1) fail(CUDA_ERROR_INFERENCE_FAILED, "rms_norm: out shape differs from x");
        launch_rms_norm(f32(x), stride_of(x, 4, "rms_norm", "x"), weight.empty() ? nullptr : f32(weight), eps, f32(out),
                        stride_of(out, 4, "rms_norm", "out"), x.ne0, x.ne1, stream_);
    }

    void rope(const Tensor& x, const model::RopeParams& p) override {
        const OpScope scope(*this);
        require_type(x, GgmlType::F32, "rope", "x");
        if (x.ne0 != static_cast<int64_t>(p.n_head) * p.head_dim || p.n_rot > p.head_dim || p.n_rot % 2 != 0 ||
            p.n_rot < 0) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "rope: row of ", x.ne0, " does not hold ", p.n_head, " heads of ",
                 p.head_dim, " rotating ", p.n_rot);
        }
        launch_rope(f32(x), stride_of(x, 4, "rope", "x"), x.ne1, p.n_head, p.head_dim, p.n_rot, p.pos0,
                    step_position("rope", p.pos0), p.freq_base,
                    p.freq_scale, p.neox, stream_);
    }

    void swiglu(const Tensor& gate, const Tensor& up, const Tensor& out) override { glu(Glu::Silu, gate, up, out); }
    void geglu(const Tensor& gate, const Tensor& up, const Tensor& out) override { glu(Glu::GeluTanh, gate, up, out); }

    void copy_to_cache(const Tensor& src, const Tensor& cache, int32_t pos) override {
        const OpScope scope(*this);
        require_type(src, GgmlType::F32, "copy_to_cache", "src");
        require_type(cache, GgmlType::F16, "copy_to_cache", "cache");
        if (src.ne0 != cache.ne0 || pos < 0 || pos + src.ne1 > cache.ne1) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "copy_to_cache: ", src.ne1, " rows of ", src.ne0, " at ", pos,
                 " do not fit a cache of ", cache.ne1, " rows of ", cache.ne0);
        }
        launch_copy_to_cache(f32(src), stride_of(src, 4, "copy_to_cache", "src"), src.ne0, src.ne1,
                             static_cast<uint16_t*>(cache.data), stride_of(cache, 2, "copy_to_cache", "cache"), pos,
                             step_position("copy_to_cache", pos), stream_);
    }

    void attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, const model::AttentionParams& p,
                   const Tensor& out) override {
        const OpScope scope(*this);
        require_type(q, GgmlType::F32, "attention", "q");
        require_type(out, GgmlType::F32, "attention", "out");
        require_type(k_cache, GgmlType::F16, "attention", "k_cache");
        require_type(v_cache, GgmlType::F16, "attention", "v_cache");
        const int64_t n = q.ne1;
        const int hd = p.head_dim;
        if (p.n_head <= 0 || p.n_head_kv <= 0 || p.n_head % p.n_head_kv != 0 ||
            q.ne0 != static_cast<int64_t>(p.n_head) * hd || k_cache.ne0 != static_cast<int64_t>(p.n_head_kv) * hd ||
            v_cache.ne0 != k_cache.ne0 || p.pos0 < 0 || p.pos0 + n > k_cache.ne1 || p.pos0 + n > v_cache.ne1 ||
            out.ne0 != q.ne0 || out.ne1 != n) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "attention: q [", n, "][", q.ne0, "] and cache [", k_cache.ne1, "][",
                 k_cache.ne0, "] do not fit ", p.n_head, "/", p.n_head_kv, " heads of ", hd, " at ", p.pos0);
        }
        AttentionLaunch a{};
        a.q = f32(q);
        a.q_stride = stride_of(q, 4, "attention", "q");
        a.k_cache = static_cast<const uint16_t*>(k_cache.data);
        a.k_stride = stride_of(k_cache, 2, "attention", "k_cache");
        a.v_cache = static_cast<const uint16_t*>(v_cache.data);
        a.v_stride = stride_of(v_cache, 2, "attention", "v_cache");
        a.out = f32(out);
        a.out_stride = stride_of(out, 4, "attention", "out");
        a.n_tokens = n;
        a.n_head = p.n_head;
        a.n_head_kv = p.n_head_kv;
        a.head_dim = hd;
        a.pos0 = p.pos0;
        a.pos_dev = step_position("attention", p.pos0);
        a.scale = p.scale;
        a.window = p.window;
        float* partial = nullptr;
        if (n == 1) {
            // Sized for the most splits on every decode step (not only the
            // long ones), so nothing grows inside a captured step.
            partial = static_cast<float*>(
                ensure(attention_partial_, static_cast<size_t>(attention_partial_floats(p.n_head, hd)) * sizeof(float),
                       "attention partial results", Graphs::UseIt));
        }
        launch_attention(a, partial, stream_);
    }

    // ---- sampling ----------------------------------------------------------------

    int32_t sample(const Tensor& logits, const sampling::Settings& settings, std::span<const int32_t> history,
                   double uniform) override {
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

private:
    // Makes the device current; refuses at once when it was lost.
    void activate() const {
        check_device_not_lost(device_);
        check_cuda(cudaSetDevice(device_), "cudaSetDevice");
    }

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

public:
    // ---- decode steps in CUDA graphs ----------------------------------------------

    // The first decode step of a session runs eagerly (it sizes the scratch
    // buffers a step uses); the second is captured into a graph, which is
    // instantiated once and launched; every later step only writes the new
    // position to device memory and replays that graph — the forward pass is
    // not even recorded. The kernels of a captured step read the position
    // from `position_` (rope, copy_to_cache, attention; the attention's key
    // count and splits follow from it on the device), and everything else a
    // step touches sits at fixed addresses for the life of the session.
    //
    // A capture that fails (an op that cannot be captured, a driver that
    // refuses the graph) costs nothing but time: the step is recorded again
    // and run eagerly, and after kMaxCaptureFailures failures the session
    // stops trying. A failure of the step itself is reported by that eager
    // run, and a lost device is reported at once.
    void decode_step(uint64_t session, int32_t pos, const std::function<void()>& record) override {
        {
            const OpScope scope(*this);
            refuse_in_capture("decode_step");
        }
        if (!graphs_enabled_) {
            record();
            return;
        }
        StepGraph& graph = graphs_[session];
        if (graph.exec != nullptr) {
            const OpScope scope(*this);
            launch_set_position(static_cast<int32_t*>(position_.get()), pos, stream_);
            check_cuda(cudaGraphLaunch(graph.exec, stream_), "cudaGraphLaunch (decode step)");
            ++graph_stats_.launches;
            ++graph_stats_.replays;
            return;
        }
        if (!graph.warm || graph.failed_captures >= kMaxCaptureFailures) {
            record();
            graph.warm = true;
            return;
        }
        if (capture_step(graph, pos, record)) return;
        if (++graph.failed_captures == kMaxCaptureFailures) ++graph_stats_.sessions_without_graph;
        ++graph_stats_.eager_after_failed_capture;
        record();
    }

    void forget_session(uint64_t session) noexcept override {
        const auto it = graphs_.find(session);
        if (it == graphs_.end()) return;
        if (it->second.exec != nullptr) {
            cudaSetDevice(device_);
            // The session's memory is freed next: let a replay still running finish.
            if (cudaStreamSynchronize(stream_) != cudaSuccess) cudaGetLastError();
            cudaGraphExecDestroy(it->second.exec);
        }
        graphs_.erase(it);
    }

    // Test hook (cuda::fail_next_captures): the next `n` captures are made to
    // fail as a capture the driver invalidates does.
    void fail_next_captures(int n) { injected_capture_failures_ = n; }

private:
    struct StepGraph {
        bool warm = false;               // an eager step has sized the scratch buffers
        int failed_captures = 0;         // captures of this session's step that failed
        cudaGraphExec_t exec = nullptr;  // the captured step
    };

    // Captures the step and launches the graph: true. False when the capture
    // failed (nothing of the step ran, the stream is out of capture mode and
    // clean); a lost device throws.
    bool capture_step(StepGraph& graph, int32_t pos, const std::function<void()>& record) {
        activate();
        // The position the replays overwrite, in stream order before the step.
        launch_set_position(static_cast<int32_t*>(position_.get()), pos, stream_);
        check_cuda(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
        capturing_ = true;
        capture_failed_ = false;
        capture_pos_ = pos;
        cudaGraph_t captured = nullptr;
        try {
            record();
            if (injected_capture_failures_ > 0) {
                --injected_capture_failures_;
                // Querying a stream that is being captured is not allowed: the
                // driver invalidates the capture, as it does for any op that
                // cannot be captured.
                if (cudaStreamQuery(stream_) != cudaSuccess) cudaGetLastError();
                capture_failed_ = true;
            }
        } catch (...) {
            capture_failed_ = true;
        }
        capturing_ = false;
        const cudaError_t status = cudaStreamEndCapture(stream_, &captured);
        struct GraphOwner {
            cudaGraph_t g;
            ~GraphOwner() {
                if (g != nullptr) cudaGraphDestroy(g);
            }
        } owner{captured};
        if (is_sticky_error(status)) fail_device_lost(device_, status, "cudaStreamEndCapture (decode step)");
        check_device_not_lost(device_);
        if (status != cudaSuccess || captured == nullptr || capture_failed_) {
            cudaGetLastError();  // the capture's own (non-sticky) error
            ++graph_stats_.abandoned;
            return false;
        }
        const cudaError_t instantiated = cudaGraphInstantiate(&graph.exec, captured, 0);
        if (instantiated != cudaSuccess) {
            if (is_sticky_error(instantiated)) fail_device_lost(device_, instantiated, "cudaGraphInstantiate");
            cudaGetLastError();
            graph.exec = nullptr;
            ++graph_stats_.abandoned;
            return false;
        }
        ++graph_stats_.instantiations;
        check_cuda(cudaGraphLaunch(graph.exec, stream_), "cudaGraphLaunch (decode step)");
        ++graph_stats_.launches;
        return true;
    }

    // Inside a capture, where the position a kernel must read from device
    // memory (so that replays can change it); null outside one.
    const int32_t* step_position(const char* op, int64_t host_pos) const {
        if (!capturing_) return nullptr;
        if (host_pos != capture_pos_) {
            fail(CUDA_ERROR_INFERENCE_FAILED, op, ": position ", host_pos, " inside a decode step at position ",
                 capture_pos_, " cannot be captured in a graph");
        }
        return static_cast<const int32_t*>(position_.get());
    }

    // Operations that synchronise, copy from the host or allocate end a step:
    // inside a captured step they are an error of the forward pass.
    void refuse_in_capture(const char* what) const {
        if (capturing_) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "GPU ", device_, ": ", what,
                 " inside a decode step that is being captured in a CUDA graph");
        }
    }

    // Executable graphs point at the scratch buffers a decode step uses: when
    // one of those is replaced, every graph is dropped and re-captured on its
    // session's next step.
    void drop_graphs() noexcept {
        for (auto& [session, graph] : graphs_) {
            if (graph.exec != nullptr) {
                cudaGraphExecDestroy(graph.exec);
                graph.exec = nullptr;
                ++graph_stats_.dropped;
            }
        }
    }

    int* embed_flag() const { return static_cast<int*>(flags_.get()); }

    // Every status is dropped: on a lost device each call returns the
    // sticky error at once (nothing waits), and the memory still leaves the
    // ledger.
    void destroy() noexcept {
        cudaSetDevice(device_);
        if (stream_ != nullptr && cudaStreamSynchronize(stream_) != cudaSuccess) cudaGetLastError();
        drop_graphs();
        graphs_.clear();
        weights_.clear();
        q8_decode_ = DeviceMemory();
        q8_prefill_ = DeviceMemory();
        half_x_ = DeviceMemory();
        half_w_ = DeviceMemory();
        row_exponents_ = DeviceMemory();
        cublas_workspace_ = DeviceMemory();
        sampler_ = DeviceMemory();
        sort_temp_ = DeviceMemory();
        attention_partial_ = DeviceMemory();
        flags_ = DeviceMemory();
        position_ = DeviceMemory();
        for (cudaEvent_t& e : staging_free_) {
            if (e != nullptr) cudaEventDestroy(e);
            e = nullptr;
        }
        staging_[0] = PinnedHost();
        staging_[1] = PinnedHost();
        readback_ = PinnedHost();
        if (cublas_ != nullptr) cublasDestroy(cublas_);
        cublas_ = nullptr;
        if (stream_ != nullptr) cudaStreamDestroy(stream_);
        stream_ = nullptr;
    }

    // Before the first weight of a file: when all its tensors cannot fit in
    // the free VRAM, fail at once with the whole model's figures rather than
    // after uploading part of it.
    void check_model_fits(const gguf::File& file) const {
        uint64_t required = 0;
        for (const gguf::TensorInfo& t : file.tensors()) {
            required += (std::max<uint64_t>(t.n_bytes, 1) + DeviceMemory::kAlignment - 1) / DeviceMemory::kAlignment *
                        DeviceMemory::kAlignment;
        }
        size_t free_bytes = 0, total_bytes = 0;
        if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
            cudaGetLastError();
            return;  // the allocations themselves will report
        }
        if (required > free_bytes) {
            fail(CUDA_ERROR_OUT_OF_MEMORY, "GPU ", device_, ": model ", file.path(), " needs ", required,
                 " bytes of weights in VRAM (required), available ", free_bytes, " of ", total_bytes, " bytes");
        }
    }

    // Waits for the stream and reports a fault of any op before it, or an
    // out-of-range token id seen by embed.
    void finish(const char* what) {
        auto* host = static_cast<int32_t*>(readback_.get());
        check_cuda(cudaMemcpyAsync(host, flags_.get(), sizeof(int32_t), cudaMemcpyDeviceToHost, stream_),
                   "cudaMemcpyAsync (error flag)");
        const cudaError_t status = cudaStreamSynchronize(stream_);
        if (status != cudaSuccess) {
            if (is_sticky_error(status)) fail_device_lost(device_, status, str_cat("a stream synchronisation (", what, ")"));
            cudaGetLastError();
            fail(CUDA_ERROR_INFERENCE_FAILED, "GPU ", device_, ": queued kernels failed (seen at ", what,
                 "): ", cudaGetErrorName(status), " (", cudaGetErrorString(status), ")");
        }
        if (host[0] != 0) {
            check_cuda(cudaMemsetAsync(flags_.get(), 0, sizeof(int32_t), stream_), "cudaMemsetAsync (error flag)");
            check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (error flag)");
            fail(CUDA_ERROR_INFERENCE_FAILED, "embed: a token id was outside the vocabulary (seen at ", what, ")");
        }
    }

    void check_copy(const Tensor& t, size_t bytes, const char* what) const {
        const size_t capacity = t.row_bytes() * static_cast<size_t>(std::max<int64_t>(t.ne1, 0));
        if (!t.contiguous() && t.ne1 > 1) fail(CUDA_ERROR_INFERENCE_FAILED, what, ": the tensor is not contiguous");
        if (bytes > capacity) {
            fail(CUDA_ERROR_INFERENCE_FAILED, what, ": ", bytes, " bytes do not fit a tensor of ", capacity, " bytes");
        }
    }

    // Host to device through the two pinned staging buffers: the host copy
    // of chunk i + 1 overlaps the DMA of chunk i.
    void copy_staged(uint8_t* dst, const uint8_t* src, size_t bytes, const std::string& name) {
        const size_t chunk = staging_[0].size();
        size_t slot = 0;
        for (size_t offset = 0; offset < bytes; offset += chunk, slot ^= 1) {
            const size_t n = std::min(chunk, bytes - offset);
            // The previous copy out of this buffer must be done before it is refilled.
            check_cuda(cudaEventSynchronize(staging_free_[slot]), "cudaEventSynchronize (staging)");
            std::memcpy(staging_[slot].get(), src + offset, n);
            const cudaError_t status =
                cudaMemcpyAsync(dst + offset, staging_[slot].get(), n, cudaMemcpyHostToDevice, stream_);
            if (status != cudaSuccess) check_cuda(status, str_cat("upload of '", name, "'").c_str());
            check_cuda(cudaEventRecord(staging_free_[slot], stream_), "cudaEventRecord (staging)");
        }
    }

    // Whether executable graphs point at a scratch buffer: only those that a
    // decode step uses (the 8-bit activations of the matrix-vector path and
    // the attention's split results).
    enum class Graphs { UseIt, DoNotUseIt };

    // A scratch buffer of at least `bytes`, grown (never shrunk) as needed.
    // Replacing a buffer that graphs use drops every graph.
    void* ensure(DeviceMemory& buffer, size_t bytes, const char* what, Graphs graphs) {
        if (buffer.size() >= bytes && !buffer.empty()) return buffer.get();
        if (capturing_) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "GPU ", device_, ": ", what, " would grow to ", bytes,
                 " bytes inside a captured decode step");
        }
        // The old buffer may still be read by queued kernels.
        check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (scratch growth)");
        if (graphs == Graphs::UseIt && !buffer.empty()) drop_graphs();
        buffer = DeviceMemory();
        buffer = DeviceMemory(*ledger_, bytes, VramCategory::Scratch, what);
        return buffer.get();
    }

    // The 8-bit activation blocks of the matrix-vector path (at most
    // kMaxMatvecRows rows): sized once for the widest weight the backend
    // holds, so that neither a longer prompt nor another session replaces
    // the buffer the captured decode steps point at.
    BlockQ8Act* decode_activation_blocks(int64_t cols) {
        const int64_t widest = std::max(max_weight_cols_, cols);
        const size_t bytes = static_cast<size_t>(kMaxMatvecRows * (widest / 32)) * sizeof(BlockQ8Act);
        return static_cast<BlockQ8Act*>(ensure(q8_decode_, bytes, "quantized activations (decode)", Graphs::UseIt));
    }

    void glu(Glu kind, const Tensor& gate, const Tensor& up, const Tensor& out) {
        const OpScope scope(*this);
        const char* op = kind == Glu::Silu ? "swiglu" : "geglu";
        require_type(gate, GgmlType::F32, op, "gate");
        require_type(up, GgmlType::F32, op, "up");
        require_type(out, GgmlType::F32, op, "out");
        if (gate.ne0 != up.ne0 || gate.ne1 != up.ne1 || out.ne0 != gate.ne0 || out.ne1 != gate.ne1) {
            fail(CUDA_ERROR_INFERENCE_FAILED, op, ": shapes [", gate.ne1, "][", gate.ne0, "] and [", up.ne1, "][",
                 up.ne0, "] do not match");
        }
        launch_glu(kind, f32(gate), stride_of(gate, 4, op, "gate"), f32(up), stride_of(up, 4, op, "up"), f32(out),
                   stride_of(out, 4, op, "out"), gate.ne0, gate.ne1, stream_);
    }

    // out = x w^T through cuBLAS: F32 weights directly; F16 weights and
    // quantized ones (expanded to half a chunk of rows at a time into a
    // reused scratch buffer) against half activations, each activation row
    // scaled by a power of two into half's range first and its products
    // scaled back after (half_scaling.h). FP32 accumulation throughout.
    void gemm(const Tensor& w, const Tensor& x, int64_t xs, const Tensor& out, int64_t os) {
        const int64_t rows = w.ne1, cols = w.ne0, n = x.ne1;
        if (rows > 0x7FFFFFFF || cols > 0x7FFFFFFF || n > 0x7FFFFFFF || xs > 0x7FFFFFFF || os > 0x7FFFFFFF) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "matmul: [", rows, "][", cols, "] x ", n, " exceeds cuBLAS's int sizes");
        }
        if (cublas_workspace_.empty()) {
            ensure(cublas_workspace_, kCublasWorkspaceBytes, "cuBLAS workspace", Graphs::DoNotUseIt);
            check_cublas(cublasSetWorkspace(cublas_, cublas_workspace_.get(), cublas_workspace_.size()),
                         "cublasSetWorkspace");
        }
        const float alpha = 1.0f, beta = 0.0f;
        if (w.type == GgmlType::F32) {
            check_cublas(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows), static_cast<int>(n),
                                      static_cast<int>(cols), &alpha, w.data, CUDA_R_32F,
                                      static_cast<int>(w.nb1 / 4), x.data, CUDA_R_32F, static_cast<int>(xs), &beta,
                                      out.data, CUDA_R_32F, static_cast<int>(os), CUBLAS_COMPUTE_32F,
                                      CUBLAS_GEMM_DEFAULT),
                         "cublasGemmEx (F32 matmul)");
            return;
        }
        if (w.type != GgmlType::F16 && !can_dequantize_on_device(w.type)) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "matmul: weight type ", type_name(w.type), " is not supported");
        }
        auto* xh = static_cast<uint16_t*>(
            ensure(half_x_, static_cast<size_t>(n * cols) * 2, "half activations", Graphs::DoNotUseIt));
        auto* exponents = static_cast<int32_t*>(
            ensure(row_exponents_, static_cast<size_t>(n) * sizeof(int32_t), "activation row scales", Graphs::DoNotUseIt));
        if (w.type == GgmlType::F16 || cols % 32 != 0) {
            launch_to_half_scaled(f32(x), xs, cols, n, xh, exponents, stream_);
        } else {
            // Quantized weights: the activations go through the same 8-bit
            // quantization as on the CPU backend (and the decode path), then to
            // half, so prefill and decode round the activations alike.
            auto* xq = static_cast<BlockQ8Act*>(ensure(q8_prefill_, static_cast<size_t>(n * (cols / 32)) * sizeof(BlockQ8Act),
                                                       "quantized activations (prefill)", Graphs::DoNotUseIt));
            launch_quantize_q8(w.type, f32(x), xs, cols, n, xq, stream_);
            launch_q8_to_half_scaled(xq, cols, n, xh, exponents, stream_);
        }
        if (w.type == GgmlType::F16) {
            check_cublas(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows), static_cast<int>(n),
                                      static_cast<int>(cols), &alpha, w.data, CUDA_R_16F,
                                      static_cast<int>(w.nb1 / 2), xh, CUDA_R_16F, static_cast<int>(cols), &beta,
                                      out.data, CUDA_R_32F, static_cast<int>(os), CUBLAS_COMPUTE_32F,
                                      CUBLAS_GEMM_DEFAULT),
                         "cublasGemmEx (F16 matmul)");
        } else {
            const int64_t chunk_rows = std::clamp<int64_t>(
                static_cast<int64_t>(kDequantChunkBytes / (static_cast<size_t>(cols) * 2)), 1, 65535);
            const int64_t buffer_rows = std::min(chunk_rows, rows);
            auto* wh = static_cast<uint16_t*>(ensure(half_w_, static_cast<size_t>(buffer_rows * cols) * 2,
                                                     "dequantized weight chunk", Graphs::DoNotUseIt));
            for (int64_t r0 = 0; r0 < rows; r0 += buffer_rows) {
                const int64_t rc = std::min(buffer_rows, rows - r0);
                launch_dequantize_f16(w.type, w.data, w.nb1, r0, rc, cols, wh, stream_);
                check_cublas(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rc), static_cast<int>(n),
                                          static_cast<int>(cols), &alpha, wh, CUDA_R_16F, static_cast<int>(cols), xh,
                                          CUDA_R_16F, static_cast<int>(cols), &beta, f32(out) + r0, CUDA_R_32F,
                                          static_cast<int>(os), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                             "cublasGemmEx (dequantized matmul)");
            }
        }
        launch_unscale_rows(f32(out), os, rows, n, exponents, stream_);
    }

    // One allocation for the sampler's per-vocabulary arrays, made when the
    // vocabulary size is first seen.
    void prepare_sampler(int64_t n) {
        if (sampler_n_ == n) return;
        const size_t temp = sampler_sort_temp_bytes(n);
        ensure(sort_temp_, temp, "sampler sort storage", Graphs::DoNotUseIt);
        sort_temp_bytes_ = temp;
        ensure(sampler_, sampler_layout(n).total, "sampler arrays", Graphs::DoNotUseIt);
        sampler_n_ = n;
    }

    // The sampler's arrays in one allocation, the history of distinct ids
    // (at most one per vocabulary entry) among them.
    struct SamplerLayout {
        size_t logits, scaled, keys, ids, probs, history, result, total;
    };
    static SamplerLayout sampler_layout(int64_t n) {
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

    SamplerScratch sampler_scratch(int64_t n) const {
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

    int device_;
    std::shared_ptr<VramLedger> ledger_;
    cudaStream_t stream_ = nullptr;
    cublasHandle_t cublas_ = nullptr;
    PinnedHost staging_[2];
    cudaEvent_t staging_free_[2] = {nullptr, nullptr};
    PinnedHost readback_;  // [0] error flag, [1] sampled id
    std::vector<DeviceMemory> weights_;
    DeviceMemory flags_;
    DeviceMemory q8_decode_;      // graphs use it
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

}  // namespace

std::unique_ptr<model::Backend> make_cuda_backend(const Context& context) {
    if (context.is_cpu()) fail(CUDA_ERROR_INVALID_DEVICE, "the CUDA backend needs a GPU context, not the CPU device");
    return std::make_unique<CudaBackend>(context.device(), context.settings());
}

bool is_cuda_backend(const model::Backend& backend) { return dynamic_cast<const CudaBackend*>(&backend) != nullptr; }

size_t check_weight_residency(const model::Backend& backend) {
    const auto* cuda = dynamic_cast<const CudaBackend*>(&backend);
    if (cuda == nullptr) return 0;
    return cuda->ledger().check_residency(VramCategory::Weights);
}

size_t check_all_residency(const model::Backend& backend) {
    const auto* cuda = dynamic_cast<const CudaBackend*>(&backend);
    if (cuda == nullptr) return 0;
    size_t checked = 0;
    for (int c = 0; c < static_cast<int>(VramCategory::kCount); ++c) {
        checked += cuda->ledger().check_residency(static_cast<VramCategory>(c));
    }
    return checked;
}

GraphStats graph_stats(const model::Backend& backend) {
    const auto* cuda = dynamic_cast<const CudaBackend*>(&backend);
    return cuda == nullptr ? GraphStats{} : cuda->graph_stats();
}

void fail_next_captures(model::Backend& backend, int n) {
    if (auto* cuda = dynamic_cast<CudaBackend*>(&backend)) cuda->fail_next_captures(n);
}

VramUsage vram_usage(const model::Backend& backend) {
    const auto* cuda = dynamic_cast<const CudaBackend*>(&backend);
    return cuda == nullptr ? VramUsage{} : cuda->ledger().usage();
}

}  // namespace worker::cuda
