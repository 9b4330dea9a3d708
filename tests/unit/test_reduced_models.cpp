// Reduced models (support/reduce_model.h): the kept blocks and rows are the
// source's bytes, the metadata is the source's but for what the cut changes,
// the tokenizer still loads, and the reduced real models generate text on the
// CPU device. The files the GPU suite is given (WORKER_REDUCED_MODELS_DIR) are
// checked too when they are present.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "support/gguf_writer.h"
#include "support/reduce_model.h"
#include "support/test_models.h"
#include "tokenizer/tokenizer.h"
#include "worker_ffi.h"

namespace {

using worker::gguf::File;
using worker::gguf::TensorInfo;
using worker::gguf::Value;
using worker::gguf::ValueType;
using worker::test::ReduceSpec;

// What the GPU suite's reduced models may weigh together: with the tracked
// tree (~16 MB) and the prebuilt GPU binaries (~7 MB) they must stay under the
// 60 MiB that travel to a GPU machine (scripts/gpu-check.sh --prepare).
constexpr uint64_t kReducedBudgetBytes = 36'000'000;

std::string temp_path(const std::string& name) {
    // Per process: ctest runs the tests of one fixture in parallel processes.
    const std::string dir = ::testing::TempDir() + "worker_reduced_models_" + std::to_string(::getpid());
    std::filesystem::create_directories(dir);
    return dir + "/" + name;
}

std::vector<uint8_t> file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool same_value(const Value& a, const Value& b) {
    if (a.type != b.type || a.u != b.u || a.i != b.i || a.s != b.s || a.element_type != b.element_type ||
        a.size() != b.size()) {
        return false;
    }
    if (!(a.f == b.f) && !(a.f != a.f && b.f != b.f)) return false;  // NaN equals NaN here
    for (size_t i = 0; i < a.size(); ++i)
        if (!same_value(a.element(i), b.element(i))) return false;
    return true;
}

std::vector<uint8_t> tensor_bytes(const File& f, const TensorInfo& t, uint64_t n_bytes) {
    const uint8_t* data = f.tensor_data(t);
    return {data, data + n_bytes};
}

bool is_per_token(const std::string& name) { return name == "token_embd.weight" || name == "output.weight"; }

int block_of(const std::string& name) {
    if (name.rfind("blk.", 0) != 0) return -1;
    return std::stoi(name.substr(4));
}

// Everything reduce_model promises about `out` made from `in` with `spec`.
void expect_reduction_of(const File& in, const File& out, const ReduceSpec& spec) {
    const std::string arch = in.get_string("general.architecture");
    const uint32_t n_layers = spec.n_layers != 0 ? spec.n_layers : in.get_u32(arch + ".block_count");
    const size_t n_tokens = in.get_array_size("tokenizer.ggml.tokens");
    const size_t n_vocab = spec.n_vocab != 0 ? spec.n_vocab : n_tokens;
    EXPECT_EQ(out.get_u32(arch + ".block_count"), n_layers);
    EXPECT_EQ(out.alignment(), in.alignment());
    EXPECT_EQ(out.version(), in.version());

    // Tensors: the source's, in its order, less the blocks past the cut.
    std::vector<const TensorInfo*> expected;
    for (const TensorInfo& t : in.tensors())
        if (block_of(t.name) < static_cast<int>(n_layers)) expected.push_back(&t);
    ASSERT_EQ(out.tensors().size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        const TensorInfo& a = *expected[i];
        const TensorInfo& b = out.tensors()[i];
        ASSERT_EQ(b.name, a.name);
        EXPECT_EQ(b.type, a.type) << a.name;
        std::vector<uint64_t> dims = a.dims;
        if (is_per_token(a.name)) dims[1] = n_vocab;
        EXPECT_EQ(b.dims, dims) << a.name;
        EXPECT_EQ(b.n_bytes, a.n_bytes / a.dims.back() * dims.back()) << a.name;
        EXPECT_TRUE(tensor_bytes(out, b, b.n_bytes) == tensor_bytes(in, a, b.n_bytes)) << a.name << " differs";
    }
    for (int i = 0; i < static_cast<int>(n_layers); ++i) {
        EXPECT_NE(out.find_tensor("blk." + std::to_string(i) + ".attn_q.weight"), nullptr) << "block " << i;
    }

    // Metadata: the source's, but for the keys the cut changes.
    const std::set<std::string> changed = {arch + ".block_count",       arch + ".vocab_size",
                                           "tokenizer.ggml.tokens",     "tokenizer.ggml.scores",
                                           "tokenizer.ggml.token_type", "tokenizer.ggml.merges"};
    for (const auto& [key, value] : in.metadata()) {
        if (changed.contains(key)) continue;
        const Value* kept = out.find(key);
        const bool id_past_end =
            key.ends_with("_token_id") && value.is_integer() && in.get_i64(key) >= static_cast<int64_t>(n_vocab);
        if (id_past_end) {
            EXPECT_EQ(kept, nullptr) << key << " points past the kept vocabulary";
            continue;
        }
        ASSERT_NE(kept, nullptr) << key;
        if (same_value(*kept, value)) continue;
        // Only the add_<kind>_token flag of a dropped <kind>_token_id changes, to false.
        ASSERT_TRUE(key.starts_with("tokenizer.ggml.add_") && key.ends_with("_token")) << key << " changed";
        const std::string kind = key.substr(19, key.size() - 19 - 6);
        EXPECT_FALSE(out.has("tokenizer.ggml." + kind + "_token_id")) << key << " changed";
        EXPECT_FALSE(out.get_bool_or(key, true)) << key;
    }
    if (in.has(arch + ".vocab_size")) {
        EXPECT_EQ(out.get_u32(arch + ".vocab_size"), n_vocab);
    }

    // Vocabulary arrays: the first n_vocab entries.
    const std::vector<std::string> tokens = in.get_string_array("tokenizer.ggml.tokens");
    const std::vector<std::string> out_tokens = out.get_string_array("tokenizer.ggml.tokens");
    EXPECT_TRUE(std::equal(out_tokens.begin(), out_tokens.end(), tokens.begin(), tokens.begin() + n_vocab) &&
                out_tokens.size() == n_vocab);
    for (const char* key : {"tokenizer.ggml.scores", "tokenizer.ggml.token_type"}) {
        if (!in.has(key)) continue;
        const Value& a = *in.find(key);
        const Value& b = *out.find(key);
        ASSERT_EQ(b.size(), n_vocab) << key;
        for (size_t i = 0; i < n_vocab; ++i) ASSERT_TRUE(same_value(a.element(i), b.element(i))) << key << "[" << i << "]";
    }

    // Merges: exactly the source's whose parts and result are kept tokens, in order.
    if (in.has("tokenizer.ggml.merges")) {
        const std::set<std::string> kept(out_tokens.begin(), out_tokens.end());
        std::vector<std::string> usable;
        for (const std::string& m : in.get_string_array("tokenizer.ggml.merges")) {
            const size_t space = m.find(' ');
            const std::string left = m.substr(0, space), right = m.substr(space + 1);
            if (kept.contains(left) && kept.contains(right) && kept.contains(left + right)) usable.push_back(m);
        }
        EXPECT_EQ(out.get_string_array("tokenizer.ggml.merges"), usable);
    }
}

// Text generated greedily through the C ABI on the CPU device; "" with a
// test failure when anything goes wrong.
std::string generate_greedy(const std::string& path, const char* prompt, int max_tokens, int* n_tokens) {
    int err = -1;
    CudaContext* ctx = cuda_init(WORKER_DEVICE_CPU, &err);
    EXPECT_EQ(err, CUDA_SUCCESS) << cuda_last_error_detail();
    if (ctx == nullptr) return "";
    uint64_t bytes = 0;
    CudaModel* model = cuda_load_model(ctx, path.c_str(), &bytes, &err);
    EXPECT_EQ(err, CUDA_SUCCESS) << cuda_last_error_detail();
    std::string text;
    *n_tokens = 0;
    if (model != nullptr) {
        InferenceResult* result = cuda_inference_start(model, prompt, max_tokens, 0.0f, 1, &err);
        EXPECT_EQ(err, CUDA_SUCCESS) << cuda_last_error_detail();
        char token[256];
        int index = -1;
        while (result != nullptr && cuda_inference_next_token(result, token, sizeof token, &index, &err)) {
            text += token;
            ++*n_tokens;
        }
        EXPECT_EQ(err, CUDA_SUCCESS) << cuda_last_error_detail();
        cuda_inference_free(result);
        cuda_unload_model(model);
    }
    cuda_destroy(ctx);
    return text;
}

void expect_generates(const std::string& path) {
    int n_first = 0, n_second = 0;
    const std::string first = generate_greedy(path, "The capital of France is", 8, &n_first);
    const std::string second = generate_greedy(path, "The capital of France is", 8, &n_second);
    EXPECT_GT(n_first, 0) << path << " generated nothing";
    EXPECT_LE(n_first, 8);
    EXPECT_EQ(first, second) << "greedy decoding differs between runs";
    EXPECT_EQ(n_first, n_second);
}

// ---- synthetic models ---------------------------------------------------------------

worker::test::SyntheticModelSpec synthetic_spec() {
    worker::test::SyntheticModelSpec spec;
    spec.n_layer = 3;
    spec.weight_type = worker::GgmlType::Q4_0;
    spec.embedding_type = worker::GgmlType::Q8_0;
    spec.output_weight = true;  // an untied output is cut like token_embd
    return spec;
}

class ReduceSynthetic : public ::testing::Test {
protected:
    void SetUp() override {
        source_ = temp_path("synthetic-source.gguf");
        worker::test::GgufWriter w;
        worker::test::add_synthetic_model(w, synthetic_spec());
        w.add_u32("llama.vocab_size", static_cast<uint32_t>(worker::test::synthetic_vocab().tokens.size()));
        w.remove("tokenizer.ggml.add_bos_token");
        w.add_bool("tokenizer.ggml.add_bos_token", true);  // its BOS is the last token: a cut drops both
        w.write(source_);
    }
    std::string source_;
};

TEST_F(ReduceSynthetic, KeepsTheFirstBlocksVerbatim) {
    const std::string out = temp_path("synthetic-1-layer.gguf");
    const ReduceSpec spec{1, 0};
    worker::test::reduce_model(source_, out, spec);
    const auto in = File::open(source_);
    const auto reduced = File::open(out);
    expect_reduction_of(*in, *reduced, spec);
    EXPECT_EQ(reduced->metadata().size(), in->metadata().size());
    EXPECT_EQ(reduced->find_tensor("blk.1.attn_q.weight"), nullptr);
    EXPECT_TRUE(same_value(*reduced->find("tokenizer.ggml.merges"), *in->find("tokenizer.ggml.merges")));
}

TEST_F(ReduceSynthetic, CutsTheVocabularyAndDropsIdsPastIt) {
    const auto in = File::open(source_);
    const size_t n_tokens = in->get_array_size("tokenizer.ggml.tokens");
    const uint32_t n_vocab = 270;  // the byte tokens and a few merged words, not the control tokens at the end
    ASSERT_GT(n_tokens, n_vocab + 3);
    ASSERT_GE(in->get_u32("tokenizer.ggml.bos_token_id"), n_vocab);

    const std::string out = temp_path("synthetic-270-tokens.gguf");
    const ReduceSpec spec{2, n_vocab};
    worker::test::reduce_model(source_, out, spec);
    const auto reduced = File::open(out);
    expect_reduction_of(*in, *reduced, spec);
    EXPECT_FALSE(reduced->has("tokenizer.ggml.bos_token_id"));
    EXPECT_FALSE(reduced->has("tokenizer.ggml.eos_token_id"));
    EXPECT_FALSE(reduced->get_bool_or("tokenizer.ggml.add_bos_token", true));
    EXPECT_EQ(reduced->get_u32("llama.vocab_size"), n_vocab);
    EXPECT_LT(reduced->get_array_size("tokenizer.ggml.merges"), in->get_array_size("tokenizer.ggml.merges"));
    EXPECT_GT(reduced->get_array_size("tokenizer.ggml.merges"), 0u);

    const auto tokenizer = worker::tokenizer::Tokenizer::from_gguf(*reduced);
    EXPECT_EQ(tokenizer->n_vocab(), static_cast<int32_t>(n_vocab));
    EXPECT_EQ(tokenizer->bos_id(), -1);
    for (int32_t id : tokenizer->encode("the world is hello, and of the", true, true))
        EXPECT_LT(id, static_cast<int32_t>(n_vocab));
    EXPECT_EQ(tokenizer->decode(tokenizer->encode("the world is hello", true, true)), "the world is hello");
}

TEST_F(ReduceSynthetic, WritesTheSameBytesEveryRun) {
    const std::string a = temp_path("synthetic-a.gguf"), b = temp_path("synthetic-b.gguf");
    worker::test::reduce_model(source_, a, {2, 280});
    worker::test::reduce_model(source_, b, {2, 280});
    const std::vector<uint8_t> bytes = file_bytes(a);
    EXPECT_FALSE(bytes.empty());
    EXPECT_TRUE(bytes == file_bytes(b));
}

TEST_F(ReduceSynthetic, NothingCutGivesTheSameModel) {
    const std::string out = temp_path("synthetic-all.gguf");
    worker::test::reduce_model(source_, out, {});
    const auto in = File::open(source_);
    const auto reduced = File::open(out);
    expect_reduction_of(*in, *reduced, {});
    ASSERT_EQ(reduced->metadata().size(), in->metadata().size());
    for (const auto& [key, value] : in->metadata()) EXPECT_TRUE(same_value(*reduced->find(key), value)) << key;
}

TEST_F(ReduceSynthetic, RefusesToKeepMoreThanTheModelHas) {
    const std::string out = temp_path("synthetic-too-many.gguf");
    EXPECT_THROW(worker::test::reduce_model(source_, out, {4, 0}), std::invalid_argument);
    EXPECT_THROW(worker::test::reduce_model(source_, out, {1, 100000}), std::invalid_argument);
}

TEST_F(ReduceSynthetic, ReducedModelGeneratesOnTheCpuDevice) {
    const std::string out = temp_path("synthetic-generate.gguf");
    worker::test::reduce_model(source_, out, {1, 280});
    expect_generates(out);
}

// ---- the real models ------------------------------------------------------------------

class ReduceRealModel : public ::testing::TestWithParam<std::string> {};

TEST_P(ReduceRealModel, MatchesTheSourceAndGenerates) {
    WORKER_REQUIRE_REAL_MODEL(source_path, GetParam());
    const worker::test::ReducedModel& m = worker::test::reduced_model(GetParam());
    const std::string out = temp_path(m.file);
    worker::test::reduce_model(source_path, out, m.spec);
    const auto in = File::open(source_path);
    const auto reduced = File::open(out);
    expect_reduction_of(*in, *reduced, m.spec);

    // The reduced tokenizer keeps the special tokens and encodes text made of
    // kept tokens as the full one does.
    const auto full = worker::tokenizer::Tokenizer::from_gguf(*in);
    const auto cut = worker::tokenizer::Tokenizer::from_gguf(*reduced);
    EXPECT_EQ(cut->n_vocab(), static_cast<int32_t>(m.spec.n_vocab));
    EXPECT_EQ(cut->bos_id(), full->bos_id());
    EXPECT_EQ(cut->eos_id(), full->eos_id());
    EXPECT_EQ(cut->eot_id(), full->eot_id());
    EXPECT_EQ(cut->add_bos(), full->add_bos());
    for (const char* text : {"The capital of France is", "Hello world, this is a test.", "<|im_start|>user\nHi"}) {
        const std::vector<int32_t> ids = full->encode(text, true, true);
        bool all_kept = true;
        for (int32_t id : ids) all_kept = all_kept && id < cut->n_vocab();
        if (all_kept) {
            EXPECT_EQ(cut->encode(text, true, true), ids) << text;
        }
        EXPECT_EQ(cut->decode(cut->encode(text, false, false)), full->decode(full->encode(text, false, false))) << text;
    }

    expect_generates(out);
}

INSTANTIATE_TEST_SUITE_P(Models, ReduceRealModel, ::testing::Values("smollm2", "gemma3"));

// ---- the files given to the GPU suite --------------------------------------------------

class ReducedModelFile : public ::testing::TestWithParam<std::string> {};

TEST_P(ReducedModelFile, IsCurrentAndGenerates) {
    WORKER_REQUIRE_REDUCED_MODEL(path, GetParam());
    const worker::test::ReducedModel& m = worker::test::reduced_model(GetParam());
    const auto f = File::open(path);
    const std::string arch = f->get_string("general.architecture");
    EXPECT_EQ(f->get_u32(arch + ".block_count"), m.spec.n_layers);
    EXPECT_EQ(f->get_array_size("tokenizer.ggml.tokens"), m.spec.n_vocab);
    EXPECT_NO_THROW(worker::tokenizer::Tokenizer::from_gguf(*f));
    // Made from the cached source with today's spec, when the source is here.
    if (const std::string source = worker::test::real_model_path(m.name); !source.empty()) {
        const std::string fresh = temp_path("fresh-" + m.file);
        worker::test::reduce_model(source, fresh, m.spec);
        EXPECT_TRUE(file_bytes(fresh) == file_bytes(path)) << path << " is stale: run scripts/make-reduced-models.sh";
    }
    expect_generates(path);
}

INSTANTIATE_TEST_SUITE_P(Models, ReducedModelFile, ::testing::Values("smollm2", "gemma3"));

TEST(ReducedModelFiles, FitTheBudget) {
    uint64_t total = 0;
    for (const worker::test::ReducedModel& m : worker::test::reduced_models()) {
        WORKER_REQUIRE_REDUCED_MODEL(path, m.name);
        total += std::filesystem::file_size(path);
    }
    EXPECT_LT(total, kReducedBudgetBytes) << "the reduced models must travel with the repository";
}

}  // namespace
