#include "device_memory.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>

#include "core/error.h"
#include "core/fault.h"
#include "cuda_check.h"

namespace worker::cuda {

const char* category_name(VramCategory category) {
    switch (category) {
        case VramCategory::Weights: return "weights";
        case VramCategory::KvCache: return "kv cache";
        case VramCategory::Activations: return "activations";
        case VramCategory::Scratch: return "scratch";
        default: return "unknown";
    }
}

namespace {

// Process-wide bytes by device, for cuda_get_process_vram_usage.
std::mutex process_mutex;
std::map<int, uint64_t>& process_bytes() {
    static std::map<int, uint64_t> bytes;
    return bytes;
}

void add_process_bytes(int device, size_t bytes, bool add) noexcept {
    std::lock_guard<std::mutex> lock(process_mutex);
    try {
        uint64_t& total = process_bytes()[device];
        total = add ? total + bytes : total - std::min<uint64_t>(total, bytes);
    } catch (...) {
        // Only the map node allocation can throw; the figure is then left as it was.
    }
}

}  // namespace

uint64_t process_device_bytes(int device) {
    std::lock_guard<std::mutex> lock(process_mutex);
    const auto it = process_bytes().find(device);
    return it == process_bytes().end() ? 0 : it->second;
}

VramUsage VramLedger::usage() const {
    std::lock_guard<std::mutex> lock(mutex_);
    VramUsage u;
    u.weights = bytes_[static_cast<size_t>(VramCategory::Weights)];
    u.kv_cache = bytes_[static_cast<size_t>(VramCategory::KvCache)];
    u.activations = bytes_[static_cast<size_t>(VramCategory::Activations)];
    u.scratch = bytes_[static_cast<size_t>(VramCategory::Scratch)];
    u.peak = peak_;
    return u;
}

size_t VramLedger::count(VramCategory category) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<size_t>(
        std::count_if(entries_.begin(), entries_.end(), [&](const auto& e) { return e.second.category == category; }));
}

size_t VramLedger::check_residency(VramCategory category) const {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t checked = 0;
    for (const auto& [ptr, entry] : entries_) {
        if (entry.category != category) continue;
        cudaPointerAttributes attributes{};
        const cudaError_t status = cudaPointerGetAttributes(&attributes, ptr);
        if (status != cudaSuccess) {
            cudaGetLastError();
            fail(CUDA_ERROR_VRAM_RESIDENCY_FAILED, entry.what, " (", entry.bytes,
                 " bytes): cudaPointerGetAttributes failed: ", cudaGetErrorName(status));
        }
        if (attributes.type != cudaMemoryTypeDevice || attributes.hostPointer != nullptr) {
            fail(CUDA_ERROR_VRAM_RESIDENCY_FAILED, entry.what, " (", entry.bytes, " bytes) is not plain device memory:",
                 " memory type ", static_cast<int>(attributes.type), ", host pointer ", attributes.hostPointer);
        }
        ++checked;
    }
    return checked;
}

void VramLedger::add(void* ptr, size_t bytes, VramCategory category, std::string what) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.emplace(ptr, Entry{bytes, category, std::move(what)});
    bytes_[static_cast<size_t>(category)] += bytes;
    uint64_t total = 0;
    for (const uint64_t b : bytes_) total += b;
    peak_ = std::max(peak_, total);
}

void VramLedger::remove(void* ptr) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = entries_.find(ptr);
    if (it == entries_.end()) return;
    bytes_[static_cast<size_t>(it->second.category)] -= it->second.bytes;
    entries_.erase(it);
}

DeviceMemory::DeviceMemory(VramLedger& ledger, size_t bytes, VramCategory category, std::string what) {
    fault::check(fault::Site::Allocation);
    const size_t rounded = (std::max<size_t>(bytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
    void* ptr = nullptr;
    const cudaError_t status = cudaMalloc(&ptr, rounded);
    if (status != cudaSuccess) {
        cudaGetLastError();  // an allocation failure is not sticky; leave the runtime clean
        int device = -1;
        cudaGetDevice(&device);
        size_t free_bytes = 0, total_bytes = 0;
        if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) cudaGetLastError();
        const CudaErrorCode code =
            status == cudaErrorMemoryAllocation ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_UNKNOWN;
        fail(code, "GPU ", device, ": cannot allocate ", category_name(category), " for ", what, ": required ",
             rounded, " bytes, available ", free_bytes, " of ", total_bytes, " bytes (", cudaGetErrorName(status),
             ")");
    }
    if ((reinterpret_cast<uintptr_t>(ptr) % kAlignment) != 0) {
        cudaFree(ptr);
        fail(CUDA_ERROR_UNKNOWN, "cudaMalloc returned memory that is not ", kAlignment, "-byte aligned");
    }
    try {
        ledger.add(ptr, rounded, category, std::move(what));
    } catch (...) {
        cudaFree(ptr);
        throw;
    }
    if (cudaGetDevice(&device_) != cudaSuccess) {
        cudaGetLastError();
        device_ = -1;
    }
    add_process_bytes(device_, rounded, true);
    ledger_ = &ledger;
    ptr_ = ptr;
    size_ = rounded;
}

DeviceMemory::DeviceMemory(DeviceMemory&& other) noexcept
    : ledger_(other.ledger_), device_(other.device_), ptr_(other.ptr_), size_(other.size_) {
    other.ledger_ = nullptr;
    other.ptr_ = nullptr;
    other.size_ = 0;
}

DeviceMemory& DeviceMemory::operator=(DeviceMemory&& other) noexcept {
    if (this != &other) {
        release();
        ledger_ = other.ledger_;
        device_ = other.device_;
        ptr_ = other.ptr_;
        size_ = other.size_;
        other.ledger_ = nullptr;
        other.ptr_ = nullptr;
        other.size_ = 0;
    }
    return *this;
}

DeviceMemory::~DeviceMemory() { release(); }

void DeviceMemory::release() noexcept {
    if (ptr_ == nullptr) return;
    // cudaFree synchronises the device, so no kernel can still use the memory.
    // Its status is dropped: a destructor cannot report, and a sticky error
    // will surface at the next checked call.
    cudaFree(ptr_);
    if (ledger_ != nullptr) ledger_->remove(ptr_);
    add_process_bytes(device_, size_, false);
    ptr_ = nullptr;
    size_ = 0;
    ledger_ = nullptr;
}

size_t staging_chunk_bytes() {
    constexpr size_t kDefault = size_t{1} << 20;
    const char* env = std::getenv("WORKER_CUDA_STAGING_BYTES");
    if (env == nullptr || *env == '\0') return kDefault;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(env, &end, 10);
    if (end == env || *end != '\0') return kDefault;
    return std::clamp<size_t>(static_cast<size_t>(v), size_t{64} << 10, size_t{256} << 20);
}

}  // namespace worker::cuda
