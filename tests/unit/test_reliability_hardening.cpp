// Regression tests of issue 20 (hardening), findings 1 and 3 to 7: each test
// failed before its fix. Synthetic models from the test GGUF writer, through
// the public C ABI where users meet the fault, through the core where only it can hold a lock.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <future>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/context.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/inference.h"
#include "core/model.h"
#include "gguf/gguf_file.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"
#include "unit/hardening_support.h"

namespace {

using namespace hardening;

// ---- 1. the model file changed under a loaded model ---------------------------------

TEST_F(Hardening, ATruncatedModelFileIsRefusedNotASigbus) {
    const std::string path = write_model("truncated.gguf", small_spec());
    int err = -1;
    ModelPtr model(load(path, &err));
    ASSERT_NE(model, nullptr) << cuda_last_error_detail();
    InferencePtr running(cuda_inference_start(model.get(), "the cat", 64, 0.0f, 0, &err));
    ASSERT_NE(running, nullptr);
    char piece[64];
    ASSERT_TRUE(cuda_inference_next_token(running.get(), piece, sizeof piece, nullptr, &err));
    EXPECT_TRUE(cuda_check_vram_residency(model.get(), &err));
    EXPECT_EQ(err, CUDA_SUCCESS);

    for (const off_t size : {off_t{4096}, off_t{0}}) {
        truncate_file(path, size);
        EXPECT_FALSE(cuda_check_vram_residency(model.get(), &err));
        EXPECT_EQ(err, CUDA_ERROR_VRAM_RESIDENCY_FAILED);
        EXPECT_NE(std::string(cuda_last_error_detail()).find("changed on disk"), std::string::npos)
            << cuda_last_error_detail();
        InferencePtr next(cuda_inference_start(model.get(), "the cat", 8, 0.0f, 0, &err));
        EXPECT_EQ(next, nullptr);
        EXPECT_EQ(err, CUDA_ERROR_VRAM_RESIDENCY_FAILED);
    }
    // The inference that was running stops with the same code at its next step.
    bool more = true;
    while (more) more = cuda_inference_next_token(running.get(), piece, sizeof piece, nullptr, &err);
    EXPECT_EQ(err, CUDA_ERROR_VRAM_RESIDENCY_FAILED) << cuda_last_error_detail();
}

TEST_F(Hardening, AModelFileOverwrittenInPlaceIsRefused) {
    const std::string path = write_model("overwritten.gguf", small_spec());
    int err = -1;
    ModelPtr model(load(path, &err));
    ASSERT_NE(model, nullptr) << cuda_last_error_detail();
    ASSERT_EQ(worker::test::generate(model.get(), "the cat", params(4, 0.0f)).error, CUDA_SUCCESS);
    // File times tick with the kernel's coarse clock: let one tick pass.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    {
        FILE* f = std::fopen(path.c_str(), "r+b");
        ASSERT_NE(f, nullptr);
        std::fseek(f, -4096, SEEK_END);
        const std::vector<char> zeros(4096, 0);
        ASSERT_EQ(std::fwrite(zeros.data(), 1, zeros.size(), f), zeros.size());
        std::fclose(f);
    }
    const worker::test::Generation g = worker::test::generate(model.get(), "the cat", params(4, 0.0f));
    EXPECT_EQ(g.error, CUDA_ERROR_VRAM_RESIDENCY_FAILED) << g.detail;
    EXPECT_NE(g.detail.find("modified in place"), std::string::npos) << g.detail;
}

// Deleting a served model file, or replacing it by a rename over its path
// (how updates are deployed), leaves the loaded model's mapping intact: it
// keeps running.
TEST_F(Hardening, AnUnlinkedOrReplacedModelFileKeepsRunning) {
    const std::string path = write_model("unlinked.gguf", small_spec());
    int err = -1;
    ModelPtr model(load(path, &err));
    ASSERT_NE(model, nullptr) << cuda_last_error_detail();
    const worker::test::Generation before = worker::test::generate(model.get(), "the cat", params(8, 0.0f));
    ASSERT_EQ(before.error, CUDA_SUCCESS);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const std::string other = write_model("replacement.gguf", small_spec());
    ASSERT_EQ(std::rename(other.c_str(), path.c_str()), 0);  // the old inode is now unlinked
    const worker::test::Generation after = worker::test::generate(model.get(), "the cat", params(8, 0.0f));
    EXPECT_EQ(after.error, CUDA_SUCCESS) << after.detail;
    EXPECT_EQ(after.pieces, before.pieces);
    ASSERT_EQ(::unlink(path.c_str()), 0);
    EXPECT_TRUE(cuda_check_vram_residency(model.get(), &err)) << cuda_last_error_detail();
    EXPECT_EQ(worker::test::generate(model.get(), "the cat", params(8, 0.0f)).pieces, before.pieces);
}

