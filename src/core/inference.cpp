#include "core/inference.h"

#include <cmath>

#include "core/error.h"
#include "core/fault.h"

namespace worker {

struct Inference::State {};

void validate(const SamplingParams& p) {
    auto bad = [](const auto&... parts) { fail(CUDA_ERROR_INVALID_PARAMETER, parts...); };
    if (p.max_tokens < 1) bad("max_tokens must be >= 1, got ", p.max_tokens);
    if (!(p.temperature >= 0.0f && p.temperature <= 2.0f)) bad("temperature must be in [0, 2], got ", p.temperature);
    if (p.top_k < 0) bad("top_k must be >= 0 (0 = off), got ", p.top_k);
    if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) bad("top_p must be in (0, 1], got ", p.top_p);
    if (!(p.min_p >= 0.0f && p.min_p < 1.0f)) bad("min_p must be in [0, 1), got ", p.min_p);
    if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty)) {
        bad("repetition_penalty must be a finite value > 0, got ", p.repetition_penalty);
    }
    for (size_t i = 0; i < p.stop.size(); ++i) {
        if (p.stop[i].empty()) bad("stop string ", i, " is empty");
    }
}

std::unique_ptr<Inference> Inference::start(std::shared_ptr<Model> model, std::string_view prompt,
                                            const SamplingParams& params) {
    fault::check(fault::Site::Boundary);
    validate(params);
    (void)model;
    (void)prompt;
    fail(CUDA_ERROR_INFERENCE_FAILED, "no forward pass in this build");
}

Inference::~Inference() = default;

const Inference::Piece* Inference::peek() { return nullptr; }

void Inference::pop() {}

}  // namespace worker
