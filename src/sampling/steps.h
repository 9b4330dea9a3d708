// The steps that decide which id is sampled, written once as __host__
// __device__ code (WORKER_HD): src/sampling/sampler.cpp runs them in order on
// the CPU, and the CUDA kernels (cuda/kernels_sampling.cu) run the
// element-wise ones in parallel and the sequential ones on one thread, so
// that both devices choose the same id from the same logits and draw. On the
// device every operation is rounded explicitly (IEEE round-to-nearest) so
// that nothing is fused into a multiply-add the host would not make.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "quant/hd.h"
#include "quant/rn_math.h"

namespace worker::sampling::steps {

// The repetition penalty of one logit: positive logits shrink, negative grow.
WORKER_HD float penalise(float logit, float penalty) { return logit > 0.0f ? logit / penalty : logit * penalty; }

// Whether (value, id) wins the greedy argmax over the best so far: a larger
// value, or an equal one with a lower id.
WORKER_HD bool wins_argmax(float value, int32_t id, float best_value, int32_t best_id) {
    return value > best_value || (value == best_value && id < best_id);
}

// logit / temperature; or, when the largest logit over the temperature is
// not finite (a temperature so small that the quotient overflows), the
// logit's distance below the largest over the temperature. Both keep the
// candidates' order; the second keeps every value finite or -inf with the
// largest at 0, so softmax gives the limit T -> 0 (all probability on the
// largest logit) instead of inf - inf = NaN.
WORKER_HD float scale_logit(float logit, float max_logit, float temperature) {
#if defined(__CUDA_ARCH__)
    if (isfinite(__fdiv_rn(max_logit, temperature))) return __fdiv_rn(logit, temperature);
    return __fdiv_rn(__fsub_rn(logit, max_logit), temperature);
#else
    if (std::isfinite(max_logit / temperature)) return logit / temperature;
    return (logit - max_logit) / temperature;
#endif
}

// Float to a key whose unsigned order is the float order; -0 and +0 share a
// key. Candidates are ranked by key, larger first, equal keys by lower id:
// the CPU sorts with ranks_before, the GPU radix-sorts the keys stably in
// descending order, which is the same ranking.
WORKER_HD uint32_t order_key(float f) {
    if (f == 0.0f) f = 0.0f;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

WORKER_HD bool ranks_before(uint32_t key_a, int32_t id_a, uint32_t key_b, int32_t id_b) {
    return key_a > key_b || (key_a == key_b && id_a < id_b);
}

// The unnormalised probability of a candidate: exp of its (non-positive)
// distance below the largest scaled logit, computed in double and rounded
// once to float. Nearly correctly rounded, so the host's and the device's
// exp agree except where their double results straddle a float rounding
// boundary (~2^-29 of inputs); expf does not offer that across libraries.
WORKER_HD float exp_prob(float diff) { return static_cast<float>(exp(static_cast<double>(diff))); }

// p[0] + p[1] + ... + p[n - 1] in double, in that order.
WORKER_HD double sum_in_order(const float* p, int64_t n) {
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) total = add_rn(total, static_cast<double>(p[i]));
    return total;
}

// A candidate's share of `total` (sum_in_order of the unnormalised ones).
WORKER_HD float normalise(float e, double total) { return static_cast<float>(div_rn(static_cast<double>(e), total)); }

// How many of the sorted probabilities p[0..n) top-p keeps: the shortest
// prefix whose cumulative mass reaches top_p (all of them when top_p >= 1).
WORKER_HD int64_t top_p_count(const float* p, int64_t n, float top_p) {
    if (!(top_p < 1.0f)) return n;
    double cumulative = 0.0;
    int64_t keep = 0;
    while (keep < n) {
        cumulative = add_rn(cumulative, static_cast<double>(p[keep]));
        ++keep;
        if (cumulative >= static_cast<double>(top_p)) break;
    }
    return keep;
}

// How many of the sorted probabilities p[0..n) min-p keeps: those at least
// min_p times the largest (always the largest itself).
WORKER_HD int64_t min_p_count(const float* p, int64_t n, float min_p) {
    if (!(min_p > 0.0f)) return n;
    const float threshold = mul_rn(min_p, p[0]);
    int64_t keep = 1;
    while (keep < n && p[keep] >= threshold) ++keep;
    return keep;
}

// The sequential end of sampling over probabilities already normalised and
// sorted: top-p, min-p, then the first candidate whose cumulative mass
// exceeds `uniform` times the mass kept. Returns the index into p.
WORKER_HD int64_t draw(const float* p, int64_t n, float top_p, float min_p, double uniform) {
    const int64_t count = min_p_count(p, top_p_count(p, n, top_p), min_p);
    const double target = mul_rn(uniform, sum_in_order(p, count));
    double cumulative = 0.0;
    for (int64_t i = 0; i < count; ++i) {
        cumulative = add_rn(cumulative, static_cast<double>(p[i]));
        if (target < cumulative) return i;
    }
    return count - 1;  // rounding left the target at the very top
}

}  // namespace worker::sampling::steps
