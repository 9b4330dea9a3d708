// VRAM of the CUDA backend: one RAII type for every device allocation
// (cudaMalloc only — never managed or host-mapped memory), and a ledger that
// accounts for each live allocation by category and can prove residency.
//
// The ledger is the one source of every VRAM figure the library reports:
// a model's (cuda_get_vram_usage) is its backend's ledger total, and the
// process's on a device (cuda_get_process_vram_usage) is the sum of the
// totals of every live ledger on that device. Both count the same bytes —
// each allocation as cudaMalloc was asked for it, rounded up to 256 — so the
// process figure is exactly the sum of its models' figures.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace worker::cuda {

enum class VramCategory : int { Weights = 0, KvCache = 1, Activations = 2, Scratch = 3, kCount = 4 };

const char* category_name(VramCategory category);

struct VramUsage {
    uint64_t weights = 0;
    uint64_t kv_cache = 0;
    uint64_t activations = 0;
    uint64_t scratch = 0;
    uint64_t peak = 0;  // largest total seen since the ledger was made
    uint64_t total() const { return weights + kv_cache + activations + scratch; }
};

// Every live allocation of one backend on one device. Queried from any
// thread (the ABI's usage calls may run while an inference computes), hence
// the mutex. A ledger registers itself for process_device_bytes() while it
// lives.
class VramLedger {
public:
    explicit VramLedger(int device);
    ~VramLedger();
    VramLedger(const VramLedger&) = delete;
    VramLedger& operator=(const VramLedger&) = delete;

    int device() const { return device_; }
    VramUsage usage() const;
    // Throws Error(CUDA_ERROR_VRAM_RESIDENCY_FAILED) naming the first
    // allocation of `category` that cudaPointerGetAttributes does not report
    // as device memory without a host mapping; returns how many it checked.
    size_t check_residency(VramCategory category) const;
    size_t count(VramCategory category) const;

private:
    friend class DeviceMemory;
    struct Entry {
        size_t bytes;
        VramCategory category;
        std::string what;
    };
    // Throws Error(CUDA_ERROR_UNKNOWN) when `ptr` is already entered (a
    // release that forgot its entry: the figures would be wrong).
    void add(void* ptr, size_t bytes, VramCategory category, std::string what);
    void remove(void* ptr) noexcept;

    const int device_;
    mutable std::mutex mutex_;
    std::map<void*, Entry> entries_;
    std::array<uint64_t, static_cast<size_t>(VramCategory::kCount)> bytes_{};
    uint64_t peak_ = 0;
};

// One cudaMalloc allocation, 256-byte aligned and rounded up to 256 bytes,
// entered in a ledger for its lifetime: entered after cudaMalloc returns it,
// removed before cudaFree gives it back (so that an allocation made
// concurrently at the same address never finds it still entered). Move-only.
class DeviceMemory {
public:
    static constexpr size_t kAlignment = 256;

    DeviceMemory() = default;
    // Allocates on the current device, which must be the ledger's. Throws Error(CUDA_ERROR_OUT_OF_MEMORY)
    // with the bytes required and available, the device and `what` (e.g.
    // "weight 'blk.0.attn_q.weight' of /path/model.gguf"); nothing stays
    // allocated on failure. `ledger` must outlive the allocation.
    DeviceMemory(VramLedger& ledger, size_t bytes, VramCategory category, std::string what);
    DeviceMemory(DeviceMemory&& other) noexcept;
    DeviceMemory& operator=(DeviceMemory&& other) noexcept;
    DeviceMemory(const DeviceMemory&) = delete;
    DeviceMemory& operator=(const DeviceMemory&) = delete;
    ~DeviceMemory();

    void* get() const { return ptr_; }
    size_t size() const { return size_; }
    bool empty() const { return ptr_ == nullptr; }

private:
    void release() noexcept;

    VramLedger* ledger_ = nullptr;
    void* ptr_ = nullptr;
    size_t size_ = 0;
};

// The sum of the totals of every live ledger on `device` (all backends of all
// contexts): what the process holds there through this library. Not counted:
// the CUDA runtime's own context memory, cuBLAS's internal handle memory,
// executable CUDA graphs (driver memory), and the health probe's few bytes.
uint64_t process_device_bytes(int device);

}  // namespace worker::cuda
