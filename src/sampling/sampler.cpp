#include "sampling/sampler.h"

#include <algorithm>
#include <unordered_set>
#include <vector>

#include "sampling/steps.h"

namespace worker::sampling {

void apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> history, float penalty) {
    if (penalty == 1.0f) return;
    std::unordered_set<int32_t> seen;
    for (const int32_t id : history) {
        if (id < 0 || static_cast<size_t>(id) >= logits.size() || !seen.insert(id).second) continue;
        float& l = logits[static_cast<size_t>(id)];
        l = steps::penalise(l, penalty);
    }
}

int32_t argmax(std::span<const float> logits) {
    size_t best = 0;
    for (size_t i = 1; i < logits.size(); ++i) {
        if (steps::wins_argmax(logits[i], static_cast<int32_t>(i), logits[best], static_cast<int32_t>(best))) best = i;
    }
    return static_cast<int32_t>(best);
}

namespace {

// Scales `logits` by the temperature in place and returns the ids of the
// top-k candidates (all of them when top-k is off), best first.
std::vector<int32_t> ranked_candidates(std::span<float> logits, const Settings& s) {
    const float largest = logits[static_cast<size_t>(argmax(logits))];
    struct Candidate {
        uint32_t key;
        int32_t id;
    };
    std::vector<Candidate> c(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) {
        logits[i] = steps::scale_logit(logits[i], largest, s.temperature);
        c[i] = {steps::order_key(logits[i]), static_cast<int32_t>(i)};
    }
    const auto before = [](const Candidate& a, const Candidate& b) {
        return steps::ranks_before(a.key, a.id, b.key, b.id);
    };
    size_t n = c.size();
    if (s.top_k > 0 && static_cast<size_t>(s.top_k) < n) {
        n = static_cast<size_t>(s.top_k);
        std::partial_sort(c.begin(), c.begin() + static_cast<ptrdiff_t>(n), c.end(), before);
    } else {
        std::sort(c.begin(), c.end(), before);
    }
    std::vector<int32_t> ids(n);
    for (size_t i = 0; i < n; ++i) ids[i] = c[i].id;
    return ids;
}

// Softmax of the scaled logits of `ids` (ranked best first).
std::vector<float> probabilities(std::span<const float> scaled, const std::vector<int32_t>& ids) {
    const float max_logit = scaled[static_cast<size_t>(ids[0])];
    std::vector<float> p(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) p[i] = steps::exp_prob(scaled[static_cast<size_t>(ids[i])] - max_logit);
    const double total = steps::sum_in_order(p.data(), static_cast<int64_t>(p.size()));
    for (float& x : p) x = steps::normalise(x, total);
    return p;
}

}  // namespace

int32_t sample(std::span<float> logits, const Settings& s, std::span<const int32_t> history, double uniform) {
    apply_repetition_penalty(logits, history, s.repetition_penalty);
    if (s.temperature <= 0.0f) return argmax(logits);
    const std::vector<int32_t> ids = ranked_candidates(logits, s);
    const std::vector<float> p = probabilities(logits, ids);
    return ids[static_cast<size_t>(steps::draw(p.data(), static_cast<int64_t>(p.size()), s.top_p, s.min_p, uniform))];
}

}  // namespace worker::sampling
