#include "device_memory.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <set>

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

// Every live ledger, for the process figure. Never destroyed: ledgers may
// die during exit.
std::mutex& registry_mutex() {
    static auto* m = new std::mutex();
    return *m;
}
std::set<const VramLedger*>& registry() {
    static auto* ledgers = new std::set<const VramLedger*>();
    return *ledgers;
}

}  // namespace

VramLedger::VramLedger(int device) : device_(device) {
    std::lock_guard<std::mutex> lock(registry_mutex());
    registry().insert(this);
}

VramLedger::~VramLedger() {
    std::lock_guard<std::mutex> lock(registry_mutex());
    registry().erase(this);
}

uint64_t process_device_bytes(int device) {
    std::lock_guard<std::mutex> lock(registry_mutex());
    uint64_t total = 0;
    for (const VramLedger* ledger : registry()) {
        if (ledger->device() == device) total += ledger->usage().total();
    }
    return total;
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
    check_device_not_lost(device_);
    std::lock_guard<std::mutex> lock(mutex_);
    size_t checked = 0;
    for (const auto& [ptr, entry] : entries_) {
        if (entry.category != category) continue;
        cudaPointerAttributes attributes{};
        const cudaError_t status = cudaPointerGetAttributes(&attributes, ptr);
        if (status != cudaSuccess) {
            if (is_sticky_error(status)) fail_device_lost(device_, status, "the residency check");
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
    if (!entries_.emplace(ptr, Entry{bytes, category, what}).second) {
        fail(CUDA_ERROR_UNKNOWN, "GPU ", device_, ": cudaMalloc returned ", ptr, " for ", what,
             " while the ledger still holds an allocation there");
    }
    bytes_[static_cast<size_t>(category)] += bytes;
    uint64_t total = 0;
    for (const uint64_t b : bytes_) total += b;
    peak_ = std::max(peak_, total);
}

void VramLedger::remove(void* ptr) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = entries_.find(ptr);
    if (it == entries_.end()) return;
    bytes_[static_cast<size_t>(it->second.category)] -= it->second.bytes;
    entries_.erase(it);
}

DeviceMemory::DeviceMemory(VramLedger& ledger, size_t bytes, VramCategory category, std::string what) {
    fault::check(fault::Site::Allocation);
    check_device_not_lost(ledger.device());
    const size_t rounded = (std::max<size_t>(bytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
    void* ptr = nullptr;
    const cudaError_t status = cudaMalloc(&ptr, rounded);
    if (status != cudaSuccess) {
        const int device = current_device();
        if (is_sticky_error(status)) {
            fail_device_lost(device, status, str_cat("cudaMalloc of ", rounded, " bytes for ", what));
        }
        cudaGetLastError();  // an allocation failure is not sticky; leave the runtime clean
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
    ledger_ = &ledger;
    ptr_ = ptr;
    size_ = rounded;
}

DeviceMemory::DeviceMemory(DeviceMemory&& other) noexcept
    : ledger_(other.ledger_), ptr_(other.ptr_), size_(other.size_) {
    other.ledger_ = nullptr;
    other.ptr_ = nullptr;
    other.size_ = 0;
}

DeviceMemory& DeviceMemory::operator=(DeviceMemory&& other) noexcept {
    if (this != &other) {
        release();
        ledger_ = other.ledger_;
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
    // Out of the ledger first: once cudaFree returns, another thread may be
    // given the same address, and its entry must not be the one removed.
    if (ledger_ != nullptr) ledger_->remove(ptr_);
    // cudaFree synchronises the device, so no kernel can still use the memory.
    // Its status is dropped: a destructor cannot report, and a sticky error
    // (a lost device) is reported by the next op of any handle on it.
    if (cudaFree(ptr_) != cudaSuccess) cudaGetLastError();
    ptr_ = nullptr;
    size_ = 0;
    ledger_ = nullptr;
}

}  // namespace worker::cuda