TEST(HardeningPrivateWeights, AContextWithPrivateWeightsIsImmuneToFileChanges) {
    const std::string path = write_model("private.gguf", small_spec());
    ::setenv("WORKER_CPU_WEIGHTS", "private", 1);
    int err = -1;
    ContextPtr ctx(cuda_init(WORKER_DEVICE_CPU, &err));
    ::setenv("WORKER_CPU_WEIGHTS", "sometimes", 1);
    ContextPtr refused(cuda_init(WORKER_DEVICE_CPU, &err));
    ::unsetenv("WORKER_CPU_WEIGHTS");
    EXPECT_EQ(refused, nullptr);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("WORKER_CPU_WEIGHTS"), std::string::npos);
    ASSERT_NE(ctx, nullptr);
    ModelPtr model(cuda_load_model(ctx.get(), path.c_str(), nullptr, &err));
    ASSERT_NE(model, nullptr) << cuda_last_error_detail();
    const worker::test::Generation before = worker::test::generate(model.get(), "the cat", params(16, 0.0f));
    ASSERT_EQ(before.error, CUDA_SUCCESS);
    truncate_file(path, 0);
    EXPECT_TRUE(cuda_check_vram_residency(model.get(), &err));
    const worker::test::Generation after = worker::test::generate(model.get(), "the cat", params(16, 0.0f));
    EXPECT_EQ(after.error, CUDA_SUCCESS) << after.detail;
    EXPECT_EQ(after.pieces, before.pieces);
}

// ---- 3. free while another thread pulls ------------------------------------------

TEST_F(Hardening, FreeWhileAnotherThreadPullsEndsThatCallCleanly) {
    worker::test::SyntheticModelSpec spec = small_spec();
    spec.n_embd = 256;
    spec.head_dim = 64;
    spec.n_ff = 512;
    spec.n_layer = 4;
    int err = -1;
    ModelPtr model(load(write_model("pull.gguf", spec), &err));
    ASSERT_NE(model, nullptr) << cuda_last_error_detail();
    for (int round = 0; round < 20; ++round) {
        InferenceResult* r = cuda_inference_start(model.get(), "hello", 2000, 0.8f, round, &err);
        ASSERT_NE(r, nullptr) << cuda_last_error_detail();
        std::atomic<int> pulled{0};
        std::thread puller([&] {
            char piece[256];
            int e = -1;
            while (cuda_inference_next_token(r, piece, sizeof piece, nullptr, &e)) ++pulled;
            // Freed mid-call: the end of generation. Freed between calls: not live.
            EXPECT_TRUE(e == CUDA_SUCCESS || e == CUDA_ERROR_INVALID_PARAMETER) << e << " " << cuda_last_error_detail();
        });
        while (pulled.load() < round % 5) std::this_thread::yield();
        cuda_inference_free(r);
        puller.join();
    }
    // The model is untouched.
    worker::test::Generation g = worker::test::generate(model.get(), "hello", params(4, 0.0f));
    EXPECT_EQ(g.error, CUDA_SUCCESS) << g.detail;
    EXPECT_EQ(g.pieces.size(), 4u);
}

// ---- 5. stale handles never alias live ones ------------------------------------------

TEST_F(Hardening, StaleHandlesNeverNameALiveInference) {
    int err = -1;
    ModelPtr model(load(write_model("stale.gguf", small_spec()), &err));
    ASSERT_NE(model, nullptr) << cuda_last_error_detail();
    std::vector<InferenceResult*> stale;
    for (int i = 0; i < 300; ++i) {
        InferenceResult* r = cuda_inference_start(model.get(), "hi", 2, 0.0f, 0, &err);
        ASSERT_NE(r, nullptr) << cuda_last_error_detail();
        stale.push_back(r);
        cuda_inference_free(r);
    }
    InferencePtr live(cuda_inference_start(model.get(), "hi", 4, 0.0f, 0, &err));
    ASSERT_NE(live, nullptr);
    const std::set<InferenceResult*> distinct(stale.begin(), stale.end());
    EXPECT_EQ(distinct.size(), stale.size());
    EXPECT_EQ(distinct.count(live.get()), 0u);
    for (InferenceResult* r : stale) cuda_inference_free(r);  // each a no-op
    char piece[64];
    EXPECT_TRUE(cuda_inference_next_token(live.get(), piece, sizeof piece, nullptr, &err)) << cuda_last_error_detail();

    // Nor a model or context handle: a freed model handle stays dead.
    CudaModel* first = load(write_model("stale2.gguf", small_spec()), &err);
    ASSERT_NE(first, nullptr);
    cuda_unload_model(first);
    ModelPtr second(load(temp_path("stale2.gguf"), &err));
    ASSERT_NE(second, nullptr);
    EXPECT_NE(first, second.get());
    EXPECT_EQ(cuda_model_get_vram_usage(first), 0u);
    EXPECT_NE(cuda_model_get_vram_usage(second.get()), 0u);
}

// ---- 6. tiny temperatures behave as their limit ---------------------------------------

