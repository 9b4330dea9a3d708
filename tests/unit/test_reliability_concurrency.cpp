// The thread-safety contract of worker_ffi.h, on the real SmolLM2 model:
// contexts on several threads, several inferences on one model at once (each
// producing exactly what it produces alone), load/unload cycles. The TSan
// build of the test command runs this with no reports allowed.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "support/abi_helpers.h"
#include "support/test_models.h"

namespace {

using worker::test::ContextPtr;
using worker::test::Generation;
using worker::test::ModelPtr;

WorkerInferenceParams sampled(uint64_t seed, int max_tokens) {
    WorkerInferenceParams p = WORKER_INFERENCE_PARAMS_INIT;
    p.max_tokens = max_tokens;
    p.temperature = 0.9f;
    p.top_k = 40;
    p.seed = seed;
    return p;
}

TEST(ReliabilityConcurrency, ContextsOnSeveralThreads) {
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                int err = -1;
                ContextPtr ctx(cuda_init(WORKER_DEVICE_CPU, &err));
                if (!ctx || err != CUDA_SUCCESS || !cuda_check_device_health(ctx.get(), &err)) ++failures;
                if (cuda_init(-5, &err) != nullptr || err != CUDA_ERROR_INVALID_DEVICE) ++failures;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
}

TEST(ReliabilityConcurrency, InferencesOnOneModelFromSeveralThreads) {
    WORKER_REQUIRE_REAL_MODEL(path, "smollm2");
    int err = -1;
    ContextPtr ctx(cuda_init(WORKER_DEVICE_CPU, &err));
    ModelPtr model(cuda_load_model(ctx.get(), path.c_str(), nullptr, &err));
    ASSERT_NE(model, nullptr) << cuda_last_error_detail();

    const std::vector<std::string> prompts = {"Once upon a time", "The best way to learn", "def fibonacci(n):",
                                              "Paris is"};
    const int kTokens = 6;
    std::vector<Generation> alone;
    for (size_t i = 0; i < prompts.size(); ++i) {
        alone.push_back(worker::test::generate(model.get(), prompts[i], sampled(100 + i, kTokens)));
        ASSERT_EQ(alone.back().error, CUDA_SUCCESS) << alone.back().detail;
    }

    std::vector<Generation> together(prompts.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < prompts.size(); ++i) {
        threads.emplace_back([&, i] { together[i] = worker::test::generate(model.get(), prompts[i], sampled(100 + i, kTokens)); });
    }
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < prompts.size(); ++i) {
        EXPECT_EQ(together[i].error, CUDA_SUCCESS) << together[i].detail;
        EXPECT_EQ(together[i].pieces, alone[i].pieces) << "prompt " << i;
    }
}

TEST(ReliabilityConcurrency, LoadUnloadCyclesOnSeveralThreads) {
    WORKER_REQUIRE_REAL_MODEL(path, "smollm2");
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&] {
            int err = -1;
            ContextPtr ctx(cuda_init(WORKER_DEVICE_CPU, &err));
            for (int i = 0; i < 3; ++i) {
                ModelPtr model(cuda_load_model(ctx.get(), path.c_str(), nullptr, &err));
                if (!model) {
                    ++failures;
                    continue;
                }
                auto g = worker::test::generate_greedy(model.get(), "Hello", 1);
                if (g.error != CUDA_SUCCESS) ++failures;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
}

}  // namespace
