// Regression tests of issue 20 (hardening): each test failed before its fix.
// Synthetic models from the test GGUF writer, through the public C ABI where
// users meet the fault, through the core where only it can hold a lock.
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
#include "core/fault.h"
#include "core/inference.h"
#include "core/error.h"
#include "core/model.h"
#include "gguf/gguf_file.h"
#include "sampling/sampler.h"
#include "support/abi_helpers.h"
#include "support/gguf_writer.h"
#include "tokenizer/tokenizer.h"

namespace {

using worker::test::ContextPtr;
using worker::test::InferencePtr;
using worker::test::ModelPtr;

std::string temp_path(const std::string& name) { return ::testing::TempDir() + name; }

worker::test::SyntheticModelSpec small_spec() {
    worker::test::SyntheticModelSpec spec;
    spec.n_layer = 2;
    spec.n_embd = 64;
    spec.n_head = 4;
    spec.n_head_kv = 2;
    spec.head_dim = 16;
    spec.n_ff = 128;
    spec.context_length = 4096;
    spec.weight_type = worker::GgmlType::Q8_0;
    return spec;
}

std::string write_model(const std::string& name, const worker::test::SyntheticModelSpec& spec) {
    const std::string path = temp_path(name);
    worker::test::write_synthetic_model(path, spec);
    return path;
}

WorkerInferenceParams params(int max_tokens, float temperature) {
    WorkerInferenceParams p = WORKER_INFERENCE_PARAMS_INIT;
    p.max_tokens = max_tokens;
    p.temperature = temperature;
    p.seed = 7;
    return p;
}

bool sanitized() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
    return true;
#else
    return false;
#endif
#else
    return false;
#endif
}

// Caps this process's address space at what it uses now plus `room` bytes.
bool limit_address_space(uint64_t room) {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) pages = 0;
        std::fclose(f);
    }
    if (pages == 0) return false;
    const rlim_t limit = static_cast<rlim_t>(pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + room;
    const rlimit rl{limit, limit};
    return ::setrlimit(RLIMIT_AS, &rl) == 0;
}

class Hardening : public ::testing::Test {
protected:
    void SetUp() override {
        int err = -1;
        ctx_.reset(cuda_init(WORKER_DEVICE_CPU, &err));
        ASSERT_NE(ctx_, nullptr) << cuda_last_error_detail();
    }
    CudaModel* load(const std::string& path, int* err) { return cuda_load_model(ctx_.get(), path.c_str(), nullptr, err); }

    ContextPtr ctx_;
};

// ---- 1. the model file changed under a loaded model ---------------------------------

void truncate_file(const std::string& path, off_t size) { ASSERT_EQ(::truncate(path.c_str(), size), 0); }

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
        {(1u << 30) + 1, (1u << 30) + 1, 4, "attention.head_count"},  // 4 * (2^30 + 1) wraps to 4 in 32 bits
        {(1u << 31) + 1, (1u << 31) + 1, 16, "attention.head_count"},  // negative as an int32
        {4, 2, 2048, "attention.key_length"},                           // past the rope and attention limits
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

// ---- 2. a worker thread that cannot start --------------------------------------------

TEST(HardeningThreads, AThreadThatCannotStartIsACleanOutOfMemory) {
    const std::string path = write_model("threads.gguf", small_spec());
    ::setenv("WORKER_CPU_THREADS", "8", 1);
    int err = -1;
    ContextPtr ctx(cuda_init(WORKER_DEVICE_CPU, &err));
    ::unsetenv("WORKER_CPU_THREADS");
    ASSERT_NE(ctx, nullptr);
    for (const uint64_t nth : {1u, 4u, 7u}) {
        worker::fault::arm(worker::fault::Site::ThreadStart, nth, worker::fault::Kind::StdException);
        ModelPtr model(cuda_load_model(ctx.get(), path.c_str(), nullptr, &err));
        worker::fault::disarm_all();
        EXPECT_EQ(model, nullptr);
        EXPECT_EQ(err, CUDA_ERROR_OUT_OF_MEMORY);
        EXPECT_NE(std::string(cuda_last_error_detail()).find("worker thread"), std::string::npos)
            << cuda_last_error_detail();
    }
    ModelPtr model(cuda_load_model(ctx.get(), path.c_str(), nullptr, &err));
    ASSERT_NE(model, nullptr) << cuda_last_error_detail();
    EXPECT_EQ(worker::test::generate(model.get(), "hi", params(2, 0.0f)).error, CUDA_SUCCESS);
}

