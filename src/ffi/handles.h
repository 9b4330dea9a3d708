// The opaque handle types of the C ABI and the registry of live handles that
// lets every function recognise NULL, foreign and already freed handles.
#pragma once

#include <memory>
#include <mutex>
#include <unordered_set>

#include "core/context.h"
#include "core/inference.h"
#include "core/model.h"

struct CudaContext {
    std::shared_ptr<worker::Context> impl;
};

struct CudaModel {
    std::shared_ptr<worker::Model> impl;
};

struct InferenceResult {
    std::unique_ptr<worker::Inference> impl;
};

namespace worker::ffi {

// Live handles of one type. A handle is registered when it is created and
// removed before it is deleted, so a freed pointer is never dereferenced.
template <typename Handle>
class Registry {
public:
    void add(Handle* h) {
        std::lock_guard<std::mutex> lock(mutex_);
        live_.insert(h);
    }
    // True when `h` was live and is now removed (the caller deletes it).
    bool remove(Handle* h) {
        std::lock_guard<std::mutex> lock(mutex_);
        return live_.erase(h) != 0;
    }
    bool contains(const Handle* h) {
        std::lock_guard<std::mutex> lock(mutex_);
        return live_.count(const_cast<Handle*>(h)) != 0;
    }
    // Copies the handle's shared implementation under the lock, so that a
    // concurrent free on another thread cannot pull it away mid-call.
    template <typename Impl>
    std::shared_ptr<Impl> lock_impl(const Handle* h) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (live_.count(const_cast<Handle*>(h)) == 0) return nullptr;
        return h->impl;
    }

private:
    std::mutex mutex_;
    std::unordered_set<Handle*> live_;
};

Registry<CudaContext>& contexts();
Registry<CudaModel>& models();
Registry<InferenceResult>& inferences();

}  // namespace worker::ffi
