// The forward pass against llama.cpp on the real models: golden data from
// scripts/oracle/gen_golden.py (llama-cpp-python 0.3.36 on the same GGUF
// files) in tests/data/golden/<model>/. The prompts are fed as llama.cpp's
// token ids, so this checks the engine alone, not the tokenizer.
//
// The CPU backend reproduces llama.cpp's CPU arithmetic step by step (8-bit
// activations, half KV cache, ggml's e^x and GELU table, and the lanes and
// order in which each of llama.cpp's kernels sums; see src/cpu/vec.h and
// src/cpu/quant_dot.h), so this asserts bit identity, on every prompt of both
// models, at every instruction-set level (ctest runs it once per level:
// isa.<level>.*):
//   - the first-step logits (after the prompt, one batch) equal
//     logits_<i>.f32, every value, bit for bit;
//   - at each of the 32 greedy steps (llama.cpp's greedy ids fed one at a
//     time) the logits have llama.cpp's digest (step_logits_digest: a 64-bit
//     sum in which any one value that moves changes the result), and on the
//     steps stored in full (decode_<i>_step<s>.f32) every value is equal;
//   - our argmax is llama.cpp's greedy id at every step.
//
// The bits also depend on the C library's expf/sinf/cosf/tanhf/powf, which
// llama.cpp calls as we do. golden.json records their bits at a few points
// where the data were made; the test prints whether this machine's agree.
// With another C library (or another llama.cpp build) exact equality may be
// out of reach: WORKER_GOLDEN_APPROXIMATE=1 then checks, loudly, what two
// correct implementations can promise instead (cosine >= 0.999 and the same
// top-1 on every stored vector, our choice among llama.cpp's top 3 at every
// step). CI never sets it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/model.h"
#include "cpu/quant_dot.h"
#include "sampling/sampler.h"
#include "support/cpu_isa_level.h"
#include "support/json.h"
#include "support/test_models.h"
#include "worker_types.h"

namespace worker {
namespace {

using test::Json;

// ctest's isa.<level>.* entries: the level asked for, or a skip that says why.
[[maybe_unused]] const auto* const kRequestedIsa = ::testing::AddGlobalTestEnvironment(new test::RequestedCpuIsa);

constexpr int kPromptsPerModel = 9;
constexpr double kMinCosine = 0.999;

bool approximate() {
    const char* v = std::getenv("WORKER_GOLDEN_APPROXIMATE");
    return v != nullptr && std::string(v) == "1";
}

std::vector<int32_t> ids_of(const Json& j) {
    std::vector<int32_t> ids;
    for (const Json& x : j.items()) ids.push_back(static_cast<int32_t>(x.as_i64()));
    return ids;
}

uint32_t bits_of(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

std::string hex(uint64_t v, int width) {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%0*llx", width, static_cast<unsigned long long>(v));
    return buf;
}

// gen_golden.py's logits_digest: sum over i of (splitmix64(i) | 1) * bits(logit_i), mod 2^64.
std::string digest(const std::vector<float>& logits, size_t n) {
    uint64_t sum = 0;
    for (size_t i = 0; i < n; ++i) {
        uint64_t z = i + 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        sum += ((z ^ (z >> 31)) | 1) * bits_of(logits[i]);
    }
    return hex(sum, 16);
}

std::vector<float> read_floats(const std::string& path, size_t n) {
    std::vector<float> v(n);
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(float)));
    if (!in.good() || in.peek() != std::char_traits<char>::eof()) {
        ADD_FAILURE() << path << " is missing or does not hold exactly " << n << " floats";
        v.clear();
    }
    return v;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b, size_t n) {
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < n; ++i) {
        dot += static_cast<double>(a[i]) * b[i];
        na += static_cast<double>(a[i]) * a[i];
        nb += static_cast<double>(b[i]) * b[i];
    }
    return dot / std::sqrt(na * nb);
}

// Compares our logits with a stored llama.cpp vector; returns how many are
// bit-identical. Exact mode: all must be; approximate mode: cosine and top-1.
size_t compare_vector(const std::vector<float>& ours, const std::vector<float>& ref, size_t n,
                      const std::string& what) {
    if (ref.size() != n) return 0;
    size_t identical = 0, first_diff = n;
    for (size_t i = 0; i < n; ++i) {
        const bool same = bits_of(ours[i]) == bits_of(ref[i]);
        identical += same;
        if (!same && first_diff == n) first_diff = i;
    }
    if (approximate()) {
        EXPECT_GE(cosine(ours, ref, n), kMinCosine) << what;
        EXPECT_EQ(sampling::argmax(std::span<const float>(ours.data(), n)), sampling::argmax(ref)) << what;
    } else if (identical != n) {
        ADD_FAILURE() << what << ": " << n - identical << " of " << n << " logits differ from llama.cpp's; the first, "
                      << first_diff << ": ours " << ours[first_diff] << " (0x" << hex(bits_of(ours[first_diff]), 8)
                      << "), llama.cpp " << ref[first_diff] << " (0x" << hex(bits_of(ref[first_diff]), 8) << ")";
    }
    return identical;
}

