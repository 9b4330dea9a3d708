// The CUDA backend: model::Backend on one GPU. Weights, KV cache and
// activations live in cudaMalloc'd VRAM (never managed or mapped memory),
// accounted by category; ops run in order on one stream; prefill products go
// through cuBLAS, decode products through quantized matrix-vector kernels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "device_memory.h"

namespace worker {
class Context;
}
namespace worker::model {
class Backend;
}

namespace worker::cuda {

// The backend of a GPU context. Throws Error when the device cannot be used
// (CUDA_ERROR_INVALID_DEVICE for a CPU context).
std::unique_ptr<model::Backend> make_cuda_backend(const Context& context);

// Whether `backend` is a CUDA backend.
bool is_cuda_backend(const model::Backend& backend);

// Verifies with cudaPointerGetAttributes that every weight allocation of a
// CUDA backend is device memory with no host mapping, and returns how many
// were checked (0 for another backend). Throws
// Error(CUDA_ERROR_VRAM_RESIDENCY_FAILED) naming the first that is not.
size_t check_weight_residency(const model::Backend& backend);

// The same over every allocation of the backend (weights, KV cache,
// activations and scratch).
size_t check_all_residency(const model::Backend& backend);

// VRAM the backend holds, by category (all zero for another backend).
VramUsage vram_usage(const model::Backend& backend);

// What the decode-step CUDA graphs did (on unless Settings::cuda_graphs is off); all
// zero when graphs are off or for another backend.
struct GraphStats {
    uint64_t launches = 0;        // decode steps run as a graph (the captured one included)
    uint64_t instantiations = 0;  // steps captured and instantiated (once per session, again after a drop)
    uint64_t replays = 0;         // steps that only replayed a session's graph
    uint64_t dropped = 0;         // graphs dropped because a scratch buffer they use was replaced
    uint64_t abandoned = 0;       // captures that failed (the step then ran eagerly)
    uint64_t eager_after_failed_capture = 0;  // steps run eagerly because their capture failed
    uint64_t sessions_without_graph = 0;      // sessions that stopped capturing after repeated failures
};
GraphStats graph_stats(const model::Backend& backend);

// Test hook: the next `n` decode-step captures of a CUDA backend fail as a
// capture that the driver invalidates does (nothing for another backend).
void fail_next_captures(model::Backend& backend, int n);

}  // namespace worker::cuda
