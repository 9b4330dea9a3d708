// The ABI's 0.3 additions through the public C functions, on the real
// SmolLM2 model: usage and finish reasons, cancel, log-probabilities, the
// size of a piece, tokenize/detokenize, model facts and the chat template.
// Expectations come from llama.cpp (token ids, first-step logits: see
// tests/data/tokenizer and tests/data/golden), from the gguf package's
// reading of the file (tests/data/models) and from mathematics
// (log-softmax of llama.cpp's logits).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "support/abi_helpers.h"
#include "support/json.h"
#include "support/test_models.h"
#include "worker_ffi.h"

namespace {

using worker::test::ContextPtr;
using worker::test::InferencePtr;
using worker::test::Json;
using worker::test::ModelPtr;

std::string data(const std::string& relative) { return std::string(WORKER_SOURCE_DIR) + "/tests/data/" + relative; }

std::vector<float> read_floats(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    std::vector<float> out(static_cast<size_t>(in.tellg()) / sizeof(float));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size() * sizeof(float)));
    return out;
}

// log p(id) = logit(id) - log(sum exp(logits)), in double.
double log_softmax_at(const std::vector<float>& logits, int32_t id) {
    double max = -INFINITY;
    for (float v : logits) max = std::max(max, static_cast<double>(v));
    double sum = 0;
    for (float v : logits) sum += std::exp(static_cast<double>(v) - max);
    return static_cast<double>(logits[static_cast<size_t>(id)]) - max - std::log(sum);
}

class AbiInfo : public ::testing::Test {
protected:
    void SetUp() override {
        WORKER_REQUIRE_REAL_MODEL(path, "smollm2");
        int err = -1;
        ctx_.reset(cuda_init(WORKER_DEVICE_CPU, &err));
        ASSERT_EQ(err, CUDA_SUCCESS) << cuda_last_error_detail();
        model_.reset(cuda_load_model(ctx_.get(), path.c_str(), nullptr, &err));
        ASSERT_EQ(err, CUDA_SUCCESS) << cuda_last_error_detail();
    }

    InferencePtr start(const std::string& prompt, WorkerInferenceParams params) {
        int err = -1;
        InferencePtr r(cuda_inference_start_ex(model_.get(), prompt.c_str(), &params, &err));
        EXPECT_EQ(err, CUDA_SUCCESS) << cuda_last_error_detail();
        return r;
    }

    static WorkerInferenceParams greedy(int max_tokens) {
        WorkerInferenceParams p = WORKER_INFERENCE_PARAMS_INIT;
        p.max_tokens = max_tokens;
        p.temperature = 0.0f;
        return p;
    }

    static std::string drain(InferenceResult* r, int* err) {
        std::string text;
        char piece[256];
        while (cuda_inference_next_token(r, piece, sizeof piece, nullptr, err)) text += piece;
        return text;
    }

    static WorkerInferenceInfo info_of(InferenceResult* r) {
        WorkerInferenceInfo info = WORKER_INFERENCE_INFO_INIT;
        int err = -1;
        EXPECT_TRUE(cuda_inference_get_info(r, &info, &err)) << cuda_last_error_detail();
        EXPECT_EQ(err, CUDA_SUCCESS);
        return info;
    }

    ContextPtr ctx_;
    ModelPtr model_;
};

// ---- finish reasons and usage ---------------------------------------------------

