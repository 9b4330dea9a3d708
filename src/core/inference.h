// One generation: prompt evaluation, then one token per step, streamed as
// whole UTF-8 characters.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.h"
#include "sampling/sampler.h"
#include "worker_errors.h"
#include "worker_types.h"

namespace worker {

// What one generation is asked for. Every default is the ABI's
// (WORKER_INFERENCE_PARAMS_INIT, through sampling::kDefaults).
struct InferenceParams {
    int32_t max_tokens = sampling::kDefaults.max_tokens;
    uint64_t seed = sampling::kDefaults.seed;
    sampling::Settings sampling;
    std::vector<std::string> stop;
    // Whether special-token text in the prompt (<|im_start|>, <bos>, ...)
    // becomes those tokens; false tokenizes it as the plain text it is.
    bool parse_special = sampling::kDefaults.parse_special == 1;
    // Record the log-probability of each chosen token, and of the
    // `top_logprobs` most likely ids at each step (0..kMaxTopLogprobs).
    bool logprobs = sampling::kDefaults.logprobs == 1;
    int32_t top_logprobs = sampling::kDefaults.top_logprobs;

    // The ABI's struct as cuda_inference_start_ex() documents it: the first
    // `given->struct_size` bytes are the caller's, fields past them keep
    // their defaults. Throws Error(CUDA_ERROR_INVALID_PARAMETER) for a bad
    // struct_size, parse_special, logprobs or stop list; validate() checks
    // the values.
    static InferenceParams from_abi(const WorkerInferenceParams* given);
};

constexpr int32_t kMaxTopLogprobs = 20;

// Why generation ended (the ABI's WorkerFinishReason has the same values).
enum class FinishReason : int32_t { None = 0, Eos = 1, MaxTokens = 2, Stop = 3, Cancelled = 4, Error = 5 };

// One generated token's log-probability under the model's distribution
// (log-softmax of the raw logits, before penalty, temperature and
// truncation), and the most likely ids at that step, most likely first.
struct TokenLogprob {
    int32_t id = 0;
    float logprob = 0;
};
struct StepLogprobs {
    TokenLogprob chosen;
    std::vector<TokenLogprob> top;
};

// Throws Error(CUDA_ERROR_INVALID_PARAMETER) naming the first value out of range.
void validate(const InferenceParams& params);

class Inference {
public:
    // Prompt tokens evaluated per forward pass: llama.cpp's default physical
    // batch, so a prompt is split where llama.cpp splits it. Between chunks
    // other inferences of the model may step.
    static constexpr int32_t kPrefillChunk = 512;

    // Validates the parameters, tokenizes the prompt and reserves the
    // session; the prompt is evaluated by the first peek(), chunk by chunk,
    // so that cancel() interrupts it.
    static std::shared_ptr<Inference> start(std::shared_ptr<Model> model, std::string_view prompt,
                                            const InferenceParams& params);
    ~Inference();

    struct Piece {
        std::string text;
        int index = 0;
    };
    // The next piece, generating it if needed; nullptr once generation is
    // complete. The piece stays current until pop(), so a caller whose
    // buffer is too small loses nothing.
    const Piece* peek();
    void pop();
    // Ends generation from any thread: the next (or a running) peek() stops
    // at the next step or prefill chunk and reports the end of generation,
    // with finish reason Cancelled.
    void cancel() { cancelled_.store(true, std::memory_order_relaxed); }

    struct Info {
        int32_t prompt_tokens = 0;
        int32_t generated_tokens = 0;  // the end-of-generation token included
        FinishReason finish_reason = FinishReason::None;
        int32_t last_token = -1;  // -1 before the first
        CudaErrorCode error = CUDA_SUCCESS;  // with FinishReason::Error
    };
    // The caller holds call_mutex().
    Info info() const;
    // The log-probabilities of generated token `index` (params.logprobs);
    // Error(CUDA_ERROR_INVALID_PARAMETER) when they were not requested or
    // the token does not exist (yet). The caller holds call_mutex().
    const StepLogprobs& logprobs(int32_t index) const;
    // Held by the ABI around peek()/pop(): one caller at a time.
    std::mutex& call_mutex() { return call_mutex_; }

    // Token ids of the prompt as tokenized, and those generated so far.
    const std::vector<int32_t>& prompt_tokens() const;
    const std::vector<int32_t>& generated_tokens() const;

private:
    Inference() = default;
    struct State;
    std::unique_ptr<State> state_;
    std::atomic<bool> cancelled_{false};
    std::mutex call_mutex_;
};

}  // namespace worker
