// A model loaded onto a context's device: its file, hyper-parameters,
// tokenizer and the transformer (weights on the device's backend).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/model_facts.h"
#include "gguf/gguf_file.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"

namespace worker {

class Model {
public:
    // Throws Error(CUDA_ERROR_MODEL_LOAD_FAILED, ...) for a bad file or an
    // unsupported architecture, CUDA_ERROR_OUT_OF_MEMORY when the device
    // cannot hold it.
    // `progress` (optional) follows the weights' upload; false cancels the load.
    static std::shared_ptr<Model> load(std::shared_ptr<Context> context, const std::string& path,
                                       const model::LoadProgress& progress = {});

    const Context& context() const { return *context_; }
    const gguf::File& file() const { return *file_; }
    const model::Config& config() const { return transformer_->config(); }
    const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
    // Architecture, name, chat template, weight types...: for cuda_model_get_info().
    const ModelFacts& facts() const { return facts_; }
    model::Transformer& transformer() { return *transformer_; }
    const model::Transformer& transformer() const { return *transformer_; }
    // Held by an inference around each forward step and sampling: the
    // backend serves one caller at a time. Sessions retired while it was
    // held are destroyed when it is released.
    class StepLock {
    public:
        explicit StepLock(Model& model);
        ~StepLock();
        StepLock(const StepLock&) = delete;
        StepLock& operator=(const StepLock&) = delete;

    private:
        Model& model_;
    };
    StepLock lock_step() { return StepLock(*this); }

    // Destroys a session of an inference that is gone, together with the
    // bytes it accounted for. Never waits for another inference's step: when
    // one is running, the session is destroyed as that step ends.
    void retire_session(std::unique_ptr<model::Session> session, int64_t bytes) noexcept;

    // Bytes of weights the model holds on its device.
    uint64_t weight_bytes() const { return weight_bytes_; }
    // On a GPU: every byte of device memory the model's backend holds
    // (weights, the KV caches and activations of its live inferences, its
    // scratch buffers), from the same ledger the process figure sums. On the
    // CPU: weights plus the state of the model's live inferences.
    uint64_t device_bytes() const;
    // Throws Error(CUDA_ERROR_VRAM_RESIDENCY_FAILED) naming the allocation
    // that is not resident, or, on the CPU device with mapped weights, when
    // the file changed on disk or a page of its mapping cannot be read;
    // returns true otherwise.
    bool check_residency() const;
    // Before every forward step: throws Error(CUDA_ERROR_VRAM_RESIDENCY_FAILED)
    // when the weights are read from a mapped file that changed on disk
    // (which could otherwise end the process with SIGBUS, or give wrong
    // results). A fstat: cheap.
    void check_weights_unchanged() const;

    // Inferences report what their sessions hold.
    void add_session_bytes(int64_t delta) { session_bytes_ += static_cast<uint64_t>(delta); }

private:
    // Everything after parsing: configuration, tokenizer, weights on the device.
    static std::shared_ptr<Model> load_parsed(std::shared_ptr<Context> context, std::shared_ptr<const gguf::File> file,
                                              const std::function<double()>& seconds,
                                              const model::LoadProgress& progress);
    Model(std::shared_ptr<Context> context, std::shared_ptr<const gguf::File> file);
    // Destroys the retired sessions; the caller holds step_mutex_.
    void destroy_retired() noexcept;
    // Destroys them when step_mutex_ is free (try-lock), else leaves them to its holder.
    void reap_retired() noexcept;

    struct Retired {
        std::unique_ptr<model::Session> session;
        int64_t bytes;
    };

    std::shared_ptr<Context> context_;
    std::shared_ptr<const gguf::File> file_;
    std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
    std::unique_ptr<model::Transformer> transformer_;
    std::mutex step_mutex_;
    std::mutex retired_mutex_;
    std::vector<Retired> retired_;
    ModelFacts facts_;
    uint64_t weight_bytes_ = 0;
    std::atomic<uint64_t> session_bytes_{0};
};

}  // namespace worker
