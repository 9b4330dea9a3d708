// The sampler: greedy choice, filters that never let a removed token through,
// the repetition penalty, and draws that follow the softmax distribution.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "sampling/sampler.h"

namespace worker::sampling {
namespace {

TEST(Sampler, TemperatureZeroIsArgmaxWithTiesToLowestId) {
    std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
    Settings s;
    s.temperature = 0.0f;
    for (double u : {0.0, 0.5, 0.999}) {
        std::vector<float> copy = logits;
        EXPECT_EQ(sample(copy, s, {}, u), 1);
    }
    EXPECT_EQ(argmax(std::vector<float>{3.0f, 3.0f, 3.0f}), 0);
}

// Draws over the whole range of uniforms; the set of ids ever chosen.
std::set<int32_t> chosen(const std::vector<float>& logits, const Settings& s) {
    std::set<int32_t> ids;
    for (int i = 0; i < 2000; ++i) {
        std::vector<float> copy = logits;
        ids.insert(sample(copy, s, {}, (i + 0.5) / 2000.0));
    }
    return ids;
}

TEST(Sampler, TopKNeverPicksOutsideTheKBest) {
    const std::vector<float> logits = {1.0f, 3.0f, 2.5f, 0.1f, 2.9f, -4.0f};
    Settings s;
    s.temperature = 1.5f;
    s.top_k = 3;
    EXPECT_EQ(chosen(logits, s), (std::set<int32_t>{1, 2, 4}));
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingP) {
    // Probabilities about 0.64, 0.24, 0.09, 0.03.
    const std::vector<float> logits = {3.0f, 2.0f, 1.0f, 0.0f};
    Settings s;
    s.temperature = 1.0f;
    s.top_p = 0.8f;
    EXPECT_EQ(chosen(logits, s), (std::set<int32_t>{0, 1}));
    s.top_p = 0.5f;
    EXPECT_EQ(chosen(logits, s), (std::set<int32_t>{0}));
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheBest) {
    // Relative to the best: 1, e^-1 = 0.37, e^-2 = 0.14, e^-3 = 0.05.
    const std::vector<float> logits = {0.0f, 3.0f, 2.0f, 1.0f};
    Settings s;
    s.temperature = 1.0f;
    s.min_p = 0.2f;
    EXPECT_EQ(chosen(logits, s), (std::set<int32_t>{1, 2}));
}

TEST(Sampler, RepetitionPenaltyShrinksPositiveAndGrowsNegativeLogitsOnce) {
    std::vector<float> logits = {2.0f, -2.0f, 1.0f, 4.0f};
    const std::vector<int32_t> history = {0, 1, 0, 0, 99};  // duplicates and an out-of-range id
    apply_repetition_penalty(logits, history, 2.0f);
    EXPECT_EQ(logits, (std::vector<float>{1.0f, -4.0f, 1.0f, 4.0f}));

    // Greedy choice flips away from a repeated token.
    std::vector<float> l2 = {3.0f, 2.0f};
    Settings s;
    s.repetition_penalty = 2.0f;
    EXPECT_EQ(sample(l2, s, std::vector<int32_t>{0}, 0.0), 1);
}

// Chi-square goodness of fit of 20000 draws at temperature 1 against the
// softmax of the logits. 5 categories -> 4 degrees of freedom; 18.47 is the
// 0.999 quantile, so a correct sampler fails one seed in a thousand.
TEST(Sampler, DrawsAtTemperatureOneFollowTheSoftmax) {
    const std::vector<float> logits = {1.0f, 0.0f, 2.0f, -1.0f, 0.5f};
    std::vector<double> p(logits.size());
    double z = 0.0;
    for (size_t i = 0; i < logits.size(); ++i) z += p[i] = std::exp(static_cast<double>(logits[i]));
    for (double& x : p) x /= z;

    std::mt19937_64 rng(42);
    const int n = 20000;
    std::vector<int> counts(logits.size(), 0);
    Settings s;
    s.temperature = 1.0f;
    for (int i = 0; i < n; ++i) {
        std::vector<float> copy = logits;
        ++counts[static_cast<size_t>(sample(copy, s, {}, uniform01(rng)))];
    }
    double chi2 = 0.0;
    for (size_t i = 0; i < p.size(); ++i) {
        const double expected = n * p[i];
        chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
    }
    EXPECT_LT(chi2, 18.47);
}

TEST(Sampler, SameSeedSameDraws) {
    std::mt19937_64 a(7), b(7);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(uniform01(a), uniform01(b));
    std::mt19937_64 c(7);
    const double u = uniform01(c);
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
}

}  // namespace
}  // namespace worker::sampling
