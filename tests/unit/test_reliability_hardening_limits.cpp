// Regression tests of issue 20 (hardening), findings 2 and 8 to 12: threads
// that cannot start, steps and frees, metadata memory, the KV cache, limits
// and tokenizing time. Each test failed before its fix.
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
        for (const std::string& text :
             {std::string(600000, 'a'), std::string(600000, 'A'), std::string(300000, ' '), std::string(200000, '1')}) {
            std::vector<int32_t> ids;
            ASSERT_NO_THROW(ids = tok->encode(text, false, false)) << pre;
            EXPECT_EQ(tok->decode(ids), text) << pre;
        }
    }
}

}  // namespace
