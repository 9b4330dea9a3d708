#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>

#include "core/error.h"
#include "cuda_backend_impl.h"

namespace worker::cuda {

namespace {

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

}  // namespace

using model::Tensor;

Tensor CudaBackend::upload_weight(const gguf::File& file, const gguf::TensorInfo& info) {
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

// Before the first weight of a file: when all its tensors cannot fit in
// the free VRAM, fail at once with the whole model's figures rather than
// after uploading part of it.
void CudaBackend::check_model_fits(const gguf::File& file) const {
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

// Host to device through the two pinned staging buffers: the host copy
// of chunk i + 1 overlaps the DMA of chunk i.
void CudaBackend::copy_staged(uint8_t* dst, const uint8_t* src, size_t bytes, const std::string& name) {
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

std::unique_ptr<model::Buffer> CudaBackend::allocate(size_t bytes, const char* purpose) {
    const OpScope scope(*this);
    refuse_in_capture(__func__);
    const char* what = purpose != nullptr ? purpose : "buffer";
    DeviceMemory memory(*ledger_, bytes, category_for(purpose), what);
    return std::make_unique<CudaBuffer>(ledger_, std::move(memory), bytes);
}

// Every allocation the ledger knows (weights, KV cache, activations,
// scratch) must be plain device memory.
void CudaBackend::check_residency() const {
    activate();
    for (int c = 0; c < static_cast<int>(VramCategory::kCount); ++c) {
        ledger_->check_residency(static_cast<VramCategory>(c));
    }
}

void CudaBackend::write(const Tensor& dst, const void* host, size_t bytes) {
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

void CudaBackend::read(const Tensor& src, void* host, size_t bytes) {
    const OpScope scope(*this);
    refuse_in_capture(__func__);
    check_copy(src, bytes, "read");
    if (bytes > 0) {
        check_cuda(cudaMemcpyAsync(host, src.data, bytes, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync (read)");
    }
    finish("read");
}

void CudaBackend::copy(const Tensor& src, const Tensor& dst, size_t bytes) {
    const OpScope scope(*this);
    refuse_in_capture(__func__);
    check_copy(src, bytes, "copy");
    check_copy(dst, bytes, "copy");
    if (bytes > 0) {
        check_cuda(cudaMemcpyAsync(dst.data, src.data, bytes, cudaMemcpyDeviceToDevice, stream_),
                   "cudaMemcpyAsync (copy)");
    }
}

void CudaBackend::synchronize() {
    const OpScope scope(*this);
    refuse_in_capture(__func__);
    finish("synchronize");
}

void CudaBackend::check_copy(const Tensor& t, size_t bytes, const char* what) const {
    const size_t capacity = t.row_bytes() * static_cast<size_t>(std::max<int64_t>(t.ne1, 0));
    if (!t.contiguous() && t.ne1 > 1) fail(CUDA_ERROR_INFERENCE_FAILED, what, ": the tensor is not contiguous");
    if (bytes > capacity) {
        fail(CUDA_ERROR_INFERENCE_FAILED, what, ": ", bytes, " bytes do not fit a tensor of ", capacity, " bytes");
    }
}

// A scratch buffer of at least `bytes`, grown (never shrunk) as needed.
// Replacing a buffer that graphs use drops every graph.
void* CudaBackend::ensure(DeviceMemory& buffer, size_t bytes, const char* what, Graphs graphs) {
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

}  // namespace worker::cuda
