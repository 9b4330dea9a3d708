// The architecture variants no small real model in the cache covers, against
// llama.cpp: qwen3 (per-head Q/K norm), llama with Llama 3's rope_freqs.weight,
// YaRN (qwen2; llama with rope.scaling.attn_factor) and gemma3's linear
// scaling. Each is a synthetic model of real shape (GQA, K-quant weights)
// that the test GGUF writer builds deterministically here;
// scripts/oracle/gen_synthetic_golden.py ran the same bytes through llama.cpp
// (llama-cpp-python 0.3.36) and recorded, in tests/data/golden/synthetic/:
// the file's FNV-1a hash, the prompt's token ids, the first-step logits and
// 32 greedy steps (each step's logits digest and id).
//
// The CPU device must match bit for bit, as for the real models
// (test_engine_golden.cpp, whose digest and argmax this shares). The model
// bytes are checked first: a writer change that moves them makes the goldens
// stale, which the hash says plainly rather than as a logits mismatch.
//
// WORKER_WRITE_SYNTHETIC_GOLDEN_MODELS=<dir> makes WriteModelsForTheOracle
// write the models there for the generator (otherwise it skips).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/model.h"
#include "cpu/quant_dot.h"
#include "sampling/sampler.h"
#include "support/cpu_isa_level.h"
#include "support/gguf_writer.h"
#include "support/json.h"
#include "worker_types.h"

namespace worker {
namespace {

using test::Json;
using test::SyntheticModelSpec;

[[maybe_unused]] const auto* const kRequestedIsa = ::testing::AddGlobalTestEnvironment(new test::RequestedCpuIsa);

struct SyntheticGoldenCase {
    const char* name;  // folder under tests/data/golden/synthetic and the model's file name
    SyntheticModelSpec spec;
};

SyntheticModelSpec base_spec(const char* arch, GgmlType weights) {
    SyntheticModelSpec s;
    s.arch = arch;
    s.name = std::string("golden-") + arch;
    s.n_embd = 256;
    s.n_layer = 2;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.head_dim = 64;
    s.n_ff = 512;
    s.context_length = 256;
    s.rms_eps = 1e-6f;
    s.rope_base = 10000.0f;
    s.weight_type = weights;
    s.embedding_type = GgmlType::Q8_0;
    s.seed = 15;
    return s;
}

std::vector<SyntheticGoldenCase> cases() {
    std::vector<SyntheticGoldenCase> v;
    {
        // Qwen3's shape: more query heads than n_embd / head_dim (key_length
        // set), 4 query heads per KV head, rope base 1e6.
        SyntheticModelSpec s = base_spec("qwen3", GgmlType::Q4_K);
        s.n_head = 8;
        s.rope_base = 1000000.0f;
        v.push_back({"qwen3-q4_k", s});
    }
    {
        SyntheticModelSpec s = base_spec("llama", GgmlType::Q4_K);
        s.rope_freqs = true;
        s.rope_base = 500000.0f;
        s.rms_eps = 1e-5f;
        v.push_back({"llama-rope-freqs-q4_k", s});
    }
    {
        // YaRN factor 4 over an original context of 32: the prompt and the
        // greedy steps run past it.
        SyntheticModelSpec s = base_spec("qwen2", GgmlType::Q6_K);
        s.rope_base = 1000000.0f;
        s.rope_scaling = "yarn";
        s.rope_scaling_factor = 4.0f;
        s.rope_original_context = 32;
        v.push_back({"qwen2-yarn-q6_k", s});
    }
    {
        // YaRN on the interleaved (non-NeoX) rope of llama, a factor that is
        // not a power of two, and the magnitude factor llama.cpp reads for
        // every architecture (rope.scaling.attn_factor).
        SyntheticModelSpec s = base_spec("llama", GgmlType::Q4_K);
        s.seed = 16;
        s.rope_scaling = "yarn";
        s.rope_scaling_factor = 2.5f;
        s.rope_original_context = 24;
        s.rope_attn_factor = 1.25f;
        v.push_back({"llama-yarn-attn-factor-q4_k", s});
    }
    {
        // Gemma 3's linear scaling (its 4B and larger files say factor 8):
        // llama.cpp scales only the global layers (every 6th); the
        // sliding-window layers keep scale 1. Six layers, a window of 32
        // shorter than the prompt.
        SyntheticModelSpec s = base_spec("gemma3", GgmlType::Q4_K);
        s.seed = 17;
        s.n_layer = 6;
        s.sliding_window = 32;
        s.rope_scaling = "linear";
        s.rope_scaling_factor = 8.0f;
        s.output_weight = false;
        v.push_back({"gemma3-linear-q4_k", s});
    }
    return v;
}

std::string golden_dir(const SyntheticGoldenCase& c) {
    return std::string(WORKER_SOURCE_DIR) + "/tests/data/golden/synthetic/" + c.name;
}

// FNV-1a, 64-bit, of the whole file (gen_synthetic_golden.py: fnv1a64).
std::string fnv1a64(const std::vector<uint8_t>& bytes) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const uint8_t b : bytes) {
        h ^= b;
        h *= 0x100000001b3ull;
    }
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

test::GgufBytes build(const SyntheticGoldenCase& c) {
    test::GgufWriter w;
    test::add_synthetic_model(w, c.spec);
    return w.build();
}

uint32_t bits_of(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

// gen_golden.py's logits_digest: sum over i of (splitmix64(i) | 1) * bits(logit_i), mod 2^64.
std::string digest(const std::vector<float>& logits) {
    uint64_t sum = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
        uint64_t z = i + 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        sum += ((z ^ (z >> 31)) | 1) * bits_of(logits[i]);
    }
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(sum));
    return buf;
}

