// The GPU sampler's decisions (cuda/sampling_steps.h), run on the CPU in the
// order the kernels run them — penalty over the distinct history ids,
// argmax, or keys sorted stably in descending order (as the radix sort does),
// exp rounded from double, a sequential double total, top-p, min-p, the draw —
// must choose exactly the id src/sampling chooses. This checks the algorithm
// and every rounding of the GPU path without a GPU; GpuSampling checks the
// kernels themselves on one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "sampling/sampler.h"
#include "sampling/temperature.h"
#include "sampling_steps.h"

namespace worker {
namespace {

namespace steps = cuda::sampling_steps;

int32_t gpu_order_choice(std::vector<float> work, const sampling::Settings& s, const std::vector<int32_t>& history,
                         double uniform) {
    const auto n = static_cast<int64_t>(work.size());
    if (s.repetition_penalty != 1.0f) {
        std::vector<int32_t> distinct = history;
        std::sort(distinct.begin(), distinct.end());
        distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
        for (const int32_t id : distinct) {
            if (id >= 0 && id < n) work[id] = steps::penalise(work[id], s.repetition_penalty);
        }
    }
    // argmax_kernel runs first in every case: greedy's answer, and the
    // largest logit the scaling needs.
    float best = -INFINITY;
    int32_t best_id = 0x7FFFFFFF;
    for (int64_t i = 0; i < n; ++i) {
        if (work[i] > best || (work[i] == best && i < best_id)) {
            best = work[i];
            best_id = static_cast<int32_t>(i);
        }
    }
    const int32_t top = best_id == 0x7FFFFFFF ? 0 : best_id;
    if (s.temperature <= 0.0f) return top;
    std::vector<float> scaled(work.size());
    std::vector<uint32_t> keys(work.size());
    std::vector<int32_t> ids(work.size());
    for (int64_t i = 0; i < n; ++i) {
        scaled[i] = sampling::scale_logit(work[i], work[top], s.temperature);
        keys[i] = steps::order_key(scaled[i]);
    }
    std::iota(ids.begin(), ids.end(), 0);
    std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return keys[a] > keys[b]; });
    const int64_t n_keep = s.top_k > 0 && s.top_k < n ? s.top_k : n;
    std::vector<float> p(static_cast<size_t>(n_keep));
    const float max_logit = scaled[ids[0]];
    for (int64_t i = 0; i < n_keep; ++i) p[i] = steps::exp_prob(scaled[ids[i]] - max_logit);
    double total = 0.0;
    for (int64_t i = 0; i < n_keep; ++i) total = add_rn(total, static_cast<double>(p[i]));
    for (int64_t i = 0; i < n_keep; ++i) p[i] = static_cast<float>(div_rn(static_cast<double>(p[i]), total));
    return ids[steps::draw(p.data(), n_keep, s.top_p, s.min_p, uniform)];
}

sampling::Settings settings(float t, int k, float p, float m, float r) {
    sampling::Settings x;
    x.temperature = t;
    x.top_k = k;
    x.top_p = p;
    x.min_p = m;
    x.repetition_penalty = r;
    return x;
}

TEST(CudaSamplingSteps, ChooseExactlyAsTheCpuSampler) {
    const std::vector<sampling::Settings> all = {
        settings(0.0f, 0, 1.0f, 0.0f, 1.0f),  settings(0.0f, 0, 1.0f, 0.0f, 1.3f),
        settings(0.8f, 0, 1.0f, 0.0f, 1.0f),  settings(1.0f, 40, 1.0f, 0.0f, 1.0f),
        settings(0.7f, 0, 0.9f, 0.0f, 1.0f),  settings(1.2f, 0, 1.0f, 0.05f, 1.0f),
        settings(0.9f, 50, 0.95f, 0.02f, 1.1f), settings(2.0f, 0, 0.5f, 0.1f, 0.8f),
        settings(1e-38f, 0, 1.0f, 0.0f, 1.0f), settings(1e-45f, 40, 0.9f, 0.0f, 1.0f),
    };
    std::mt19937_64 rng(2024);
    int compared = 0;
    for (const int64_t vocab : {7, 300, 49152}) {
        std::normal_distribution<float> normal(0.0f, 3.0f);
        const int trials = vocab > 1000 ? 3 : 8, draws = vocab > 1000 ? 10 : 24;  // keep the sanitizer runs short
        for (int trial = 0; trial < trials; ++trial) {
            std::vector<float> logits(static_cast<size_t>(vocab));
            for (float& l : logits) l = normal(rng);
            if (trial % 3 == 1) {
                for (float& l : logits) l = std::round(l);  // ties everywhere
            }
            if (vocab > 12 && trial == 2) {
                logits[5] = logits[9] = 30.0f;
                logits[10] = -0.0f;
                logits[11] = 0.0f;
            }
            std::vector<int32_t> history;
            for (int i = 0; i < 40; ++i) history.push_back(static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab)));
            history.push_back(-1);  // ignored by both
            for (const sampling::Settings& s : all) {
                for (int draw = 0; draw < draws; ++draw) {
                    const double u = draw < 4 ? std::vector<double>{0.0, 0.5, 0.999999, 1e-12}[draw]
                                              : sampling::uniform01(rng);
                    std::vector<float> host = logits;
                    const int32_t want = sampling::sample(host, s, history, u);
                    ASSERT_EQ(gpu_order_choice(logits, s, history, u), want)
                        << "vocab " << vocab << " trial " << trial << " T " << s.temperature << " k " << s.top_k
                        << " p " << s.top_p << " min_p " << s.min_p << " penalty " << s.repetition_penalty << " u "
                        << u;
                    ++compared;
                }
            }
        }
    }
    EXPECT_GT(compared, 3000);
}

// How often exp rounded from double differs from the C library's expf over
// the range softmax uses: recorded, and required to be rare.
TEST(CudaSamplingSteps, ExpFromDoubleAgreesWithExpfAlmostAlways) {
    int64_t differ = 0, total = 0;
    for (float x = -80.0f; x <= 0.0f; x += 0.0001f) {
        ++total;
        if (steps::exp_prob(x) != std::exp(x)) ++differ;
    }
    RecordProperty("exp_mismatches", std::to_string(differ) + " of " + std::to_string(total));
    EXPECT_LT(differ, total / 1000) << differ << " of " << total;
}

}  // namespace
}  // namespace worker
