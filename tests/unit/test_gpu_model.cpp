// Whole models on the GPU against the CPU device: first-step logits (cosine
// >= 0.999, the same top-10), 16 greedy tokens, seeded sampling that repeats,
// VRAM residency and accounting, and out-of-memory paths that leave the model
// usable. Synthetic models of every architecture are generated here with the
// writer; the real models are used when they are in the model cache (and a
// reduced SmolLM2 is cut from it with the writer). Without a GPU every test
// skips with the reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/context.h"
#include "core/error.h"
#include "cpu/cpu_backend.h"
#include "gguf/gguf_file.h"
#include "model/backend.h"
#include "model/config.h"
#include "model/transformer.h"
#include "sampling/sampler.h"
#include "support/gguf_writer.h"
#include "support/gpu.h"
#include "support/reduce_model.h"
#include "support/test_models.h"
#include "unit/gpu_model_support.h"
#include "worker_ffi.h"
#ifdef WORKER_HAVE_CUDA
#include "cuda_backend.h"
#include "device_memory.h"
#endif

namespace worker {
namespace {

using gpu_test::prompt_for;
using gpu_test::synthetic;
using gpu_test::synthetic_llama;

using model::Tensor;

// A model's transformer on one backend and a session for a short run.
struct ModelRun {
    std::unique_ptr<model::Transformer> transformer;
    std::unique_ptr<model::Session> session;
    Tensor last;  // logits of the last step, in the backend's memory

