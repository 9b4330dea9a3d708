// The opaque handles of the C ABI and the registries of live handles.
//
// A handle is not the address of an object: it is a number drawn once from a
// process-wide counter and never drawn again, so a stale handle (already
// freed) can never name a newer object, whatever the allocator reuses. The
// handle types stay incomplete; a handle is never dereferenced.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "core/context.h"
#include "core/inference.h"
#include "core/model.h"
#include "worker_types.h"

namespace worker::ffi {

// The next handle value: non-zero, 16-byte aligned like a real allocation,
// unique among all handles of every type for the life of the process.
uintptr_t next_handle_value() noexcept;

// Live handles of one type and the implementation each stands for.
template <typename Handle, typename Impl>
class Registry {
public:
    // Registers `impl` under a fresh handle. On bad_alloc nothing is registered.
    Handle* add(std::shared_ptr<Impl> impl) {
        const uintptr_t value = next_handle_value();
        std::lock_guard<std::mutex> lock(mutex_);
        live_.emplace(value, std::move(impl));
        return reinterpret_cast<Handle*>(value);
    }
    // Unregisters `h`; returns what it stood for (null when it was not live).
    // The caller drops it outside the lock.
    std::shared_ptr<Impl> remove(const Handle* h) {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = live_.find(reinterpret_cast<uintptr_t>(h));
        if (it == live_.end()) return nullptr;
        std::shared_ptr<Impl> impl = std::move(it->second);
        live_.erase(it);
        return impl;
    }
    // A reference to what a live handle stands for (null otherwise), so that
    // a concurrent free on another thread cannot pull it away mid-call.
    std::shared_ptr<Impl> find(const Handle* h) {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = live_.find(reinterpret_cast<uintptr_t>(h));
        return it == live_.end() ? nullptr : it->second;
    }

private:
    std::mutex mutex_;
    std::unordered_map<uintptr_t, std::shared_ptr<Impl>> live_;
};

Registry<CudaContext, Context>& contexts();
Registry<CudaModel, Model>& models();
Registry<InferenceResult, Inference>& inferences();

}  // namespace worker::ffi