std::vector<int32_t> ids_of(const Json& j) {
    std::vector<int32_t> ids;
    for (const Json& x : j.items()) ids.push_back(static_cast<int32_t>(x.as_i64()));
    return ids;
}

class SyntheticGolden : public ::testing::TestWithParam<SyntheticGoldenCase> {};

TEST_P(SyntheticGolden, LogitsOfEveryStepAreLlamaCppsBitForBit) {
    const SyntheticGoldenCase& c = GetParam();
    const Json doc = Json::parse_file(golden_dir(c) + "/golden.json");
    const test::GgufBytes bytes = build(c);
    ASSERT_EQ(fnv1a64(bytes.bytes), doc["model_fnv1a64"].as_string())
        << c.name << ": the test GGUF writer no longer writes the bytes llama.cpp ran; regenerate with "
        << "scripts/oracle/gen_synthetic_golden.py";
    const std::string path = testing::TempDir() + "synthetic_golden_" + c.name + ".gguf";
    bytes.write(path);

    auto model = Model::load(Context::create(WORKER_DEVICE_CPU), path);
    model::Transformer& tr = model->transformer();
    const size_t n_vocab = tr.config().vocab_size;
    ASSERT_EQ(n_vocab, static_cast<size_t>(doc["n_vocab"].as_i64()));
    const std::vector<int32_t> prompt = ids_of(doc["prompt_ids"]);
    const std::vector<int32_t> greedy = ids_of(doc["greedy_ids"]);
    const auto& digests = doc["step_logits_digest"].items();
    ASSERT_EQ(greedy.size(), 32u);
    ASSERT_EQ(digests.size(), greedy.size());

    std::vector<float> first(n_vocab);
    {
        std::ifstream in(golden_dir(c) + "/" + doc["first_logits_file"].as_string(), std::ios::binary);
        in.read(reinterpret_cast<char*>(first.data()), static_cast<std::streamsize>(n_vocab * sizeof(float)));
        ASSERT_TRUE(in.good() && in.peek() == std::char_traits<char>::eof()) << "first-step logits file";
    }

    auto session =
        tr.create_session(static_cast<int32_t>(prompt.size() + greedy.size()), static_cast<int32_t>(prompt.size()));
    std::vector<float> logits(n_vocab);
    tr.backend().read(tr.forward(*session, prompt), logits.data(), n_vocab * sizeof(float));
    size_t identical = 0, first_diff = n_vocab;
    for (size_t i = 0; i < n_vocab; ++i) {
        const bool same = bits_of(logits[i]) == bits_of(first[i]);
        identical += same;
        if (!same && first_diff == n_vocab) first_diff = i;
    }
    EXPECT_EQ(identical, n_vocab) << c.name << ": first-step logits differ from llama.cpp's; the first at "
                                  << first_diff << ": ours " << (first_diff < n_vocab ? logits[first_diff] : 0.0f)
                                  << ", llama.cpp " << (first_diff < n_vocab ? first[first_diff] : 0.0f);

    size_t digests_equal = 0, greedy_equal = 0;
    for (size_t step = 0; step < greedy.size(); ++step) {
        const std::string d = digest(logits);
        digests_equal += d == digests[step].as_string();
        EXPECT_EQ(d, digests[step].as_string()) << c.name << " step " << step << ": logits digest";
        const int32_t ours = sampling::argmax(std::span<const float>(logits.data(), n_vocab));
        greedy_equal += ours == greedy[step];
        EXPECT_EQ(ours, greedy[step]) << c.name << " step " << step << ": greedy id";
        if (step + 1 < greedy.size()) {  // llama.cpp's id, so that later steps stay comparable
            tr.backend().read(tr.forward(*session, std::span<const int32_t>(&greedy[step], 1)), logits.data(),
                              n_vocab * sizeof(float));
        }
    }
    std::printf(
        "[synthetic golden] %s: first step %zu/%zu logits bit-identical; %zu/%zu step digests equal; greedy ids "
        "%zu/%zu (%s kernels)\n",
        c.name, identical, n_vocab, digests_equal, digests.size(), greedy_equal, greedy.size(), cpu::dot_kernel_isa());
}

INSTANTIATE_TEST_SUITE_P(Architectures, SyntheticGolden, ::testing::ValuesIn(cases()), [](const auto& param_info) {
    std::string name = param_info.param.name;
    for (char& ch : name) {
        if (ch == '-') ch = '_';
    }
    return name;
});

TEST(SyntheticGoldenModels, WriteModelsForTheOracle) {
    const char* dir = std::getenv("WORKER_WRITE_SYNTHETIC_GOLDEN_MODELS");
    if (dir == nullptr || *dir == '\0') GTEST_SKIP() << "WORKER_WRITE_SYNTHETIC_GOLDEN_MODELS is not set";
    for (const SyntheticGoldenCase& c : cases()) {
        const test::GgufBytes bytes = build(c);
        bytes.write(std::string(dir) + "/" + c.name + ".gguf");
        std::printf("%s %s\n", c.name, fnv1a64(bytes.bytes).c_str());
    }
}

}  // namespace
}  // namespace worker
