// VRAM of the CUDA backend: one RAII type for every device allocation
// (cudaMalloc only — never managed or host-mapped memory), and a ledger that
// accounts for each live allocation by category and can prove residency.
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

// Every live allocation of one backend. Queried from any thread (the ABI's
// usage calls may run while an inference computes), hence the mutex.
class VramLedger {
public:
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
    void add(void* ptr, size_t bytes, VramCategory category, std::string what);
    void remove(void* ptr);

    mutable std::mutex mutex_;
    std::map<void*, Entry> entries_;
    std::array<uint64_t, static_cast<size_t>(VramCategory::kCount)> bytes_{};
    uint64_t peak_ = 0;
};

// One cudaMalloc allocation, 256-byte aligned and rounded up to 256 bytes,
// entered in a ledger for its lifetime. Move-only.
class DeviceMemory {
public:
    static constexpr size_t kAlignment = 256;

    DeviceMemory() = default;
    // Allocates on the current device. Throws Error(CUDA_ERROR_OUT_OF_MEMORY)
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
    int device_ = -1;
    void* ptr_ = nullptr;
    size_t size_ = 0;
};

// Bytes of every live DeviceMemory of this process on `device` (all
// backends, all contexts): what the process holds through this library.
uint64_t process_device_bytes(int device);

// The environment's staging chunk size (WORKER_CUDA_STAGING_BYTES, default
// 1 MiB, clamped to [64 KiB, 256 MiB]).
size_t staging_chunk_bytes();

}  // namespace worker::cuda