TEST_F(AbiInfo, MaxTokensIsReportedWithTheTokenCounts) {
    // llama.cpp's greedy continuation of prompt 0 (golden.json): 5 prompt tokens.
    InferencePtr r = start("The capital of France is", greedy(4));
    WorkerInferenceInfo before = info_of(r.get());
    EXPECT_EQ(before.prompt_tokens, 5);
    EXPECT_EQ(before.generated_tokens, 0);
    EXPECT_EQ(before.finish_reason, WORKER_FINISH_NONE);
    EXPECT_EQ(before.last_token_id, -1);
    int err = -1;
    drain(r.get(), &err);
    ASSERT_EQ(err, CUDA_SUCCESS) << cuda_last_error_detail();
    const WorkerInferenceInfo after = info_of(r.get());
    EXPECT_EQ(after.prompt_tokens, 5);
    EXPECT_EQ(after.generated_tokens, 4);
    EXPECT_EQ(after.finish_reason, WORKER_FINISH_MAX_TOKENS);
    EXPECT_EQ(after.last_token_id, 198);  // greedy_ids[3] of prompt 0
    EXPECT_EQ(after.error_code, CUDA_SUCCESS);
}

TEST_F(AbiInfo, AStopStringIsReportedAsStop) {
    // Greedy text of prompt 0 begins " Paris.\n\nThe ...": stop at "\n".
    WorkerInferenceParams p = greedy(16);
    const char* stop[] = {"\n"};
    p.stop = stop;
    p.n_stop = 1;
    InferencePtr r = start("The capital of France is", p);
    int err = -1;
    EXPECT_EQ(drain(r.get(), &err), " Paris.");
    const WorkerInferenceInfo info = info_of(r.get());
    EXPECT_EQ(info.finish_reason, WORKER_FINISH_STOP);
    EXPECT_EQ(info.generated_tokens, 3);  // " Paris", ".", "\n"
}

TEST_F(AbiInfo, TheEndOfGenerationTokenIsReportedAsEos) {
    // A chat turn the model answers in one sentence and closes with <|im_end|> (an EOG token).
    const WorkerChatMessage messages[] = {{"user", "What is 2+2?"}};
    char prompt[512];
    int err = -1;
    ASSERT_GT(cuda_chat_apply_template(model_.get(), messages, 1, nullptr, prompt, sizeof prompt, &err), 0);
    InferencePtr r = start(prompt, greedy(64));
    drain(r.get(), &err);
    const WorkerInferenceInfo info = info_of(r.get());
    EXPECT_EQ(info.finish_reason, WORKER_FINISH_EOS);
    EXPECT_LT(info.generated_tokens, 64);
    int32_t im_end = -1;
    EXPECT_EQ(cuda_tokenize(model_.get(), "<|im_end|>", false, true, &im_end, 1, &err), 1);
    EXPECT_EQ(info.last_token_id, im_end);
}

TEST_F(AbiInfo, ASmallStructSizeGetsOnlyTheFieldsThatFit) {
    InferencePtr r = start("The capital of France is", greedy(2));
    WorkerInferenceInfo info;
    std::memset(&info, 0x7f, sizeof info);
    info.struct_size = offsetof(WorkerInferenceInfo, last_token_id);  // an older, shorter struct
    int err = -1;
    ASSERT_TRUE(cuda_inference_get_info(r.get(), &info, &err));
    EXPECT_EQ(info.struct_size, offsetof(WorkerInferenceInfo, last_token_id));
    EXPECT_EQ(info.prompt_tokens, 5);
    EXPECT_EQ(info.last_token_id, 0x7f7f7f7f);  // past struct_size: untouched
    info.struct_size = 4;
    EXPECT_FALSE(cuda_inference_get_info(r.get(), &info, &err));
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("struct_size"), std::string::npos);
}

// ---- cancel ---------------------------------------------------------------------

TEST_F(AbiInfo, CancelBeforeThePromptIsEvaluatedEndsWithCancelled) {
    InferencePtr r = start("The capital of France is", greedy(8));
    int err = -1;
    EXPECT_TRUE(cuda_inference_cancel(r.get(), &err));
    char piece[64];
    EXPECT_FALSE(cuda_inference_next_token(r.get(), piece, sizeof piece, nullptr, &err));
    EXPECT_EQ(err, CUDA_SUCCESS);
    const WorkerInferenceInfo info = info_of(r.get());
    EXPECT_EQ(info.finish_reason, WORKER_FINISH_CANCELLED);
    EXPECT_EQ(info.generated_tokens, 0);
    // Cancelling again, or after the end, changes nothing.
    EXPECT_TRUE(cuda_inference_cancel(r.get(), &err));
    EXPECT_EQ(info_of(r.get()).finish_reason, WORKER_FINISH_CANCELLED);
}