// The real limit: in a child process whose address space has no room for 64
// thread stacks, the load fails with code 2 and the process lives on.
TEST(HardeningThreads, AnAddressSpaceLimitIsACleanOutOfMemory) {
    if (sanitized()) GTEST_SKIP() << "sanitizer runtimes reserve address space that an RLIMIT_AS test cannot bound";
    const std::string path = write_model("threads_rlimit.gguf", small_spec());
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::setenv("WORKER_CPU_THREADS", "64", 1);
        int err = -1;
        CudaContext* ctx = cuda_init(WORKER_DEVICE_CPU, &err);
        if (ctx == nullptr) ::_exit(10);
        // Room for the model but not for 63 more 8 MiB stacks.
        if (!limit_address_space(96u << 20)) ::_exit(12);
        CudaModel* model = cuda_load_model(ctx, path.c_str(), nullptr, &err);
        if (model != nullptr) ::_exit(13);
        if (err != CUDA_ERROR_OUT_OF_MEMORY) ::_exit(14);
        cuda_destroy(ctx);
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << "child died of signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    EXPECT_EQ(WEXITSTATUS(status), 0) << "10: no context, 12: setup, 13: loaded anyway, 14: wrong code";
}

// ---- 11. a free never waits for another inference's step ------------------------------

TEST(HardeningSteps, FreeingAnInferenceDoesNotWaitForAStepInProgress) {
    const std::string path = write_model("retire.gguf", small_spec());
    auto ctx = worker::Context::create(WORKER_DEVICE_CPU);
    auto model = worker::Model::load(ctx, path);
    const uint64_t idle = model->device_bytes();
    worker::InferenceParams p;
    p.max_tokens = 8;
    p.sampling.temperature = 0.0f;
    std::shared_ptr<worker::Inference> inference = worker::Inference::start(model, "hello", p);
    EXPECT_GT(model->device_bytes(), idle);
    {
        // Another inference's step in progress: the model's step lock is held.
        auto step = model->lock_step();
        auto freed = std::async(std::launch::async, [&] { inference.reset(); });
        ASSERT_EQ(freed.wait_for(std::chrono::seconds(30)), std::future_status::ready)
            << "the free waited for the step";
        EXPECT_GT(model->device_bytes(), idle);  // destroyed when the step ends
    }
    EXPECT_EQ(model->device_bytes(), idle);
}

// ---- 8. metadata cannot cost much more memory than the file -----------------------

uint64_t resident_bytes() {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return static_cast<uint64_t>(resident) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof v);
}

TEST(HardeningMetadata, AByteArrayCostsItsSizeNotAValuePerByte) {
    const uint64_t n = 16u << 20;
    std::vector<uint8_t> raw;
    put<uint32_t>(raw, 0);  // element type uint8
    put<uint64_t>(raw, n);
    raw.resize(raw.size() + n, 7);
    worker::test::GgufWriter w;
    w.add_raw("blob", 9, std::move(raw));
    const std::vector<uint8_t> bytes = w.build().bytes;
    const uint64_t before = resident_bytes();
    const auto file = worker::gguf::File::parse(bytes.data(), bytes.size(), "blob.gguf");
    const uint64_t grown = resident_bytes() - std::min(before, resident_bytes());
    const worker::gguf::Value* v = file->find("blob");
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->size(), n);
    EXPECT_EQ(v->element(n - 1).u, 7u);
    // One Value per element was ~1.7 GB.
    EXPECT_LT(grown, uint64_t{256} << 20) << grown;
}