    ModelRun(const gguf::File& file, std::unique_ptr<model::Backend> backend) {
        transformer = std::make_unique<model::Transformer>(file, model::read_config(file), std::move(backend));
        session = transformer->create_session(64, 16);
    }
    void step(std::span<const int32_t> tokens) { last = transformer->forward(*session, tokens); }
    std::vector<float> logits() {
        std::vector<float> v(static_cast<size_t>(last.ne0));
        transformer->backend().read(last, v.data(), v.size() * sizeof(float));
        return v;
    }
    int32_t sample(const sampling::Settings& s, const std::vector<int32_t>& history, double u) {
        return transformer->backend().sample(last, s, history, u);
    }
};

std::vector<int32_t> top_ids(const std::vector<float>& logits, size_t k) {
    std::vector<int32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::partial_sort(ids.begin(), ids.begin() + static_cast<ptrdiff_t>(k), ids.end(),
                      [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    ids.resize(k);
    return ids;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        ab += static_cast<double>(a[i]) * b[i];
        aa += static_cast<double>(a[i]) * a[i];
        bb += static_cast<double>(b[i]) * b[i];
    }
    return ab / std::sqrt(aa * bb);
}

// The checks of the file comment for one model file. `strict_greedy`: every
// one of the 16 greedy tokens must match (real models). Synthetic models
// with random weights can have near-ties at the top; there a divergence is
// accepted only where the CPU's two best logits are within 1e-3 of each
// other, and the comparison stops there.
void expect_gpu_matches_cpu(const std::string& path, bool strict_greedy) {
    auto file = gguf::File::open(path);
    auto gpu_context = Context::create(0);
    ModelRun cpu(*file, cpu::create_cpu_backend(4));
    ModelRun gpu(*file, model::create_backend(*gpu_context));
    std::vector<int32_t> history = prompt_for(cpu.transformer->config().vocab_size);
    cpu.step(history);
    gpu.step(history);

    const std::vector<float> lc = cpu.logits(), lg = gpu.logits();
    ASSERT_EQ(lc.size(), lg.size());
    EXPECT_GE(cosine(lc, lg), 0.999) << path;
    EXPECT_EQ(top_ids(lg, 10), top_ids(lc, 10)) << path;

    sampling::Settings greedy;
    greedy.temperature = 0.0f;
    for (int i = 0; i < 16; ++i) {
        const int32_t want = cpu.sample(greedy, history, 0.0);
        const int32_t got = gpu.sample(greedy, history, 0.0);
        if (got != want) {
            const std::vector<float> l = cpu.logits();
            const std::vector<int32_t> top = top_ids(l, 2);
            const float margin = l[top[0]] - l[top[1]];
            if (strict_greedy || margin > 1e-3f * std::max(1.0f, std::fabs(l[top[0]]))) {
                ADD_FAILURE() << path << ": greedy token " << i << " is " << got << " on the GPU, " << want
                              << " on the CPU (CPU margin " << margin << ")";
            }
            return;
        }
        history.push_back(want);
        const int32_t one[1] = {want};
        cpu.step(one);
        gpu.step(one);
    }
}

struct SyntheticCase {
    const char* name;
    const char* arch;
    GgmlType weights;
    GgmlType embeddings;
    uint32_t n_embd, n_ff, head_dim;
};

class GpuModelSynthetic : public ::testing::TestWithParam<SyntheticCase> {
protected:
    void SetUp() override { WORKER_REQUIRE_GPU(); }
};

TEST_P(GpuModelSynthetic, LogitsAndGreedyTokensMatchCpu) {
    const SyntheticCase c = GetParam();
    test::SyntheticModelSpec spec;
    spec.arch = c.arch;
    spec.name = c.name;
    spec.weight_type = c.weights;
    spec.embedding_type = c.embeddings;
    spec.n_embd = c.n_embd;
    spec.n_ff = c.n_ff;
    spec.head_dim = c.head_dim;
    spec.n_head = 4;
    spec.n_head_kv = 2;
    expect_gpu_matches_cpu(synthetic(spec), false);
}

// Every architecture, and every block type of the matrix kernels (K-quants
// need rows that are multiples of 256).
INSTANTIATE_TEST_SUITE_P(
    Architectures, GpuModelSynthetic,
    ::testing::Values(SyntheticCase{"llama_f32", "llama", GgmlType::F32, GgmlType::F32, 64, 128, 16},
                      SyntheticCase{"llama_f16", "llama", GgmlType::F16, GgmlType::F16, 128, 256, 32},
                      SyntheticCase{"llama_q4_0", "llama", GgmlType::Q4_0, GgmlType::Q8_0, 256, 512, 64},
                      SyntheticCase{"llama_q4_1", "llama", GgmlType::Q4_1, GgmlType::Q4_1, 256, 512, 64},
                      SyntheticCase{"qwen2_q5_0", "qwen2", GgmlType::Q5_0, GgmlType::Q8_0, 256, 512, 64},
                      SyntheticCase{"phi3_q8_0", "phi3", GgmlType::Q8_0, GgmlType::Q8_0, 256, 512, 64},
                      SyntheticCase{"llama_q4_k", "llama", GgmlType::Q4_K, GgmlType::Q6_K, 256, 512, 64},
                      SyntheticCase{"gemma3_q4_k", "gemma3", GgmlType::Q4_K, GgmlType::Q6_K, 256, 512, 64},
                      SyntheticCase{"gemma3_q6_k", "gemma3", GgmlType::Q6_K, GgmlType::Q8_0, 256, 512, 128}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

// The rope and attention variants of issue 15 (the CPU device matches
// llama.cpp on these shapes: test_engine_synthetic_golden.cpp): qwen3's
// per-head Q/K norm, Llama 3's rope frequency factors, YaRN (with the
// magnitude factor), gemma3's linear scaling of its global layers only.
TEST(GpuModelRopeVariants, Qwen3RopeFreqsAndYarnMatchCpu) {
    WORKER_REQUIRE_GPU();
    auto base = [](const char* arch, const char* name) {
        test::SyntheticModelSpec spec;
        spec.arch = arch;
        spec.name = name;
        spec.weight_type = GgmlType::Q4_K;
        spec.embedding_type = GgmlType::Q8_0;
        spec.n_embd = 256;
        spec.n_ff = 512;
        spec.head_dim = 64;
        spec.n_head = 4;
        spec.n_head_kv = 2;
        return spec;
    };
    test::SyntheticModelSpec qwen3 = base("qwen3", "qknorm");
    qwen3.n_head = 8;
    test::SyntheticModelSpec freqs = base("llama", "ropefreqs");
    freqs.rope_freqs = true;
    test::SyntheticModelSpec yarn = base("qwen2", "yarn");
    yarn.rope_scaling = "yarn";
    yarn.rope_scaling_factor = 4.0f;
    yarn.rope_original_context = 16;
    test::SyntheticModelSpec yarn_llama = base("llama", "yarnattn");
    yarn_llama.rope_scaling = "yarn";
    yarn_llama.rope_scaling_factor = 2.5f;
    yarn_llama.rope_original_context = 16;
    yarn_llama.rope_attn_factor = 1.25f;
    test::SyntheticModelSpec gemma_linear = base("gemma3", "linear");
    gemma_linear.n_layer = 6;
    gemma_linear.rope_scaling = "linear";
    gemma_linear.rope_scaling_factor = 8.0f;
    for (const auto& spec : {qwen3, freqs, yarn, yarn_llama, gemma_linear}) {
        SCOPED_TRACE(spec.arch + " " + spec.name);
        expect_gpu_matches_cpu(synthetic(spec), false);
    }
}

TEST(GpuModelReal, SmolLM2MatchesCpu) {
    WORKER_REQUIRE_GPU();
    WORKER_REQUIRE_REAL_MODEL(path, "smollm2");
    expect_gpu_matches_cpu(path, true);
}

TEST(GpuModelReal, Gemma3MatchesCpu) {
    WORKER_REQUIRE_GPU();
    WORKER_REQUIRE_REAL_MODEL(path, "gemma3");
    expect_gpu_matches_cpu(path, true);
}

// The real models cut down by scripts/make-reduced-models.sh: what a GPU
// machine with nothing but the repository (and the carried reduced files) runs.
TEST(GpuModelReal, ReducedSmolLM2MatchesCpu) {
    WORKER_REQUIRE_GPU();
    WORKER_REQUIRE_REDUCED_MODEL(path, "smollm2");
    expect_gpu_matches_cpu(path, true);
}

TEST(GpuModelReal, ReducedGemma3MatchesCpu) {
    WORKER_REQUIRE_GPU();
    WORKER_REQUIRE_REDUCED_MODEL(path, "gemma3");
    expect_gpu_matches_cpu(path, true);
}

// ---- through the C ABI ------------------------------------------------------------

struct AbiModel {
    CudaContext* ctx = nullptr;
    CudaModel* model = nullptr;
    ~AbiModel() {
        cuda_unload_model(model);
        cuda_destroy(ctx);
    }
};

std::vector<std::string> generate(CudaModel* model, const WorkerInferenceParams& params, int* error) {
    std::vector<std::string> pieces;
    InferenceResult* r = cuda_inference_start_ex(model, "Hello, world", &params, error);
    if (r == nullptr) return pieces;
    char buffer[256];
    int index = 0;
    while (cuda_inference_next_token(r, buffer, sizeof buffer, &index, error)) pieces.emplace_back(buffer);
    cuda_inference_free(r);
    return pieces;
}

TEST(GpuModelAbi, SameSeedGivesTheSameTokens) {
    WORKER_REQUIRE_GPU();
    AbiModel m;
    int err = -1;
    m.ctx = cuda_init(0, &err);
    ASSERT_NE(m.ctx, nullptr) << cuda_last_error_detail();
    m.model = cuda_load_model(m.ctx, synthetic_llama("seeded", 256).c_str(), nullptr, &err);
    ASSERT_NE(m.model, nullptr) << cuda_last_error_detail();
    WorkerInferenceParams p = WORKER_INFERENCE_PARAMS_INIT;
    p.max_tokens = 24;
    p.temperature = 1.0f;
    p.seed = 1234;
    const auto first = generate(m.model, p, &err);
    ASSERT_EQ(err, CUDA_SUCCESS) << cuda_last_error_detail();
    const auto second = generate(m.model, p, &err);
    ASSERT_EQ(err, CUDA_SUCCESS) << cuda_last_error_detail();
    EXPECT_FALSE(first.empty());
    EXPECT_EQ(first, second);
}

// A KV cache larger than any GPU: 200M positions x 2 layers x 2 x 256 x 2
// bytes = 400 GB. The start must fail with CUDA_ERROR_OUT_OF_MEMORY, leave
// the VRAM as it was, and the next inference must work.
TEST(GpuModelAbi, KvCacheLargerThanTheGpuIsOutOfMemoryAndTheModelStaysUsable) {
    WORKER_REQUIRE_GPU();
    AbiModel m;
    int err = -1;
    m.ctx = cuda_init(0, &err);
    ASSERT_NE(m.ctx, nullptr) << cuda_last_error_detail();
    m.model = cuda_load_model(m.ctx, synthetic_llama("huge_context", 0xF0000000u).c_str(), nullptr, &err);
    ASSERT_NE(m.model, nullptr) << cuda_last_error_detail();
    const uint64_t model_bytes = cuda_get_vram_usage(m.model);

    WorkerInferenceParams p = WORKER_INFERENCE_PARAMS_INIT;
    p.max_tokens = 200000000;
    p.temperature = 0.0f;
    InferenceResult* r = cuda_inference_start_ex(m.model, "Hello", &p, &err);
    EXPECT_EQ(r, nullptr);
    EXPECT_EQ(err, CUDA_ERROR_OUT_OF_MEMORY);
    const std::string detail = cuda_last_error_detail();
    EXPECT_NE(detail.find("required"), std::string::npos) << detail;
    EXPECT_NE(detail.find("available"), std::string::npos) << detail;
    cuda_inference_free(r);
    EXPECT_EQ(cuda_get_vram_usage(m.model), model_bytes);

    p.max_tokens = 8;
    const auto pieces = generate(m.model, p, &err);
    EXPECT_EQ(err, CUDA_SUCCESS) << cuda_last_error_detail();
    EXPECT_FALSE(pieces.empty());
}

}  // namespace
}  // namespace worker
