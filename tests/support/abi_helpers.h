// Small RAII helpers and one-call generation over the public C ABI, for
// tests that exercise the library as its users do.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "worker_ffi.h"

namespace worker::test {

struct ContextDeleter {
    void operator()(CudaContext* c) const { cuda_destroy(c); }
};
struct ModelDeleter {
    void operator()(CudaModel* m) const { cuda_unload_model(m); }
};
struct InferenceDeleter {
    void operator()(InferenceResult* r) const { cuda_inference_free(r); }
};
using ContextPtr = std::unique_ptr<CudaContext, ContextDeleter>;
using ModelPtr = std::unique_ptr<CudaModel, ModelDeleter>;
using InferencePtr = std::unique_ptr<InferenceResult, InferenceDeleter>;

// Outcome of a whole generation: the pieces and the final error code.
struct Generation {
    std::vector<std::string> pieces;
    int error = CUDA_SUCCESS;
    std::string detail;
    std::string text() const;
};

// Starts an inference with `params` and pulls every piece.
Generation generate(CudaModel* model, const std::string& prompt, const WorkerInferenceParams& params);
// Greedy generation of `max_tokens`.
Generation generate_greedy(CudaModel* model, const std::string& prompt, int max_tokens);

}  // namespace worker::test