TEST(HardeningMetadata, MillionsOfEmptyArraysAreRefusedByTheMemoryBudget) {
    const uint64_t n = 2u << 20;  // 24 MiB of file, ~200 MB as Values
    std::vector<uint8_t> raw;
    put<uint32_t>(raw, 9);  // element type: array
    put<uint64_t>(raw, n);
    for (uint64_t i = 0; i < n; ++i) {
        put<uint32_t>(raw, 0);
        put<uint64_t>(raw, 0);
    }
    worker::test::GgufWriter w;
    w.add_raw("nested", 9, std::move(raw));
    const std::vector<uint8_t> bytes = w.build().bytes;
    try {
        worker::gguf::File::parse(bytes.data(), bytes.size(), "nested.gguf");
        FAIL() << "parsed";
    } catch (const worker::Error& e) {
        EXPECT_EQ(e.code(), CUDA_ERROR_MODEL_LOAD_FAILED);
        EXPECT_NE(e.message().find("bytes of memory"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("'nested'"), std::string::npos) << e.message();
    }
}

TEST_F(Hardening, TheTensorTableIsCheckedBeforeTheTokenizerIsBuilt) {
    // A vocabulary the tokenizer would refuse (a token twice) in a file with
    // no weights: the missing weight is what is reported, the tokenizer never built.
    const worker::test::SyntheticVocab v = worker::test::synthetic_vocab();
    std::vector<std::string> tokens = v.tokens;
    tokens.push_back(tokens[0]);
    worker::test::GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_u32("llama.context_length", 64);
    w.add_u32("llama.embedding_length", 64);
    w.add_u32("llama.block_count", 1);
    w.add_u32("llama.feed_forward_length", 128);
    w.add_u32("llama.attention.head_count", 4);
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string_array("tokenizer.ggml.tokens", tokens);
    w.add_string_array("tokenizer.ggml.merges", v.merges);
    w.add_u32("llama.vocab_size", static_cast<uint32_t>(tokens.size()));
    w.add_tensor("output_norm.weight", {64}, worker::GgmlType::F32, std::vector<float>(64, 1.0f));
    const std::string path = temp_path("no_weights.gguf");
    w.write(path);
    int err = -1;
    ModelPtr model(load(path, &err));
    EXPECT_EQ(model, nullptr);
    EXPECT_EQ(err, CUDA_ERROR_MODEL_LOAD_FAILED);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("token_embd.weight"), std::string::npos)
        << cuda_last_error_detail();
}

// ---- 12. the small ones -------------------------------------------------------------------

worker::test::SyntheticModelSpec huge_context_spec() {
    worker::test::SyntheticModelSpec spec = small_spec();
    spec.context_length = 0xFFFFFFFFu;
    return spec;
}

TEST_F(Hardening, AHugeMaxTokensWithAHugeContextIsRefusedWithoutWrapping) {
    int err = -1;
    ModelPtr model(load(write_model("huge_ctx.gguf", huge_context_spec()), &err));
    ASSERT_NE(model, nullptr) << cuda_last_error_detail();
    InferencePtr r(cuda_inference_start(model.get(), "hi", std::numeric_limits<int>::max(), 0.0f, 0, &err));
    EXPECT_EQ(r, nullptr);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("2147483647 positions"), std::string::npos)
        << cuda_last_error_detail();
}