// This machine's libm against the bits recorded where the golden data were
// made (volatile inputs: a compiler must not fold these calls itself).
std::string libm_report(const Json& fingerprint) {
    const auto& points = fingerprint["points"].items();
    volatile float exponent = static_cast<float>(fingerprint["powf_exponent"].as_number());
    std::string differences;
    size_t checked = 0;
    for (const auto& [name, bits] : fingerprint["bits"].members()) {
        for (size_t k = 0; k < points.size(); ++k) {
            volatile float x = static_cast<float>(points[k].as_number());
            float y = 0;
            if (name == "expf") y = std::exp(x);
            if (name == "sinf") y = std::sin(x);
            if (name == "cosf") y = std::cos(x);
            if (name == "tanhf") y = std::tanh(x);
            if (name == "powf") y = std::pow(x, exponent);
            ++checked;
            const std::string want = bits.items()[k].as_string();
            if (hex(bits_of(y), 8) != want) {
                differences += " " + name + "(" + std::to_string(x) + ") = 0x" + hex(bits_of(y), 8) + " here, 0x" +
                               want + " there;";
            }
        }
    }
    return differences.empty() ? "libm gives the recorded bits at all " + std::to_string(checked) + " points"
                               : "libm DIFFERS from where the golden data were made:" + differences +
                                     " exact equality may be out of reach (WORKER_GOLDEN_APPROXIMATE=1)";
}

struct GoldenCase {
    const char* model;       // name for real_model_path
    const char* golden_dir;  // folder under tests/data/golden
    int prompt;              // index into golden.json's prompts
};

// For test names and ctest's listing (instead of the struct's bytes).
void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.golden_dir << " prompt " << c.prompt; }

std::string golden_path(const GoldenCase& c, const std::string& file) {
    return std::string(WORKER_SOURCE_DIR) + "/tests/data/golden/" + c.golden_dir + "/" + file;
}

const Json& golden_doc(const GoldenCase& c) {
    static std::map<std::string, Json> docs;
    auto it = docs.find(c.golden_dir);
    if (it == docs.end()) it = docs.emplace(c.golden_dir, Json::parse_file(golden_path(c, "golden.json"))).first;
    return it->second;
}

class Golden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, LogitsOfEveryStepAreLlamaCppsBitForBit) {
    const GoldenCase c = GetParam();
    WORKER_REQUIRE_REAL_MODEL(path, c.model);
    ASSERT_TRUE(std::ifstream(golden_path(c, "golden.json")).good())
        << "missing " << golden_path(c, "golden.json") << " (scripts/oracle/gen_golden.py)";
    const Json& doc = golden_doc(c);
    const auto& prompts = doc["prompts"].items();
    ASSERT_EQ(prompts.size(), static_cast<size_t>(kPromptsPerModel));
    const Json& p = prompts[static_cast<size_t>(c.prompt)];
    const std::string what = std::string(c.golden_dir) + " / " + p["name"].as_string();
    if (approximate()) {
        std::printf(
            "[golden] WORKER_GOLDEN_APPROXIMATE=1: NOT checking bit identity, only cosine >= %.3f, top-1 "
            "and top-3 choices\n",
            kMinCosine);
    }
    std::printf("[golden] %s\n", libm_report(doc["libm_fingerprint"]).c_str());

    auto model = Model::load(Context::create(WORKER_DEVICE_CPU), path);
    model::Transformer& tr = model->transformer();
    const size_t n_vocab = static_cast<size_t>(doc["n_vocab"].as_number());
    ASSERT_LE(n_vocab, tr.config().vocab_size);
    const std::vector<int32_t> prompt = ids_of(p["prompt_ids"]);
    const std::vector<int32_t> greedy = ids_of(p["greedy_ids"]);
    const auto& digests = p["step_logits_digest"].items();
    const auto& top10_each = p["greedy_top10"].items();
    ASSERT_EQ(digests.size(), greedy.size());
    ASSERT_EQ(top10_each.size(), greedy.size());

