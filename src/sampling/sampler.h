// Choosing the next token from a row of logits, in the order llama.cpp users
// know: repetition penalty over the prompt and generated tokens, temperature
// (0 = greedy), top-k, top-p, min-p, then one draw from what is left. The
// deciding steps live in sampling/steps.h, shared with the CUDA kernels.
#pragma once

#include <cstdint>
#include <random>
#include <span>

#include "worker_types.h"

namespace worker::sampling {

// The one place the engine takes its defaults from: the ABI's.
inline constexpr WorkerInferenceParams kDefaults = WORKER_INFERENCE_PARAMS_INIT;

// What decides the choice of each token (the rest of a request, such as
// max_tokens and stop strings, is worker::InferenceParams').
struct Settings {
    float temperature = kDefaults.temperature;                // 0: greedy argmax, ties to the lowest id
    int32_t top_k = kDefaults.top_k;                          // 0: off
    float top_p = kDefaults.top_p;                            // 1: off
    float min_p = kDefaults.min_p;                            // 0: off
    float repetition_penalty = kDefaults.repetition_penalty;  // 1: off
};

// Divides positive logits (multiplies negative ones) of every distinct id in
// `history` by `penalty`, in place.
void apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> history, float penalty);

// The lowest id among the largest logits.
int32_t argmax(std::span<const float> logits);

// Applies every step to `logits` (modified in place) and returns the id whose
// cumulative renormalised probability first exceeds `uniform` in [0, 1).
int32_t sample(std::span<float> logits, const Settings& settings, std::span<const int32_t> history, double uniform);

// A uniform double in [0, 1) from the 53 high bits of one generator output,
// defined here (not by a std distribution) so it is the same on every
// standard library and every device.
inline double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace worker::sampling