TEST(HardeningSampler, TinyTemperaturePicksTheLargestLogit) {
    for (const float t : {1e-38f, 1e-45f, std::numeric_limits<float>::denorm_min(), 1e-30f}) {
        for (const int top_k : {0, 3}) {
            for (const double u : {0.0, 0.5, 0.999999}) {
                std::vector<float> logits = {-3.0f, 2.5f, 7.25f, -1e30f, 7.0f, 0.0f, -7.25f};
                worker::sampling::Settings s;
                s.temperature = t;
                s.top_k = top_k;
                s.top_p = 1.0f;
                s.min_p = 0.0f;
                EXPECT_EQ(worker::sampling::sample(logits, s, {}, u), 2) << "T " << t << " k " << top_k << " u " << u;
                std::vector<float> negative = {-9.0f, -2.0f, -5.0f, -2.5f};
                EXPECT_EQ(worker::sampling::sample(negative, s, {}, u), 1) << "T " << t << " k " << top_k;
            }
        }
    }
}

TEST_F(Hardening, TinyTemperatureGeneratesTheGreedyText) {
    int err = -1;
    ModelPtr model(load(write_model("tiny_t.gguf", small_spec()), &err));
    ASSERT_NE(model, nullptr) << cuda_last_error_detail();
    const worker::test::Generation greedy = worker::test::generate(model.get(), "the cat", params(24, 0.0f));
    ASSERT_EQ(greedy.error, CUDA_SUCCESS);
    for (const float t : {1e-38f, 1e-45f}) {
        for (const int top_k : {0, 5}) {
            WorkerInferenceParams p = params(24, t);
            p.top_k = top_k;
            const worker::test::Generation g = worker::test::generate(model.get(), "the cat", p);
            EXPECT_EQ(g.error, CUDA_SUCCESS) << g.detail;
            EXPECT_EQ(g.pieces, greedy.pieces) << "T " << t << " top_k " << top_k;
        }
    }
}

// ---- 7. impossible head geometry is refused at load --------------------------------

TEST_F(Hardening, ImpossibleHeadGeometryIsRefusedNamingTheKey) {
    struct Case {
        uint32_t head_count, head_count_kv, key_length;
        const char* key;
    };
    const Case cases[] = {
        {(1u << 30) + 1, (1u << 30) + 1, 4, "attention.head_count"},   // 4 * (2^30 + 1) wraps to 4 in 32 bits
        {(1u << 31) + 1, (1u << 31) + 1, 16, "attention.head_count"},  // negative as an int32
        {4, 2, 2048, "attention.key_length"},                          // past the rope and attention limits
    };
    for (const Case& c : cases) {
        worker::test::GgufWriter w;
        worker::test::add_synthetic_model(w, small_spec());
        w.remove("llama.attention.head_count");
        w.remove("llama.attention.head_count_kv");
        w.add_u32("llama.attention.head_count", c.head_count);
        w.add_u32("llama.attention.head_count_kv", c.head_count_kv);
        w.add_u32("llama.attention.key_length", c.key_length);
        w.add_u32("llama.attention.value_length", c.key_length);
        const std::string path = temp_path("geometry.gguf");
        w.write(path);
        int err = -1;
        ModelPtr model(load(path, &err));
        EXPECT_EQ(model, nullptr);
        EXPECT_EQ(err, CUDA_ERROR_MODEL_LOAD_FAILED);
        EXPECT_NE(std::string(cuda_last_error_detail()).find(c.key), std::string::npos) << cuda_last_error_detail();
    }
}

// ---- 4. head sizes that are not a multiple of 16 ----------------------------------------

TEST_F(Hardening, HeadDimensionsOffTheSixteenLaneGridAreExactAndRepeatable) {
    for (const uint32_t head_dim : {8u, 100u, 34u}) {
        worker::test::SyntheticModelSpec spec = small_spec();
        spec.n_head = 4;
        spec.n_head_kv = 2;
        spec.head_dim = head_dim;
        spec.n_embd = 4 * head_dim;  // llama: head_dim = n_embd / n_head
        spec.weight_type = worker::GgmlType::F32;
        int err = -1;
        ModelPtr model(load(write_model("hd" + std::to_string(head_dim) + ".gguf", spec), &err));
        ASSERT_NE(model, nullptr) << cuda_last_error_detail();
        // A prompt longer than 16 tokens: batched attention over several groups of cache rows.
        const std::string prompt = "the cat sat on the mat and then the dog came by to see what was going on";
        const worker::test::Generation first = worker::test::generate(model.get(), prompt, params(16, 0.0f));
        ASSERT_EQ(first.error, CUDA_SUCCESS) << first.detail;
        for (int run = 0; run < 3; ++run) {
            const worker::test::Generation again = worker::test::generate(model.get(), prompt, params(16, 0.0f));
            EXPECT_EQ(again.pieces, first.pieces) << "head_dim " << head_dim;
        }
    }
}

}  // namespace