TEST(HardeningKv, TheKvCacheGrowsAsUsedNotAsAsked) {
    auto ctx = worker::Context::create(WORKER_DEVICE_CPU);
    auto model = worker::Model::load(ctx, write_model("grow.gguf", huge_context_spec()));
    const uint64_t idle = model->device_bytes();
    worker::InferenceParams p;
    p.sampling.temperature = 0.0f;
    p.max_tokens = 1 << 28;  // 64 GiB of KV for this model if reserved up front
    auto grown = worker::Inference::start(model, "the cat", p);
    EXPECT_LT(model->device_bytes() - idle, uint64_t{16} << 20);
    // Past several doublings of the cache, the tokens are those of a run that
    // asked for just what it used.
    const size_t kTokens = 700;
    while (grown->generated_tokens().size() < kTokens && grown->peek() != nullptr) grown->pop();
    ASSERT_GE(grown->generated_tokens().size(), kTokens);
    const uint64_t held = model->device_bytes() - idle;
    EXPECT_LT(held, uint64_t{16} << 20);
    p.max_tokens = static_cast<int32_t>(kTokens);
    auto sized = worker::Inference::start(model, "the cat", p);
    while (sized->peek() != nullptr) sized->pop();
    ASSERT_EQ(sized->generated_tokens().size(), kTokens);
    const std::vector<int32_t> first(grown->generated_tokens().begin(), grown->generated_tokens().begin() + kTokens);
    EXPECT_EQ(first, sized->generated_tokens());
    grown.reset();
    sized.reset();
    EXPECT_EQ(model->device_bytes(), idle);
}

TEST(HardeningLimits, AnAddressSpaceTooSmallToMapTheFileIsOutOfMemory) {
    if (sanitized()) GTEST_SKIP() << "sanitizer runtimes reserve address space that an RLIMIT_AS test cannot bound";
    // A sparse 4 GiB file: mapping it needs address space, not disk.
    const std::string path = temp_path("sparse.gguf");
    {
        FILE* f = std::fopen(path.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        std::fclose(f);
        truncate_file(path, off_t{4} << 30);
    }
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        int err = -1;
        CudaContext* ctx = cuda_init(WORKER_DEVICE_CPU, &err);
        if (ctx == nullptr) ::_exit(10);
        if (!limit_address_space(256u << 20)) ::_exit(12);
        CudaModel* model = cuda_load_model(ctx, path.c_str(), nullptr, &err);
        if (model != nullptr) ::_exit(13);
        if (err != CUDA_ERROR_OUT_OF_MEMORY) ::_exit(14);
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "13: loaded, 14: another code than CUDA_ERROR_OUT_OF_MEMORY";
    ::unlink(path.c_str());
}

TEST_F(Hardening, PromptTextCanBePassedLiterallyWithoutSpecialTokens) {
    int err = -1;
    ModelPtr model(load(write_model("literal.gguf", small_spec()), &err));
    ASSERT_NE(model, nullptr) << cuda_last_error_detail();
    WorkerInferenceParams special = params(8, 0.0f);
    WorkerInferenceParams literal = params(8, 0.0f);
    literal.parse_special = 0;
    const std::string prompt = "<|im_start|>user";
    const worker::test::Generation a = worker::test::generate(model.get(), prompt, special);
    const worker::test::Generation b = worker::test::generate(model.get(), prompt, literal);
    ASSERT_EQ(a.error, CUDA_SUCCESS);
    ASSERT_EQ(b.error, CUDA_SUCCESS);
    EXPECT_NE(a.pieces, b.pieces);  // one control token vs its text as bytes

    // The core tokenizes the two differently: one id for the control token, or its letters.
    auto ctx = worker::Context::create(WORKER_DEVICE_CPU);
    auto m = worker::Model::load(ctx, temp_path("literal.gguf"));
    const auto with = m->tokenizer().encode(prompt, false, true);
    const auto without = m->tokenizer().encode(prompt, false, false);
    EXPECT_LT(with.size(), without.size());
    EXPECT_EQ(m->tokenizer().decode(without), prompt);

    WorkerInferenceParams bad = params(8, 0.0f);
    bad.parse_special = 2;
    InferencePtr r(cuda_inference_start_ex(model.get(), prompt.c_str(), &bad, &err));
    EXPECT_EQ(r, nullptr);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("parse_special"), std::string::npos);

    // A caller compiled against the struct before parse_special gets 1.
    WorkerInferenceParams old = params(8, 0.0f);
    old.struct_size = offsetof(WorkerInferenceParams, parse_special);
    old.parse_special = 0;  // past struct_size: not read
    EXPECT_EQ(worker::test::generate(model.get(), prompt, old).pieces, a.pieces);
}