    auto session =
        tr.create_session(static_cast<int32_t>(prompt.size() + greedy.size()), static_cast<int32_t>(prompt.size()));
    std::vector<float> logits(tr.config().vocab_size);
    tr.backend().read(tr.forward(*session, prompt), logits.data(), logits.size() * sizeof(float));

    const size_t first_identical =
        compare_vector(logits, read_floats(golden_path(c, p["first_logits_file"].as_string()), n_vocab), n_vocab,
                       what + ": first-step logits");
    size_t digests_equal = 0, greedy_equal = 0, stored_steps = 0, stored_identical = 0;
    for (size_t step = 0; step < greedy.size(); ++step) {
        const std::string at = what + " step " + std::to_string(step);
        if (digest(logits, n_vocab) == digests[step].as_string()) {
            ++digests_equal;
        } else if (!approximate()) {
            ADD_FAILURE() << at << ": the logits' digest is " << digest(logits, n_vocab) << ", llama.cpp's "
                          << digests[step].as_string();
        }
        const std::string key = std::to_string(step);
        if (p["decode_logits_files"].contains(key)) {
            ++stored_steps;
            stored_identical += compare_vector(
                logits, read_floats(golden_path(c, p["decode_logits_files"][key].as_string()), n_vocab), n_vocab, at);
        }
        const int32_t ours = sampling::argmax(std::span<const float>(logits.data(), n_vocab));
        greedy_equal += ours == greedy[step];
        if (approximate()) {
            const std::vector<int32_t> top = ids_of(top10_each[step]);
            EXPECT_NE(std::find(top.begin(), top.begin() + 3, ours), top.begin() + 3) << at << ": chose " << ours;
        } else {
            EXPECT_EQ(ours, greedy[step]) << at << ": greedy id";
        }
        if (step + 1 < greedy.size()) {  // llama.cpp's own id, so later steps stay comparable
            tr.backend().read(tr.forward(*session, std::span<const int32_t>(&greedy[step], 1)), logits.data(),
                              logits.size() * sizeof(float));
        }
    }
    std::printf(
        "[golden] %s: first step %zu/%zu logits bit-identical; %zu/%zu step digests equal; stored decode "
        "steps %zu with %zu/%zu logits bit-identical; greedy ids %zu/%zu (%s kernels)\n",
        what.c_str(), first_identical, n_vocab, digests_equal, digests.size(), stored_steps, stored_identical,
        stored_steps * n_vocab, greedy_equal, greedy.size(), cpu::dot_kernel_isa());
}

std::vector<GoldenCase> cases() {
    std::vector<GoldenCase> v;
    for (int i = 0; i < kPromptsPerModel; ++i) v.push_back({"smollm2", "SmolLM2-135M-Instruct.Q4_1", i});
    for (int i = 0; i < kPromptsPerModel; ++i) v.push_back({"gemma3", "gemma-3-270m-q4_k_m", i});
    return v;
}

INSTANTIATE_TEST_SUITE_P(RealModels, Golden, ::testing::ValuesIn(cases()), [](const auto& param_info) {
    return std::string(param_info.param.model) + "_prompt" + std::to_string(param_info.param.prompt);
});

// The data itself: every prompt has its first-step logits and a digest per
// greedy step, and some decode steps are stored in full, so a change to the
// generator that drops them cannot leave the test above checking nothing.
TEST(GoldenData, EveryPromptHasItsLogitsAndDigests) {
    for (const char* dir : {"SmolLM2-135M-Instruct.Q4_1", "gemma-3-270m-q4_k_m"}) {
        const Json doc =
            Json::parse_file(std::string(WORKER_SOURCE_DIR) + "/tests/data/golden/" + dir + "/golden.json");
        size_t decode_files = 0;
        for (const Json& p : doc["prompts"].items()) {
            EXPECT_TRUE(p["first_logits_file"].is_string()) << dir;
            EXPECT_EQ(p["step_logits_digest"].items().size(), p["greedy_ids"].items().size()) << dir;
            EXPECT_EQ(p["greedy_ids"].items().size(), 32u) << dir;
            decode_files += p["decode_logits_files"].members().size();
        }
        EXPECT_GE(decode_files, 2u) << dir;  // gemma-3: one prompt's (1 MiB a step; see gen_golden.py)
        EXPECT_FALSE(doc["libm_fingerprint"]["bits"].members().empty()) << dir;
    }
}

}  // namespace
}  // namespace worker