TEST_F(AbiInfo, CancelFromAnotherThreadStopsALongGenerationWithoutAnError) {
    InferencePtr r = start("Once upon a time", greedy(4000));
    std::atomic<int> pieces{0};
    std::atomic<bool> done{false};
    int consumer_err = -1;
    std::thread consumer([&] {
        char piece[256];
        while (cuda_inference_next_token(r.get(), piece, sizeof piece, nullptr, &consumer_err)) ++pieces;
        done = true;
    });
    // Never waits forever: should the text end early, the checks below fail.
    while (pieces.load() < 3 && !done.load()) std::this_thread::yield();
    int err = -1;
    EXPECT_TRUE(cuda_inference_cancel(r.get(), &err));
    consumer.join();
    EXPECT_EQ(consumer_err, CUDA_SUCCESS) << cuda_last_error_detail();
    const WorkerInferenceInfo info = info_of(r.get());
    EXPECT_EQ(info.finish_reason, WORKER_FINISH_CANCELLED);
    EXPECT_LT(info.generated_tokens, 4000);
}

TEST_F(AbiInfo, CancelRefusesADeadHandle) {
    InferenceResult* r = start("Hi", greedy(2)).release();
    cuda_inference_free(r);
    int err = -1;
    EXPECT_FALSE(cuda_inference_cancel(r, &err));
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_FALSE(cuda_inference_cancel(nullptr, nullptr));  // error_code is optional
}

// ---- the size a piece needs ------------------------------------------------------

TEST_F(AbiInfo, NextTokenSizeGivesTheBytesTheNextPieceNeeds) {
    InferencePtr r = start("The capital of France is", greedy(2));
    int err = -1;
    const int32_t size = cuda_inference_next_token_size(r.get(), &err);
    ASSERT_EQ(err, CUDA_SUCCESS);
    EXPECT_EQ(size, static_cast<int32_t>(std::string(" Paris").size() + 1));
    char tiny[3];
    EXPECT_FALSE(cuda_inference_next_token(r.get(), tiny, sizeof tiny, nullptr, &err));
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("needs 7 bytes"), std::string::npos)
        << cuda_last_error_detail();
    std::vector<char> exact(static_cast<size_t>(size));
    ASSERT_TRUE(cuda_inference_next_token(r.get(), exact.data(), size, nullptr, &err));
    EXPECT_STREQ(exact.data(), " Paris");
    ASSERT_TRUE(cuda_inference_next_token(r.get(), exact.data(), size, nullptr, &err));
    EXPECT_EQ(cuda_inference_next_token_size(r.get(), &err), 0);  // complete
    EXPECT_EQ(err, CUDA_SUCCESS);
}

// ---- log-probabilities -----------------------------------------------------------

