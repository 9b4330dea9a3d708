// The forward pass against llama.cpp on the real models: golden data from
// scripts/oracle/gen_golden.py (llama-cpp-python on the same GGUF files) in
// tests/data/golden/<model>/. The prompts are fed as llama.cpp's token ids, so
// this checks the engine alone, not the tokenizer.
//
// Both implementations approximate the same float computation (8-bit
// activations, half KV cache, half GELU table), and each lands a few tenths
// of a logit from the exact result: measured against a float64 NumPy forward
// pass (scripts/oracle/float_reference.py), our first-step logits for
// gemma-3's "question" prompt have cosine 0.99922 to it and llama.cpp's
// 0.99731. Which of two tokens closer than that comes first is therefore
// not defined by the model, and the checks below tell such near-ties apart:
//   - cosine to llama.cpp's first-step logits >= kMinCosine (per model);
//   - top-10: every pair of llama.cpp's top-10 whose logits differ by more
//     than tau is in the same order in ours, and every id of llama.cpp's
//     top-10 that leads its 11th by more than tau is in our top-10;
//   - top-1 identical and at least 8 of llama.cpp's top-10 in ours;
//   - greedy ids identical for 16 steps, or up to the first step at which
//     llama.cpp's own top-2 margin is below tau;
//   - fed llama.cpp's greedy ids (teacher forcing), our choice is among its
//     top-3 at every step.
// tests/data/golden/README.md shows llama.cpp failing the strict criteria
// against itself (batched vs token-by-token prefill) on as many prompts.
// Strict figures (exact top-10, full agreement length) are printed for the record.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/model.h"
#include "sampling/sampler.h"
#include "support/json.h"
#include "support/test_models.h"
#include "worker_types.h"

namespace worker {
namespace {

using test::Json;

std::vector<int32_t> ids_of(const Json& j) {
    std::vector<int32_t> ids;
    for (const Json& x : j.items()) ids.push_back(static_cast<int32_t>(x.as_i64()));
    return ids;
}

std::vector<int32_t> top_ids(const std::vector<float>& logits, size_t k) {
    std::vector<int32_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + static_cast<ptrdiff_t>(k), order.end(),
                      [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    order.resize(k);
    return order;
}

struct GoldenCase {
    const char* model;       // name for real_model_path
    const char* golden_dir;  // folder under tests/data/golden
    double min_cosine;
    double tau;  // logits closer than this are a near-tie
};

class Golden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, FirstStepLogitsAndGreedyIdsMatchLlamaCpp) {
    const GoldenCase c = GetParam();
    const char* model_name = c.model;
    const char* golden_dir = c.golden_dir;
    WORKER_REQUIRE_REAL_MODEL(path, model_name);
    const std::string dir = std::string(WORKER_SOURCE_DIR) + "/tests/data/golden/" + golden_dir + "/";
    ASSERT_TRUE(std::ifstream(dir + "golden.json").good())
        << "missing " << dir << "golden.json (scripts/oracle/gen_golden.py)";
    const Json doc = Json::parse_file(dir + "golden.json");

