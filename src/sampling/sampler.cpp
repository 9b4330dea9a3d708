#include "sampling/sampler.h"

#include "sampling/temperature.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>
#include <vector>

namespace worker::sampling {

void apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> history, float penalty) {
    if (penalty == 1.0f) return;
    std::unordered_set<int32_t> seen;
    for (const int32_t id : history) {
        if (id < 0 || static_cast<size_t>(id) >= logits.size() || !seen.insert(id).second) continue;
        float& l = logits[static_cast<size_t>(id)];
        l = l > 0.0f ? l / penalty : l * penalty;
    }
}

int32_t argmax(std::span<const float> logits) {
    size_t best = 0;
    for (size_t i = 1; i < logits.size(); ++i) {
        if (logits[i] > logits[best]) best = i;  // strict: ties keep the lowest id
    }
    return static_cast<int32_t>(best);
}

namespace {

struct Candidate {
    int32_t id;
    float p;  // logit, then probability
};

// Larger first; equal values by lower id so the order never depends on the sort.
bool before(const Candidate& a, const Candidate& b) { return a.p > b.p || (a.p == b.p && a.id < b.id); }

}  // namespace

int32_t sample(std::span<float> logits, const Settings& s, std::span<const int32_t> history, double uniform) {
    apply_repetition_penalty(logits, history, s.repetition_penalty);
    if (s.temperature <= 0.0f) return argmax(logits);

    const float largest = logits[static_cast<size_t>(argmax(logits))];
    std::vector<Candidate> c(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) {
        c[i] = {static_cast<int32_t>(i), scale_logit(logits[i], largest, s.temperature)};
    }
    size_t n = c.size();
    if (s.top_k > 0 && static_cast<size_t>(s.top_k) < n) {
        n = static_cast<size_t>(s.top_k);
        std::partial_sort(c.begin(), c.begin() + static_cast<ptrdiff_t>(n), c.end(), before);
    } else {
        std::sort(c.begin(), c.end(), before);
    }
    c.resize(n);

    // Softmax over the survivors, sorted by probability from here on.
    const float max_logit = c[0].p;
    double total = 0.0;
    for (Candidate& x : c) {
        x.p = std::exp(x.p - max_logit);
        total += x.p;
    }
    for (Candidate& x : c) x.p = static_cast<float>(x.p / total);

    if (s.top_p < 1.0f) {
        double cumulative = 0.0;
        size_t keep = 0;
        while (keep < c.size()) {
            cumulative += c[keep].p;
            ++keep;
            if (cumulative >= s.top_p) break;
        }
        c.resize(keep);
    }
    if (s.min_p > 0.0f) {
        const float threshold = s.min_p * c[0].p;
        size_t keep = 1;
        while (keep < c.size() && c[keep].p >= threshold) ++keep;
        c.resize(keep);
    }

    double kept = 0.0;
    for (const Candidate& x : c) kept += x.p;
    const double target = uniform * kept;
    double cumulative = 0.0;
    for (const Candidate& x : c) {
        cumulative += x.p;
        if (target < cumulative) return x.id;
    }
    return c.back().id;  // rounding left target at the very top
}

}  // namespace worker::sampling