// ---- 9, 10. tokenizing is linear, and any length fits ------------------------------

// A byte-level BPE vocabulary (the synthetic one) plus `extra` control tokens,
// with the given pre-tokenizer.
std::unique_ptr<worker::tokenizer::Tokenizer> bpe_tokenizer(const std::string& pre,
                                                            const std::vector<std::string>& extra) {
    const worker::test::SyntheticVocab v = worker::test::synthetic_vocab();
    std::vector<std::string> tokens = v.tokens;
    std::vector<int32_t> types = v.token_types;
    for (const std::string& t : extra) {
        tokens.push_back(t);
        types.push_back(3);
    }
    worker::test::GgufWriter w;
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string("tokenizer.ggml.pre", pre);
    w.add_string_array("tokenizer.ggml.tokens", tokens);
    w.add_i32_array("tokenizer.ggml.token_type", types);
    w.add_string_array("tokenizer.ggml.merges", v.merges);
    w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bos_id));
    static std::vector<std::vector<uint8_t>> keep;  // File::parse borrows the bytes
    keep.push_back(w.build().bytes);
    const auto file = worker::gguf::File::parse(keep.back().data(), keep.back().size(), "synthetic.gguf");
    return worker::tokenizer::Tokenizer::from_gguf(*file);
}

TEST(HardeningTokenizer, SpecialTokenMatchingIsLinearInThePrompt) {
    // A control token of 100,000 'a' then 'b': every position of a prompt of
    // 'a's starts a long partial match. Quadratic matching took 15 s for 80 KB.
    const std::string long_token = std::string(100000, 'a') + "b";
    const auto tok = bpe_tokenizer("gpt-2", {long_token, "a<x>"});
    const std::string prompt(1 << 20, 'a');
    const auto started = std::chrono::steady_clock::now();
    const std::vector<int32_t> ids = tok->encode(prompt, false, true);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    EXPECT_EQ(tok->decode(ids), prompt);
    // Generous: linear work is a few hundred milliseconds even under a sanitizer.
    EXPECT_LT(seconds, 60.0);

    // Matching still finds the leftmost, longest token.
    const std::string text = "xx" + long_token + "a<x>" + long_token.substr(1);
    const std::vector<int32_t> found = tok->encode(text, false, true);
    const int32_t long_id = tok->n_vocab() - 2, short_id = tok->n_vocab() - 1;
    std::vector<int32_t> want = tok->encode("xx", false, true);
    want.push_back(long_id);
    want.push_back(short_id);
    for (const int32_t id : tok->encode(long_token.substr(1), false, true)) want.push_back(id);
    EXPECT_EQ(found, want);
}

TEST(HardeningTokenizer, LongRunsOfOneLetterTokenizeWithEveryPreTokenizer) {
    for (const std::string pre : {"gpt-4o", "tekken", "llama-bpe", "qwen2", "qwen35", "gpt-2"}) {
        const auto tok = bpe_tokenizer(pre, {});
        for (const std::string& text : {std::string(600000, 'a'), std::string(600000, 'A'), std::string(300000, ' '),
                                        std::string(200000, '1')}) {
            std::vector<int32_t> ids;
            ASSERT_NO_THROW(ids = tok->encode(text, false, false)) << pre;
            EXPECT_EQ(tok->decode(ids), text) << pre;
        }
    }
}

}  // namespace