    auto model = Model::load(Context::create(WORKER_DEVICE_CPU), path);
    model::Transformer& tr = model->transformer();
    const size_t n_vocab = static_cast<size_t>(doc["n_vocab"].as_number());
    const auto& prompts = doc["prompts"].items();
    ASSERT_GE(prompts.size(), 8u);
    for (const Json& p : prompts) {
        const std::string name = p["name"].as_string();
        const std::vector<int32_t> prompt = ids_of(p["prompt_ids"]);
        const std::vector<int32_t> expected = ids_of(p["greedy_ids"]);
        auto session = tr.create_session(static_cast<int32_t>(prompt.size() + expected.size()),
                                         static_cast<int32_t>(prompt.size()));
        std::vector<float> logits(tr.config().vocab_size);
        tr.backend().read(tr.forward(*session, prompt), logits.data(), logits.size() * sizeof(float));

        if (p["first_logits_file"].kind() != Json::Kind::Null) {
            std::ifstream lf(dir + p["first_logits_file"].as_string(), std::ios::binary);
            std::vector<float> ref(n_vocab);
            lf.read(reinterpret_cast<char*>(ref.data()), static_cast<std::streamsize>(n_vocab * sizeof(float)));
            ASSERT_TRUE(lf.good()) << name << ": cannot read its logits file";
            double dot = 0, na = 0, nb = 0;
            for (size_t i = 0; i < n_vocab; ++i) {
                dot += static_cast<double>(ref[i]) * logits[i];
                na += static_cast<double>(ref[i]) * ref[i];
                nb += static_cast<double>(logits[i]) * logits[i];
            }
            const double cosine = dot / std::sqrt(na * nb);
            std::vector<float> ours(logits.begin(), logits.begin() + static_cast<ptrdiff_t>(n_vocab));
            EXPECT_GE(cosine, c.min_cosine) << golden_dir << " / " << name;
            const std::vector<int32_t> ref_top = top_ids(ref, 11);
            const std::vector<int32_t> our_top = top_ids(ours, 10);
            for (size_t i = 0; i < 10; ++i) {
                const int32_t a = ref_top[i];
                if (ref[a] - ref[ref_top[10]] > c.tau) {
                    EXPECT_NE(std::find(our_top.begin(), our_top.end(), a), our_top.end())
                        << golden_dir << " / " << name << ": id " << a << " (llama.cpp rank " << i << ") missing";
                }
                for (size_t j = i + 1; j < 10; ++j) {
                    const int32_t b = ref_top[j];
                    if (ref[a] - ref[b] > c.tau) {
                        EXPECT_GT(ours[a], ours[b]) << golden_dir << " / " << name << ": ids " << a << " and " << b;
                    }
                }
            }
            const bool exact_top10 = our_top == ids_of(p["first_logits_top10"]);
            EXPECT_EQ(our_top[0], ref_top[0]) << golden_dir << " / " << name << ": top-1";
            size_t overlap = 0;
            for (size_t i = 0; i < 10; ++i) overlap += std::count(our_top.begin(), our_top.end(), ref_top[i]);
            EXPECT_GE(overlap, 8u) << golden_dir << " / " << name << ": top-10 overlap";
            double top_error = 0;
            for (const int32_t id : top_ids(ref, 50))
                top_error = std::max(top_error, std::fabs(double(ref[id]) - ours[id]));
            std::printf("[golden] %s / %-16s cosine %.6f, top-10 %s, max |diff| over llama.cpp's top-50 %.3f\n",
                        golden_dir, name.c_str(), cosine, exact_top10 ? "identical" : "near-ties reordered", top_error);
        }

        size_t agree = 0;
        for (size_t step = 0; step < expected.size(); ++step) {
            const int32_t id = sampling::argmax(logits);
            if (id != expected[step]) break;
            ++agree;
            if (step + 1 < expected.size()) {
                tr.backend().read(tr.forward(*session, std::span<const int32_t>(&id, 1)), logits.data(),
                                  logits.size() * sizeof(float));
            }
        }
        const auto& margins = p["greedy_margins"].items();
        size_t first_tie = expected.size();
        for (size_t step = 0; step < margins.size(); ++step) {
            if (margins[step].as_number() < c.tau) {
                first_tie = step;
                break;
            }
        }
        std::printf("[golden] %s / %-16s greedy agreement %zu/%zu steps (first llama.cpp near-tie: step %zu)\n",
                    golden_dir, name.c_str(), agree, expected.size(), first_tie);
        EXPECT_GE(agree, std::min<size_t>(16, first_tie)) << golden_dir << " / " << name;

        // Teacher forcing: fed llama.cpp's own ids, at every one of the 32
        // steps our choice is one of llama.cpp's three best tokens (it is its
        // best at most steps; the count is printed). Three, not two: on three
        // of the 576 steps here llama.cpp's second and third were within a
        // few tenths of a logit of each other, and we picked its third.
        auto forced = tr.create_session(static_cast<int32_t>(prompt.size() + expected.size()),
                                        static_cast<int32_t>(prompt.size()));
        tr.backend().read(tr.forward(*forced, prompt), logits.data(), logits.size() * sizeof(float));
        const auto& top10_each = p["greedy_top10"].items();
        size_t in_top3 = 0, top1 = 0;
        for (size_t step = 0; step < expected.size(); ++step) {
            const std::vector<int32_t> ref_best = ids_of(top10_each[step]);
            const int32_t ours_best = sampling::argmax(logits);
            const bool ok = std::find(ref_best.begin(), ref_best.begin() + 3, ours_best) != ref_best.begin() + 3;
            in_top3 += ok;
            top1 += ours_best == ref_best[0];
            EXPECT_TRUE(ok) << golden_dir << " / " << name << " step " << step << ": chose " << ours_best;
            if (step + 1 < expected.size()) {
                tr.backend().read(tr.forward(*forced, std::span<const int32_t>(&expected[step], 1)), logits.data(),
                                  logits.size() * sizeof(float));
            }
        }
        std::printf("[golden] %s / %-16s teacher-forced: llama.cpp's top-1 at %zu/%zu steps, top-3 at %zu\n",
                    golden_dir, name.c_str(), top1, expected.size(), in_top3);
    }
}

INSTANTIATE_TEST_SUITE_P(RealModels, Golden,
                         ::testing::Values(GoldenCase{"smollm2", "SmolLM2-135M-Instruct.Q4_1", 0.999, 0.5},
                                           // llama.cpp's own gemma-3 logits are 0.9973 from exact (see top).
                                           GoldenCase{"gemma3", "gemma-3-270m-q4_k_m", 0.997, 1.0}),
                         [](const auto& param_info) { return std::string(param_info.param.model); });

}  // namespace
}  // namespace worker
