// The steps of GPU sampling that decide which id is chosen, written once as
// __host__ __device__ code (WORKER_HD): the kernels in kernels_sampling.cu
// call them, and tests/unit/test_cuda_sampling_steps.cpp runs them on the
// CPU against src/sampling to check they choose the same id. Every
// operation mirrors the CPU sampler's expression, with explicit IEEE
// round-to-nearest arithmetic on the device (quant/rn_math.h) so no
// multiply-add is fused.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "quant/hd.h"
#include "quant/rn_math.h"

namespace worker::cuda::sampling_steps {

// The repetition penalty of one logit.
WORKER_HD float penalise(float logit, float penalty) { return logit > 0.0f ? logit / penalty : logit * penalty; }

// Float to a key whose unsigned order is the float order; -0 and +0 share a
// key, as they compare equal on the CPU. A stable sort of these keys,
// descending, orders candidates as the CPU does: larger value first, equal
// values by lower id.
WORKER_HD uint32_t order_key(float f) {
    if (f == 0.0f) f = 0.0f;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// exp of a (non-positive) logit difference as a float: exp in double,
// rounded once. The CPU sampler calls expf, which disagrees with this in the
// last bit for about 0.06% of inputs (glibc, measured by
// CudaSamplingSteps.ExpFromDoubleAgreesWithExpfAlmostAlways). Such a
// difference moves the cumulative sums by ~1e-8 of one candidate's
// probability, so the choice differs only when the draw lands that close to
// a boundary. If the CPU sampler used this same expression, the two devices
// would differ only where their double exp results straddle a float rounding
// boundary (~2^-29 of inputs).
WORKER_HD float exp_prob(float diff) { return static_cast<float>(exp(static_cast<double>(diff))); }

// The sequential part over probabilities already normalised (p[i] =
// float(e[i] / total)) in sorted order: top-p, min-p, then the draw. Returns
// the index into the sorted candidates.
WORKER_HD int64_t draw(const float* p, int64_t n_keep, float top_p, float min_p, double uniform) {
    int64_t count = n_keep;
    if (top_p < 1.0f) {
        double cumulative = 0.0;
        int64_t keep = 0;
        while (keep < count) {
            cumulative = add_rn(cumulative, static_cast<double>(p[keep]));
            ++keep;
            if (cumulative >= static_cast<double>(top_p)) break;
        }
        count = keep;
    }
    if (min_p > 0.0f) {
        const float threshold = mul_rn(min_p, p[0]);
        int64_t keep = 1;
        while (keep < count && p[keep] >= threshold) ++keep;
        count = keep;
    }
    double kept = 0.0;
    for (int64_t i = 0; i < count; ++i) kept = add_rn(kept, static_cast<double>(p[i]));
    const double target = mul_rn(uniform, kept);
    double cumulative = 0.0;
    for (int64_t i = 0; i < count; ++i) {
        cumulative = add_rn(cumulative, static_cast<double>(p[i]));
        if (target < cumulative) return i;
    }
    return count - 1;  // rounding left the target at the very top
}

}  // namespace worker::cuda::sampling_steps
