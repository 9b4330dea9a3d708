#include "cuda_backend.h"

#include <string>

#include "core/context.h"
#include "core/error.h"
#include "cuda_backend_impl.h"

namespace worker::cuda {

using model::Tensor;

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

// Decode steps are captured once per session in a CUDA graph and replayed
// unless settings.cuda_graphs is off (every kernel of every step launched).
CudaBackend::CudaBackend(int device, const Settings& settings)
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

CudaBackend::~CudaBackend() { destroy(); }

std::string CudaBackend::name() const { return str_cat("cuda:", device_); }

// Makes the device current; refuses at once when it was lost.
void CudaBackend::activate() const {
    check_device_not_lost(device_);
    check_cuda(cudaSetDevice(device_), "cudaSetDevice");
}

// Every status is dropped: on a lost device each call returns the
// sticky error at once (nothing waits), and the memory still leaves the
// ledger.
void CudaBackend::destroy() noexcept {
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

// Waits for the stream and reports a fault of any op before it, or an
// out-of-range token id seen by embed.
void CudaBackend::finish(const char* what) {
    auto* host = static_cast<int32_t*>(readback_.get());
    check_cuda(cudaMemcpyAsync(host, flags_.get(), sizeof(int32_t), cudaMemcpyDeviceToHost, stream_),
               "cudaMemcpyAsync (error flag)");
    const cudaError_t status = cudaStreamSynchronize(stream_);
    if (status != cudaSuccess) {
        if (is_sticky_error(status))
            fail_device_lost(device_, status, str_cat("a stream synchronisation (", what, ")"));
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
