// The forward pass against llama.cpp on the real models: golden data from
// scripts/oracle/gen_golden.py (llama-cpp-python on the same GGUF files) in
// tests/data/golden/<model>/. The prompts are fed as llama.cpp's token ids, so
// this checks the engine alone, not the tokenizer.
//
// The CPU backend reproduces llama.cpp's CPU arithmetic step by step (8-bit
// activations, half KV cache, ggml's e^x and GELU table, and the lanes and
// order in which each of llama.cpp's kernels sums; see src/cpu/vec.h and
// src/cpu/quant_dot.h), so on both models the first-step logits come out bit
// for bit as llama.cpp's and so does every greedy id. Asserted, on every
// prompt (issue 5's criteria):
//   - cosine to llama.cpp's first-step logits >= 0.999;
//   - top-10 ids identical, in the same order;
//   - greedy ids identical for at least 16 steps (the full agreement length,
//     32 of 32 here, is printed, with the number of bit-identical logits);
//   - fed llama.cpp's greedy ids (teacher forcing), our choice is among its
//     top-3 at every step (a backstop; it is its top-1 at all of them here).
// The bits depend on the C library's expf/sinf/cosf/tanhf too (llama.cpp
// calls them as we do), so another libm may move a logit by an ulp; the
// criteria above leave room for that, exact equality is only printed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/model.h"
#include "cpu/quant_dot.h"
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
};

constexpr double kMinCosine = 0.999;
constexpr size_t kMinGreedySteps = 16;

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
            size_t bit_identical = 0;
            double max_diff = 0.0;
            for (size_t i = 0; i < n_vocab; ++i) {
                bit_identical += std::memcmp(&ours[i], &ref[i], sizeof(float)) == 0;
                max_diff = std::max(max_diff, std::fabs(static_cast<double>(ours[i]) - ref[i]));
            }
            EXPECT_GE(cosine, kMinCosine) << golden_dir << " / " << name;
            const std::vector<int32_t> our_top = top_ids(ours, 10);
            EXPECT_EQ(our_top, ids_of(p["first_logits_top10"])) << golden_dir << " / " << name << ": top-10";
            EXPECT_EQ(our_top, top_ids(ref, 10)) << golden_dir << " / " << name << ": top-10 of the logits file";
            std::printf(
                "[golden] %s / %-16s cosine %.6f, top-10 %s, %zu/%zu logits bit-identical, max |diff| %.3g (%s kernels)\n",
                golden_dir, name.c_str(), cosine, our_top == ids_of(p["first_logits_top10"]) ? "identical" : "DIFFERENT",
                bit_identical, n_vocab, max_diff, cpu::dot_kernel_isa());
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
        std::printf("[golden] %s / %-16s greedy agreement %zu/%zu steps\n", golden_dir, name.c_str(), agree,
                    expected.size());
        EXPECT_GE(agree, std::min(kMinGreedySteps, expected.size())) << golden_dir << " / " << name;

        // Teacher forcing: fed llama.cpp's own ids, at every one of the 32
        // steps our choice is one of llama.cpp's three best tokens (its best
        // at every step here; the count is printed).
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
                         ::testing::Values(GoldenCase{"smollm2", "SmolLM2-135M-Instruct.Q4_1"},
                                           GoldenCase{"gemma3", "gemma-3-270m-q4_k_m"}),
                         [](const auto& param_info) { return std::string(param_info.param.model); });

}  // namespace
}  // namespace worker
