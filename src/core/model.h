// A model loaded onto a context's device.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/context.h"
#include "gguf/gguf_file.h"

namespace worker {

class Model {
public:
    // Throws Error(CUDA_ERROR_MODEL_LOAD_FAILED, ...) for a bad file,
    // CUDA_ERROR_OUT_OF_MEMORY when the device cannot hold it.
    static std::shared_ptr<Model> load(std::shared_ptr<Context> context, const std::string& path);

    const Context& context() const { return *context_; }
    const gguf::File& file() const { return *file_; }

    // Bytes of weights the model holds on its device.
    uint64_t weight_bytes() const { return weight_bytes_; }
    // Weights plus the state of the model's live inferences.
    uint64_t device_bytes() const;
    // Throws Error(CUDA_ERROR_VRAM_RESIDENCY_FAILED) naming the allocation
    // that is not resident; returns true otherwise.
    bool check_residency() const;

private:
    Model(std::shared_ptr<Context> context, std::shared_ptr<const gguf::File> file);

    std::shared_ptr<Context> context_;
    std::shared_ptr<const gguf::File> file_;
    uint64_t weight_bytes_ = 0;
};

}  // namespace worker
