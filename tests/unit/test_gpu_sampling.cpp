// Sampling on the GPU must choose exactly the id the CPU sampler
// (src/sampling) chooses for the same logits, settings, history and uniform
// draw: an inference gives the same tokens on either device when the logits
// agree. Checked over vocabularies of the real models' sizes, every filter
// alone and combined, and uniforms across [0, 1) including the edges.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "core/context.h"
#include "model/backend.h"
#include "sampling/sampler.h"
#include "support/gpu.h"

namespace worker {
namespace {

using model::Backend;
using model::Tensor;

struct Case {
    const char* name;
    sampling::Settings settings;
};

std::vector<Case> cases() {
    auto s = [](float t, int k, float p, float m, float r) {
        sampling::Settings x;
        x.temperature = t;
        x.top_k = k;
        x.top_p = p;
        x.min_p = m;
        x.repetition_penalty = r;
        return x;
    };
    return {
        {"greedy", s(0.0f, 0, 1.0f, 0.0f, 1.0f)},
        {"greedy_penalty", s(0.0f, 0, 1.0f, 0.0f, 1.3f)},
        {"temperature", s(0.8f, 0, 1.0f, 0.0f, 1.0f)},
        {"top_k", s(1.0f, 40, 1.0f, 0.0f, 1.0f)},
        {"top_p", s(0.7f, 0, 0.9f, 0.0f, 1.0f)},
        {"min_p", s(1.2f, 0, 1.0f, 0.05f, 1.0f)},
        {"all", s(0.9f, 50, 0.95f, 0.02f, 1.1f)},
        {"hot", s(2.5f, 0, 1.0f, 0.0f, 1.0f)},
    };
}

class GpuSampling : public ::testing::TestWithParam<int64_t> {
protected:
    void SetUp() override {
        WORKER_REQUIRE_GPU();
        context_ = Context::create(0);
        gpu = model::create_backend(*context_);
    }
    std::shared_ptr<Context> context_;
    std::unique_ptr<Backend> gpu;
};

TEST_P(GpuSampling, ChoosesExactlyAsTheCpuSampler) {
    const int64_t vocab = GetParam();
    std::mt19937_64 rng(99);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    std::vector<float> logits(static_cast<size_t>(vocab));
    auto buffer = gpu->allocate(logits.size() * sizeof(float), "logits");
    const Tensor t = buffer->view(GgmlType::F32, vocab, 1);
    int compared = 0;
    for (int trial = 0; trial < 6; ++trial) {
        for (float& l : logits) l = normal(rng);
        if (trial == 1 && vocab > 12) {  // exact ties at the top, and signed zeros
            logits[7] = logits[3] = 40.0f;
            logits[11] = -0.0f;
            logits[12] = 0.0f;
        }
        if (trial == 2) {
            for (float& l : logits) l = std::round(l);  // many ties everywhere
        }
        gpu->write(t, logits.data(), logits.size() * sizeof(float));
        std::vector<int32_t> history;
        for (int i = 0; i < 64; ++i) history.push_back(static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab)));
        history.push_back(3);
        history.push_back(3);  // repeated ids are penalised once
        for (const Case& c : cases()) {
            for (const double u : {0.0, 1e-9, 0.25, 0.5, 0.75, 0.999999, sampling::uniform01(rng)}) {
                std::vector<float> host = logits;
                const int32_t want = sampling::sample(host, c.settings, history, u);
                const int32_t got = gpu->sample(t, c.settings, history, u);
                ASSERT_EQ(got, want) << c.name << " vocab " << vocab << " trial " << trial << " u " << u;
                ++compared;
            }
        }
    }
    // The logits tensor itself is left as it was.
    std::vector<float> back(logits.size());
    gpu->read(t, back.data(), back.size() * sizeof(float));
    EXPECT_EQ(back, logits);
    EXPECT_GT(compared, 0);
}

// SmolLM2 (49152), gemma-3 (262144), a synthetic vocabulary, and tiny ones.
INSTANTIATE_TEST_SUITE_P(Vocabularies, GpuSampling, ::testing::Values(5, 300, 49152, 262144),
                         [](const auto& param_info) { return "vocab_" + std::to_string(param_info.param); });

}  // namespace
}  // namespace worker
