// One generation: prompt evaluation, then one token per step, streamed as
// whole UTF-8 characters.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.h"

namespace worker {

struct SamplingParams {
    int32_t max_tokens = 128;
    float temperature = 0.8f;
    uint64_t seed = 0;
    int32_t top_k = 0;
    float top_p = 1.0f;
    float min_p = 0.0f;
    float repetition_penalty = 1.0f;
    std::vector<std::string> stop;
};

// Throws Error(CUDA_ERROR_INVALID_PARAMETER) naming the first value out of range.
void validate(const SamplingParams& params);

class Inference {
public:
    // Validates the parameters, tokenizes and evaluates the prompt.
    static std::unique_ptr<Inference> start(std::shared_ptr<Model> model, std::string_view prompt,
                                            const SamplingParams& params);
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

    // Token ids of the prompt as tokenized, and those generated so far.
    const std::vector<int32_t>& prompt_tokens() const;
    const std::vector<int32_t>& generated_tokens() const;

private:
    Inference() = default;
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace worker