TEST_F(AbiInfo, LogprobsAreTheLogSoftmaxOfLlamaCppsLogits) {
    const std::string golden = data("golden/SmolLM2-135M-Instruct.Q4_1/");
    const std::vector<std::vector<float>> steps = {read_floats(golden + "logits_0.f32"),
                                                   read_floats(golden + "decode_0_step1.f32")};
    ASSERT_EQ(steps[0].size(), 49152u);
    WorkerInferenceParams p = greedy(2);
    p.logprobs = 1;
    p.top_logprobs = 5;
    InferencePtr r = start("The capital of France is", p);
    int err = -1;
    drain(r.get(), &err);
    ASSERT_EQ(err, CUDA_SUCCESS);
    for (int32_t step = 0; step < 2; ++step) {
        const std::vector<float>& logits = steps[static_cast<size_t>(step)];
        // llama.cpp's five most likely ids, ties to the lower id.
        std::vector<int32_t> order(logits.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
        std::partial_sort(order.begin(), order.begin() + 5, order.end(), [&](int32_t a, int32_t b) {
            return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
                   (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
        });
        WorkerTokenLogprob chosen{};
        WorkerTokenLogprob top[8];
        ASSERT_EQ(cuda_inference_get_logprobs(r.get(), step, &chosen, top, 8, &err), 5) << cuda_last_error_detail();
        EXPECT_EQ(chosen.token_id, order[0]);  // greedy
        EXPECT_NEAR(chosen.logprob, log_softmax_at(logits, order[0]), 1e-5);
        for (int i = 0; i < 5; ++i) {
            EXPECT_EQ(top[i].token_id, order[static_cast<size_t>(i)]) << "step " << step << " rank " << i;
            EXPECT_NEAR(top[i].logprob, log_softmax_at(logits, order[static_cast<size_t>(i)]), 1e-5);
        }
        // A smaller buffer gets the first entries; the count stays the same.
        WorkerTokenLogprob two[2];
        EXPECT_EQ(cuda_inference_get_logprobs(r.get(), step, nullptr, two, 2, &err), 5);
        EXPECT_EQ(two[1].token_id, order[1]);
    }
    EXPECT_EQ(cuda_inference_get_logprobs(r.get(), 2, nullptr, nullptr, 0, &err), -1);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("out of range"), std::string::npos);
}

TEST_F(AbiInfo, LogprobsMustBeRequested) {
    InferencePtr r = start("The capital of France is", greedy(1));
    int err = -1;
    drain(r.get(), &err);
    EXPECT_EQ(cuda_inference_get_logprobs(r.get(), 0, nullptr, nullptr, 0, &err), -1);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("not requested"), std::string::npos);
    WorkerInferenceParams p = greedy(1);
    p.top_logprobs = 3;  // without logprobs
    EXPECT_EQ(cuda_inference_start_ex(model_.get(), "x", &p, &err), nullptr);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    p.logprobs = 1;
    p.top_logprobs = 21;
    EXPECT_EQ(cuda_inference_start_ex(model_.get(), "x", &p, &err), nullptr);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("top_logprobs"), std::string::npos);
}

// ---- tokenize / detokenize -------------------------------------------------------

TEST_F(AbiInfo, TokenizeGivesLlamaCppsIds) {
    const Json vectors = Json::parse_file(data("tokenizer/model-smollm2.json"));
    int checked = 0;
    for (const Json& c : vectors["cases"].items()) {
        if (!c.contains("text")) continue;  // text_hex: bytes that are not UTF-8, which the ABI refuses
        const std::string& text = c["text"].as_string();
        const bool add_special = c["add_special"].as_bool(), parse_special = c["parse_special"].as_bool();
        std::vector<int32_t> expected;
        for (const Json& id : c["ids"].items()) expected.push_back(static_cast<int32_t>(id.as_i64()));
        int err = -1;
        const int32_t n = cuda_tokenize(model_.get(), text.c_str(), add_special, parse_special, nullptr, 0, &err);
        if (text.find('\0') != std::string::npos) continue;  // the C string would end early
        ASSERT_EQ(err, CUDA_SUCCESS) << cuda_last_error_detail();
        ASSERT_EQ(n, static_cast<int32_t>(expected.size())) << text;
        std::vector<int32_t> ids(expected.size() + 1);
        ASSERT_EQ(cuda_tokenize(model_.get(), text.c_str(), add_special, parse_special, ids.data(),
                                static_cast<int32_t>(ids.size()), &err),
                  n);
        ids.resize(static_cast<size_t>(n));
        EXPECT_EQ(ids, expected) << text;
        ++checked;
    }
    EXPECT_GT(checked, 10);
}

TEST_F(AbiInfo, TokenizeWithTooSmallABufferSaysTheSizeAndWritesNothing) {
    int err = -1;
    int32_t ids[1] = {-7};
    EXPECT_EQ(cuda_tokenize(model_.get(), "Hello world", false, false, ids, 1, &err), 2);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("2 are needed"), std::string::npos)
        << cuda_last_error_detail();
    EXPECT_EQ(ids[0], -7);
    EXPECT_EQ(cuda_tokenize(model_.get(), "Hello world", false, false, nullptr, 5, &err), -1);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_EQ(cuda_tokenize(model_.get(), "\xff", false, false, nullptr, 0, &err), -1);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("UTF-8"), std::string::npos);
    EXPECT_EQ(cuda_tokenize(nullptr, "x", false, false, nullptr, 0, &err), -1);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
}

TEST_F(AbiInfo, DetokenizeGivesBackTheText) {
    // llama.cpp's ids for the text (model-smollm2.json).
    const int32_t ids[] = {19556, 28, 905, 17};
    int err = -1;
    const int64_t needed = cuda_detokenize(model_.get(), ids, 4, false, nullptr, 0, &err);
    ASSERT_EQ(err, CUDA_SUCCESS);
    EXPECT_EQ(needed, static_cast<int64_t>(std::string("Hello, world!").size() + 1));
    std::vector<char> text(static_cast<size_t>(needed));
    EXPECT_EQ(cuda_detokenize(model_.get(), ids, 4, false, text.data(), needed, &err), needed);
    EXPECT_STREQ(text.data(), "Hello, world!");
    char small[4] = "abc";
    EXPECT_EQ(cuda_detokenize(model_.get(), ids, 4, false, small, 4, &err), needed);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_STREQ(small, "");
    // Control tokens: rendered only when asked (ids 1 and 2 are <|im_start|>, <|im_end|>).
    const int32_t control[] = {1, 19556, 2};
    char out[64];
    ASSERT_GT(cuda_detokenize(model_.get(), control, 3, false, out, sizeof out, &err), 0);
    EXPECT_STREQ(out, "Hello");
    ASSERT_GT(cuda_detokenize(model_.get(), control, 3, true, out, sizeof out, &err), 0);
    EXPECT_STREQ(out, "<|im_start|>Hello<|im_end|>");
    const int32_t bad[] = {49152};
    EXPECT_EQ(cuda_detokenize(model_.get(), bad, 1, false, out, sizeof out, &err), -1);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("tokens[0] is 49152"), std::string::npos);
}

// ---- model facts -----------------------------------------------------------------

TEST_F(AbiInfo, ModelInfoMatchesTheFileAsTheGgufPackageReadsIt) {
    const Json summary = Json::parse_file(data("models/smollm2.json"));
    const Json& meta = summary["metadata"];
    WorkerModelInfo info = WORKER_MODEL_INFO_INIT;
    int err = -1;
    ASSERT_TRUE(cuda_model_get_info(model_.get(), &info, &err)) << cuda_last_error_detail();
    EXPECT_STREQ(info.architecture, meta["general.architecture"]["value"].as_string().c_str());
    EXPECT_STREQ(info.name, meta["general.name"]["value"].as_string().c_str());
    ASSERT_NE(info.chat_template, nullptr);
    EXPECT_EQ(std::string(info.chat_template), meta["tokenizer.chat_template"]["value"].as_string());
    EXPECT_EQ(info.context_length, meta["llama.context_length"]["value"].as_u64());
    EXPECT_EQ(info.n_layers, static_cast<int32_t>(meta["llama.block_count"]["value"].as_u64()));
    EXPECT_EQ(info.n_embd, static_cast<int32_t>(meta["llama.embedding_length"]["value"].as_u64()));
    EXPECT_EQ(info.n_heads, static_cast<int32_t>(meta["llama.attention.head_count"]["value"].as_u64()));
    EXPECT_EQ(info.n_kv_heads, static_cast<int32_t>(meta["llama.attention.head_count_kv"]["value"].as_u64()));
    EXPECT_EQ(info.vocab_size, static_cast<int32_t>(meta["tokenizer.ggml.tokens"]["length"].as_u64()));
    EXPECT_EQ(info.bos_token_id, static_cast<int32_t>(meta["tokenizer.ggml.bos_token_id"]["value"].as_u64()));
    EXPECT_EQ(info.eos_token_id, static_cast<int32_t>(meta["tokenizer.ggml.eos_token_id"]["value"].as_u64()));
    EXPECT_EQ(info.n_params, summary["parameter_count"].as_u64());
    // Tensors per type, most first.
    std::map<std::string, uint64_t> per_type;
    for (const auto& [type, figures] : summary["per_type"].members()) per_type[type] = figures["count"].as_u64();
    std::map<std::string, uint64_t> listed;
    uint64_t previous = UINT64_MAX;
    std::string list = info.weight_types;
    for (size_t at = 0; at < list.size();) {
        const size_t comma = std::min(list.find(',', at), list.size());
        const std::string item = list.substr(at, comma - at);
        const size_t colon = item.find(':');
        const uint64_t count = std::stoull(item.substr(colon + 1));
        EXPECT_LE(count, previous) << list;
        previous = count;
        listed[item.substr(0, colon)] = count;
        at = comma + 1;
    }
    EXPECT_EQ(listed, per_type) << list;
    // The end-of-generation ids include EOS.
    std::vector<int32_t> eog(info.eog_token_ids, info.eog_token_ids + info.n_eog_token_ids);
    EXPECT_NE(std::find(eog.begin(), eog.end(), info.eos_token_id), eog.end());
    EXPECT_GT(info.weight_bytes, 0u);
}

TEST_F(AbiInfo, ModelInfoFillsAnOlderShorterStructOnly) {
    WorkerModelInfo info;
    std::memset(&info, 0, sizeof info);
    info.struct_size = offsetof(WorkerModelInfo, weight_types);
    int err = -1;
    ASSERT_TRUE(cuda_model_get_info(model_.get(), &info, &err));
    EXPECT_STREQ(info.architecture, "llama");
    EXPECT_EQ(info.weight_types, nullptr);
    info.struct_size = 0;
    EXPECT_FALSE(cuda_model_get_info(model_.get(), &info, &err));
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
}

// ---- load progress ---------------------------------------------------------------

struct ProgressLog {
    std::vector<float> fractions;
    float cancel_at = 2.0f;  // > 1: never
};

bool record_progress(float fraction, void* user) {
    auto* log = static_cast<ProgressLog*>(user);
    log->fractions.push_back(fraction);
    return fraction < log->cancel_at;
}

TEST_F(AbiInfo, LoadProgressRisesToOne) {
    WORKER_REQUIRE_REAL_MODEL(path, "smollm2");
    ProgressLog log;
    WorkerLoadParams params = WORKER_LOAD_PARAMS_INIT;
    params.progress = &record_progress;
    params.progress_user_data = &log;
    int err = -1;
    ModelPtr model(cuda_load_model_ex(ctx_.get(), path.c_str(), &params, nullptr, &err));
    ASSERT_EQ(err, CUDA_SUCCESS) << cuda_last_error_detail();
    ASSERT_GE(log.fractions.size(), 30u);  // at least once per block
    for (size_t i = 1; i < log.fractions.size(); ++i) EXPECT_GE(log.fractions[i], log.fractions[i - 1]);
    EXPECT_GT(log.fractions.front(), 0.0f);
    EXPECT_EQ(log.fractions.back(), 1.0f);
    ModelPtr plain(cuda_load_model_ex(ctx_.get(), path.c_str(), nullptr, nullptr, &err));  // NULL params: defaults
    EXPECT_EQ(err, CUDA_SUCCESS);
}

TEST_F(AbiInfo, AProgressCallbackCancelsTheLoad) {
    WORKER_REQUIRE_REAL_MODEL(path, "smollm2");
    ProgressLog log;
    log.cancel_at = 0.5f;
    WorkerLoadParams params = WORKER_LOAD_PARAMS_INIT;
    params.progress = &record_progress;
    params.progress_user_data = &log;
    int err = -1;
    uint64_t bytes = 99;
    EXPECT_EQ(cuda_load_model_ex(ctx_.get(), path.c_str(), &params, &bytes, &err), nullptr);
    EXPECT_EQ(err, CUDA_ERROR_MODEL_LOAD_FAILED);
    EXPECT_EQ(bytes, 0u);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("cancelled by its progress callback"), std::string::npos)
        << cuda_last_error_detail();
    EXPECT_GE(log.fractions.back(), 0.5f);
    EXPECT_LT(log.fractions.back(), 1.0f);
    // The context and the model loaded before are unaffected.
    InferencePtr r = start("The capital of France is", greedy(1));
    EXPECT_NE(r, nullptr);
    params.struct_size = 3;
    EXPECT_EQ(cuda_load_model_ex(ctx_.get(), path.c_str(), &params, nullptr, &err), nullptr);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
}

// ---- chat template ---------------------------------------------------------------

TEST_F(AbiInfo, TheFilesChatTemplateGivesChatMl) {
    // SmolLM2-Instruct's template (Hugging Face's ChatML with a default system turn).
    const WorkerChatMessage messages[] = {{"user", "Hi"}};
    int err = -1;
    const int64_t needed = cuda_chat_apply_template(model_.get(), messages, 1, nullptr, nullptr, 0, &err);
    ASSERT_EQ(err, CUDA_SUCCESS) << cuda_last_error_detail();
    std::vector<char> text(static_cast<size_t>(needed));
    ASSERT_EQ(cuda_chat_apply_template(model_.get(), messages, 1, nullptr, text.data(), needed, &err), needed);
    EXPECT_STREQ(text.data(),
                 "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                 "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    const WorkerChatMessage with_system[] = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"}};
    WorkerChatParams params = WORKER_CHAT_PARAMS_INIT;
    params.add_generation_prompt = 0;
    char out[512];
    ASSERT_GT(cuda_chat_apply_template(model_.get(), with_system, 3, &params, out, sizeof out, &err), 0);
    EXPECT_STREQ(out,
                 "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                 "<|im_start|>assistant\nHello!<|im_end|>\n");
}

TEST_F(AbiInfo, ChatTemplateErrorsNameTheCause) {
    int err = -1;
    const WorkerChatMessage no_role[] = {{nullptr, "Hi"}};
    EXPECT_EQ(cuda_chat_apply_template(model_.get(), no_role, 1, nullptr, nullptr, 0, &err), -1);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("messages[0].role is NULL"), std::string::npos);
    WorkerChatParams params = WORKER_CHAT_PARAMS_INIT;
    params.template_text = "{% for m in messages %}{{ raise_exception('no ' + m.role) }}{% endfor %}";
    const WorkerChatMessage user[] = {{"user", "Hi"}};
    EXPECT_EQ(cuda_chat_apply_template(model_.get(), user, 1, &params, nullptr, 0, &err), -1);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("no user"), std::string::npos) << cuda_last_error_detail();
    params.template_text = "{{ messages[0].content | upper }}";
    char out[16];
    EXPECT_EQ(cuda_chat_apply_template(model_.get(), user, 1, &params, out, sizeof out, &err), 3);
    EXPECT_STREQ(out, "HI");
    params.struct_size = 2;
    EXPECT_EQ(cuda_chat_apply_template(model_.get(), user, 1, &params, out, sizeof out, &err), -1);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("struct_size"), std::string::npos);
}

}  // namespace
