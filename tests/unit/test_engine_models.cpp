// Whole models on the CPU device: every architecture on synthetic files from
// the test GGUF writer, load errors that name what is wrong, inference limits
// and stop strings, and reproducibility across runs and thread counts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/context.h"
#include "core/error.h"
#include "core/inference.h"
#include "core/model.h"
#include "sampling/sampler.h"
#include "support/gguf_writer.h"
#include "support/test_models.h"
#include "worker_types.h"

namespace worker {
namespace {

// The CPU device with a given worker thread count (read from the environment
// when the context is created).
std::shared_ptr<Context> cpu_context(int threads) {
    setenv("WORKER_CPU_THREADS", std::to_string(threads).c_str(), 1);
    auto context = Context::create(WORKER_DEVICE_CPU);
    unsetenv("WORKER_CPU_THREADS");
    return context;
}

std::string synthetic(const test::SyntheticModelSpec& spec, const std::string& tag) {
    const std::string path = testing::TempDir() + "engine_" + spec.arch + "_" + tag + ".gguf";
    test::write_synthetic_model(path, spec);
    return path;
}

// Logits of the last prompt token and `steps` greedy ids after it.
struct GreedyRun {
    std::vector<float> logits;
    std::vector<int32_t> greedy;
};

GreedyRun run_greedy(Model& model, const std::vector<int32_t>& prompt, int steps) {
    model::Transformer& tr = model.transformer();
    auto session = tr.create_session(static_cast<int32_t>(prompt.size()) + steps, static_cast<int32_t>(prompt.size()));
    GreedyRun r;
    r.logits.resize(tr.config().vocab_size);
    tr.backend().read(tr.forward(*session, prompt), r.logits.data(), r.logits.size() * sizeof(float));
    std::vector<float> logits = r.logits;
    for (int i = 0; i < steps; ++i) {
        const int32_t id = sampling::argmax(logits);
        r.greedy.push_back(id);
        tr.backend().read(tr.forward(*session, std::span<const int32_t>(&id, 1)), logits.data(),
                          logits.size() * sizeof(float));
    }
    return r;
}

struct ArchCase {
    const char* arch;
    GgmlType type;
    uint32_t n_embd, head_dim, n_ff;
};

class Architecture : public ::testing::TestWithParam<ArchCase> {};

// Each architecture loads, gives finite logits that depend on the prompt, and
// gives the same logits bit for bit with 1 and 3 threads and batched or
// token-by-token prompt evaluation.
TEST_P(Architecture, RunsDeterministicallyOnAnyThreadCountAndBatching) {
    const ArchCase c = GetParam();
    test::SyntheticModelSpec spec;
    spec.arch = c.arch;
    spec.weight_type = c.type;
    spec.embedding_type = c.type == GgmlType::F32 ? GgmlType::F32 : GgmlType::Q8_0;
    spec.n_embd = c.n_embd;
    spec.head_dim = c.head_dim;
    spec.n_ff = c.n_ff;
    spec.n_head = c.n_embd / c.head_dim;
    spec.n_head_kv = spec.n_head / 2;
    spec.sliding_window = 4;  // shorter than the prompt, so gemma3's local layers really slide
    spec.weight_stddev = 0.2f;
    const std::string path = synthetic(spec, type_traits(c.type).name);
    const std::vector<int32_t> prompt = {1, 70, 80, 90, 100, 110, 120, 130};

    auto one = Model::load(cpu_context(1), path);
    auto three = Model::load(cpu_context(3), path);
    const GreedyRun a = run_greedy(*one, prompt, 6);
    const GreedyRun b = run_greedy(*three, prompt, 6);
    for (const float v : a.logits) ASSERT_TRUE(std::isfinite(v));
    EXPECT_EQ(a.logits, b.logits);
    EXPECT_EQ(a.greedy, b.greedy);

    // Token by token must agree with the batch up to rounding (the batch
    // kernels sum in the same order, so in fact exactly).
    model::Transformer& tr = one->transformer();
    auto session = tr.create_session(static_cast<int32_t>(prompt.size()), 1);
    std::vector<float> logits(tr.config().vocab_size);
    for (const int32_t id : prompt) {
        tr.backend().read(tr.forward(*session, std::span<const int32_t>(&id, 1)), logits.data(),
                          logits.size() * sizeof(float));
    }
    for (size_t i = 0; i < logits.size(); ++i) ASSERT_NEAR(logits[i], a.logits[i], 1e-4f) << i;

    const GreedyRun other = run_greedy(*one, {1, 71, 82, 93}, 0);
    EXPECT_NE(other.logits, a.logits);
}

INSTANTIATE_TEST_SUITE_P(
    Synthetic, Architecture,
    ::testing::Values(ArchCase{"llama", GgmlType::F32, 64, 16, 128}, ArchCase{"llama", GgmlType::Q4_1, 64, 16, 128},
                      ArchCase{"llama", GgmlType::Q4_K, 256, 64, 256}, ArchCase{"qwen2", GgmlType::Q8_0, 64, 16, 128},
                      ArchCase{"phi3", GgmlType::Q4_0, 64, 16, 128}, ArchCase{"gemma3", GgmlType::Q5_0, 64, 32, 128},
                      ArchCase{"gemma3", GgmlType::Q6_K, 256, 64, 256}),
    [](const auto& param_info) {
        return std::string(param_info.param.arch) + "_" + type_traits(param_info.param.type).name;
    });

// Copies tensors of `from` into `w`, splitting phi3's fused ones into qwen2's
// separate ones by rows (rows are whole blocks, so bytes split exactly).
void add_split_tensors(test::GgufWriter& w, const gguf::File& from, uint64_t q_rows, uint64_t kv_rows,
                       uint64_t ff_rows) {
    for (const gguf::TensorInfo& t : from.tensors()) {
        const uint8_t* data = from.tensor_data(t);
        const uint64_t row_bytes = t.dims.size() == 2 ? t.n_bytes / t.dims[1] : t.n_bytes;
        auto part = [&](const std::string& name, uint64_t first_row, uint64_t rows) {
            w.add_tensor_bytes(
                name, {t.dims[0], rows}, static_cast<uint32_t>(t.type),
                std::vector<uint8_t>(data + first_row * row_bytes, data + (first_row + rows) * row_bytes));
        };
        const std::string& n = t.name;
        const std::string layer = n.substr(0, n.find('.', 4) + 1);
        if (n.find("attn_qkv.weight") != std::string::npos) {
            part(layer + "attn_q.weight", 0, q_rows);
            part(layer + "attn_k.weight", q_rows, kv_rows);
            part(layer + "attn_v.weight", q_rows + kv_rows, kv_rows);
            w.add_tensor(layer + "attn_q.bias", {q_rows}, GgmlType::F32, std::vector<float>(q_rows, 0.0f));
            w.add_tensor(layer + "attn_k.bias", {kv_rows}, GgmlType::F32, std::vector<float>(kv_rows, 0.0f));
            w.add_tensor(layer + "attn_v.bias", {kv_rows}, GgmlType::F32, std::vector<float>(kv_rows, 0.0f));
        } else if (n.find("ffn_up.weight") != std::string::npos) {
            part(layer + "ffn_gate.weight", 0, ff_rows);
            part(layer + "ffn_up.weight", ff_rows, ff_rows);
        } else {
            w.add_tensor_bytes(n, t.dims, static_cast<uint32_t>(t.type), std::vector<uint8_t>(data, data + t.n_bytes));
        }
    }
}

// phi3's fused QKV and gate/up products, sliced by strided views, compute
// exactly what qwen2's separate products (with zero biases) compute on the
// same weights: both use NeoX RoPE, SwiGLU and the same norms.
TEST(Phi3, FusedProjectionsEqualSeparateOnes) {
    test::SyntheticModelSpec spec;
    spec.arch = "phi3";
    spec.weight_type = GgmlType::Q8_0;
    spec.weight_stddev = 0.2f;
    const std::string phi3_path = synthetic(spec, "fused");
    const auto phi3_file = gguf::File::open(phi3_path);

    test::GgufWriter w;
    w.add_string("general.architecture", "qwen2");
    w.add_u32("qwen2.context_length", spec.context_length);
    w.add_u32("qwen2.embedding_length", spec.n_embd);
    w.add_u32("qwen2.block_count", spec.n_layer);
    w.add_u32("qwen2.feed_forward_length", spec.n_ff);
    w.add_u32("qwen2.attention.head_count", spec.n_head);
    w.add_u32("qwen2.attention.head_count_kv", spec.n_head_kv);
    w.add_f32("qwen2.attention.layer_norm_rms_epsilon", spec.rms_eps);
    w.add_f32("qwen2.rope.freq_base", spec.rope_base);
    w.add_u32("qwen2.rope.dimension_count", spec.head_dim);
    w.copy_metadata(*phi3_file, "tokenizer.");
    add_split_tensors(w, *phi3_file, uint64_t{spec.n_head} * spec.head_dim, uint64_t{spec.n_head_kv} * spec.head_dim,
                      spec.n_ff);
    const std::string qwen2_path = testing::TempDir() + "engine_qwen2_from_phi3.gguf";
    w.write(qwen2_path);

    const std::vector<int32_t> prompt = {1, 40, 50, 60, 70};
    const GreedyRun fused = run_greedy(*Model::load(cpu_context(2), phi3_path), prompt, 4);
    const GreedyRun separate = run_greedy(*Model::load(cpu_context(2), qwen2_path), prompt, 4);
    EXPECT_EQ(fused.logits, separate.logits);
    EXPECT_EQ(fused.greedy, separate.greedy);
}

void expect_load_error(const std::string& path, const std::string& needle) {
    try {
        Model::load(cpu_context(1), path);
        ADD_FAILURE() << "loading " << path << " succeeded";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), CUDA_ERROR_MODEL_LOAD_FAILED) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "\"" << needle << "\" not in: " << e.what();
    }
}

TEST(ModelLoad, RefusesMissingOrMisshapenTensorsNamingThem) {
    test::SyntheticModelSpec spec;
    const auto file = gguf::File::open(synthetic(spec, "base"));
    for (const std::string broken : {"missing", "shape"}) {
        test::GgufWriter w;
        w.copy_metadata(*file, "");
        for (const gguf::TensorInfo& t : file->tensors()) {
            const uint8_t* d = file->tensor_data(t);
            if (t.name == "blk.1.ffn_down.weight") {
                if (broken == "missing") continue;
                // Same bytes, rows and columns swapped.
                w.add_tensor_bytes(t.name, {t.dims[1], t.dims[0]}, static_cast<uint32_t>(t.type),
                                   std::vector<uint8_t>(d, d + t.n_bytes));
                continue;
            }
            w.add_tensor_bytes(t.name, t.dims, static_cast<uint32_t>(t.type), std::vector<uint8_t>(d, d + t.n_bytes));
        }
        const std::string path = testing::TempDir() + "engine_broken_" + broken + ".gguf";
        w.write(path);
        expect_load_error(path, "blk.1.ffn_down.weight");
    }
}

// A head size whose product with the head count wraps in 32 bits made q_dim()
// and kv_dim() small enough to match the file's projections: the model loaded
// and every forward step failed (found by fuzz_model_load; read_config now
// bounds the head size). Refused at load.
TEST(ModelLoad, RefusesAHeadSizeWhoseProductWraps) {
    test::SyntheticModelSpec spec;  // 4 heads of 16, 2 KV heads
    const auto file = gguf::File::open(synthetic(spec, "wrap"));
    test::GgufWriter w;
    w.copy_metadata(*file, "");
    // 4 x (16 + 2^31) = 64 + 2^33 and 2 x (16 + 2^31) = 32 + 2^32: the shapes the file has.
    w.remove("llama.attention.key_length");
    w.add_u32("llama.attention.key_length", 16 + (1u << 31));
    w.add_u32("llama.attention.value_length", 16 + (1u << 31));
    w.remove("llama.rope.dimension_count");
    w.add_u32("llama.rope.dimension_count", 16);
    for (const gguf::TensorInfo& t : file->tensors()) {
        const uint8_t* d = file->tensor_data(t);
        w.add_tensor_bytes(t.name, t.dims, static_cast<uint32_t>(t.type), std::vector<uint8_t>(d, d + t.n_bytes));
    }
    const std::string path = testing::TempDir() + "engine_head_size_wraps.gguf";
    w.write(path);
    expect_load_error(path, "head dimension");
}

TEST(ModelLoad, NamesUnsupportedArchitecturesAndMissingKeys) {
    test::SyntheticModelSpec spec;
    const auto file = gguf::File::open(synthetic(spec, "keys"));
    auto rewrite = [&](const std::string& name, auto edit) {
        test::GgufWriter w;
        w.copy_metadata(*file, "");
        edit(w);
        const std::string path = testing::TempDir() + "engine_meta_" + name + ".gguf";
        w.write(path);
        return path;
    };
    expect_load_error(rewrite("mamba",
                              [](test::GgufWriter& w) {
                                  w.remove("general.architecture");
                                  w.add_string("general.architecture", "mamba");
                              }),
                      "'mamba' is not supported");
    expect_load_error(rewrite("no_blocks", [](test::GgufWriter& w) { w.remove("llama.block_count"); }),
                      "llama.block_count");

    // gpt-oss is recognised, and refused as having no forward pass yet.
    test::GgufWriter w;
    w.add_string("general.architecture", "gpt-oss");
    for (const char* key :
         {"context_length", "embedding_length", "block_count", "feed_forward_length", "expert_count"}) {
        w.add_u32(std::string("gpt-oss.") + key, 64);
    }
    w.add_u32("gpt-oss.attention.head_count", 8);
    w.add_u32("gpt-oss.expert_used_count", 4);
    w.copy_metadata(*file, "tokenizer.");
    const std::string path = testing::TempDir() + "engine_gpt_oss.gguf";
    w.write(path);
    expect_load_error(path, "gpt-oss");
}

void expect_same_params(const InferenceParams& a, const InferenceParams& b) {
    EXPECT_EQ(a.max_tokens, b.max_tokens);
    EXPECT_EQ(a.seed, b.seed);
    EXPECT_EQ(a.sampling.temperature, b.sampling.temperature);
    EXPECT_EQ(a.sampling.top_k, b.sampling.top_k);
    EXPECT_EQ(a.sampling.top_p, b.sampling.top_p);
    EXPECT_EQ(a.sampling.min_p, b.sampling.min_p);
    EXPECT_EQ(a.sampling.repetition_penalty, b.sampling.repetition_penalty);
    EXPECT_EQ(a.stop, b.stop);
    EXPECT_EQ(a.parse_special, b.parse_special);
}

// The engine's defaults are the documented ABI defaults, and the conversion
// from the ABI struct keeps every field a caller sets and, past a short
// struct_size, every default.
TEST(InferenceParams, DefaultsAndConversionFollowTheAbi) {
    const InferenceParams defaults;
    EXPECT_EQ(defaults.max_tokens, 128);
    EXPECT_EQ(defaults.sampling.temperature, 0.8f);
    EXPECT_EQ(defaults.seed, 0u);
    EXPECT_EQ(defaults.sampling.top_k, 40);
    EXPECT_EQ(defaults.sampling.top_p, 0.95f);
    EXPECT_EQ(defaults.sampling.min_p, 0.05f);
    EXPECT_EQ(defaults.sampling.repetition_penalty, 1.0f);
    EXPECT_TRUE(defaults.stop.empty());
    EXPECT_TRUE(defaults.parse_special);
    const WorkerInferenceParams init = WORKER_INFERENCE_PARAMS_INIT;
    expect_same_params(InferenceParams::from_abi(&init), defaults);

    const char* stops[] = {"END", "\n\n"};
    WorkerInferenceParams all = {sizeof(WorkerInferenceParams), 9, 0.5f, 77, 3, 0.5f, 0.25f, 1.5f, stops, 2, 0};
    const InferenceParams got = InferenceParams::from_abi(&all);
    InferenceParams want;
    want.max_tokens = 9;
    want.seed = 77;
    want.sampling = {0.5f, 3, 0.5f, 0.25f, 1.5f};
    want.stop = {"END", "\n\n"};
    want.parse_special = false;
    expect_same_params(got, want);

    // A caller built against the first version of the struct: only up to seed.
    all.struct_size = offsetof(WorkerInferenceParams, seed) + sizeof(uint64_t);
    InferenceParams short_want;
    short_want.max_tokens = 9;
    short_want.sampling.temperature = 0.5f;
    short_want.seed = 77;
    expect_same_params(InferenceParams::from_abi(&all), short_want);

    for (const uint32_t bad : {0u, 8u, static_cast<uint32_t>(sizeof(WorkerInferenceParams) + 4)}) {
        all.struct_size = bad;
        EXPECT_THROW(InferenceParams::from_abi(&all), Error) << bad;
    }
    EXPECT_THROW(InferenceParams::from_abi(nullptr), Error);
}

TEST(Inference, RefusesPromptPlusMaxTokensBeyondTheContext) {
    test::SyntheticModelSpec spec;
    spec.context_length = 32;
    auto model = Model::load(cpu_context(1), synthetic(spec, "ctx"));
    InferenceParams p;
    p.max_tokens = 40;
    try {
        Inference::start(model, "hello", p);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), CUDA_ERROR_INVALID_PARAMETER);
        EXPECT_NE(std::string(e.what()).find("context length of 32"), std::string::npos) << e.what();
    }
    p.max_tokens = 8;
    EXPECT_NO_THROW(Inference::start(model, "hello", p));
}

std::string generate(const std::shared_ptr<Model>& model, const std::string& prompt, const InferenceParams& p,
                     std::vector<int32_t>* ids = nullptr) {
    auto inference = Inference::start(model, prompt, p);
    std::string text;
    while (const Inference::Piece* piece = inference->peek()) {
        text += piece->text;
        inference->pop();
    }
    if (ids != nullptr) *ids = inference->generated_tokens();
    return text;
}

// A stop string ends generation and is not returned, wherever the tokens
// split it; the text before it is returned whole.
TEST(Inference, StopStringsEndGenerationAndAreNotReturned) {
    test::SyntheticModelSpec spec;
    spec.weight_stddev = 0.3f;
    auto model = Model::load(cpu_context(2), synthetic(spec, "stop"));
    InferenceParams p;
    p.sampling.temperature = 0.0f;
    p.max_tokens = 24;
    const std::string full = generate(model, "the cat", p);
    ASSERT_GE(full.size(), 6u) << "the synthetic model generated too little to test with";
    // Stop strings are UTF-8 (the caller's text), so cut whole characters.
    auto is_continuation = [&](size_t i) { return i < full.size() && (static_cast<uint8_t>(full[i]) & 0xC0) == 0x80; };
    for (size_t at : {size_t{1}, full.size() / 2, full.size() - 2}) {
        while (at > 0 && is_continuation(at)) --at;
        size_t end = at;
        for (int characters = 0; characters < 2 && end < full.size(); ++characters) {
            ++end;
            while (is_continuation(end)) ++end;
        }
        InferenceParams with_stop = p;
        with_stop.stop = {full.substr(at, end - at), "never-generated-text"};
        const std::string cut = generate(model, "the cat", with_stop);
        const size_t first = full.find(with_stop.stop[0]);
        EXPECT_EQ(cut, full.substr(0, first)) << "stop '" << with_stop.stop[0] << "'";
    }
}

// Several inferences may live on one model at once, stepped in any order or
// from several threads: each gets exactly what it gets alone.
TEST(Inference, ConcurrentInferencesOnOneModelDoNotDisturbEachOther) {
    test::SyntheticModelSpec spec;
    spec.weight_type = GgmlType::Q8_0;
    spec.weight_stddev = 0.3f;
    auto model = Model::load(cpu_context(2), synthetic(spec, "concurrent"));
    InferenceParams p;
    p.sampling.temperature = 0.9f;
    p.max_tokens = 16;
    const std::vector<std::string> prompts = {"the cat", "a dog and", "hello"};
    std::vector<std::vector<int32_t>> alone(prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) {
        p.seed = i;
        generate(model, prompts[i], p, &alone[i]);
    }

    std::vector<std::shared_ptr<Inference>> live;
    for (size_t i = 0; i < prompts.size(); ++i) {
        p.seed = i;
        live.push_back(Inference::start(model, prompts[i], p));
    }
    for (bool any = true; any;) {  // round robin, one piece each
        any = false;
        for (auto& inference : live) {
            if (inference->peek() != nullptr) {
                inference->pop();
                any = true;
            }
        }
    }
    for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(live[i]->generated_tokens(), alone[i]) << prompts[i];

    std::vector<std::vector<int32_t>> threaded(prompts.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < prompts.size(); ++i) {
        threads.emplace_back([&, i] {
            InferenceParams q = p;
            q.seed = i;
            generate(model, prompts[i], q, &threaded[i]);
        });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(threaded, alone);
}

// Same model, prompt, parameters and seed: the same tokens, every run, on
// any thread count.
void expect_same_seed_same_tokens(const std::string& path) {
    InferenceParams p;
    p.sampling.temperature = 1.0f;
    p.sampling.top_k = 40;
    p.sampling.top_p = 0.95f;
    p.sampling.min_p = 0.02f;
    p.sampling.repetition_penalty = 1.1f;
    p.max_tokens = 24;
    p.seed = 1234;
    std::vector<int32_t> reference;
    generate(Model::load(cpu_context(1), path), "Once upon a time", p, &reference);
    for (const int threads : {1, 2, 3}) {
        auto model = Model::load(cpu_context(threads), path);
        for (int run = 0; run < 2; ++run) {
            std::vector<int32_t> ids;
            generate(model, "Once upon a time", p, &ids);
            EXPECT_EQ(ids, reference) << threads << " threads, run " << run;
        }
    }
    p.seed = 99;
    std::vector<int32_t> other;
    generate(Model::load(cpu_context(2), path), "Once upon a time", p, &other);
    EXPECT_NE(other, reference) << "a different seed should draw differently";
}

TEST(Inference, SameSeedSameTokensAcrossRunsAndThreadCountsOnSmolLM2) {
    WORKER_REQUIRE_REAL_MODEL(path, "smollm2");
    expect_same_seed_same_tokens(path);
}

TEST(Inference, SameSeedSameTokensAcrossRunsAndThreadCountsOnASyntheticModel) {
    test::SyntheticModelSpec spec;
    spec.weight_type = GgmlType::Q4_1;
    spec.weight_stddev = 0.3f;
    expect_same_seed_same_tokens(synthetic(spec, "repro"));
}

// What the engine does not implement is refused at load, naming it, rather
// than run without: rope scaling other than none, linear and yarn, factors
// of the wrong shape, and any tensor no code reads.
TEST(Unsupported, RopeScalingAndUnreadTensorsAreRefusedByName) {
    struct Case {
        const char* what;
        std::function<void(test::GgufWriter&)> change;
        std::vector<std::string> detail;
    };
    const std::vector<Case> cases = {
        {"longrope", [](test::GgufWriter& w) { w.add_string("llama.rope.scaling.type", "longrope"); },
         {"llama.rope.scaling.type", "'longrope'"}},
        {"llama3", [](test::GgufWriter& w) { w.add_string("llama.rope.scaling.type", "llama3"); },
         {"llama.rope.scaling.type", "'llama3'"}},
        // Llama 3's factors are read, one per rotated pair (head_dim 16: 8).
        {"rope_freqs_shape", [](test::GgufWriter& w) {
             w.add_tensor("rope_freqs.weight", {7}, GgmlType::F32, std::vector<float>(7, 1.0f));
         },
         {"tensor 'rope_freqs.weight'", "shape"}},
        {"extra", [](test::GgufWriter& w) {
             w.add_tensor("blk.0.attn_sinks.weight", {4}, GgmlType::F32, std::vector<float>(4, 0.0f));
         },
         {"tensor 'blk.0.attn_sinks.weight'"}},
    };
    for (const Case& c : cases) {
        test::SyntheticModelSpec spec;
        test::GgufWriter w;
        test::add_synthetic_model(w, spec);
        c.change(w);
        const std::string path = testing::TempDir() + "unsupported_" + c.what + ".gguf";
        w.write(path);
        try {
            Model::load(cpu_context(1), path);
            ADD_FAILURE() << c.what << " loaded";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), CUDA_ERROR_MODEL_LOAD_FAILED) << c.what;
            for (const std::string& needle : c.detail) {
                EXPECT_NE(e.message().find(needle), std::string::npos) << c.what << ": " << e.message();
            }
        }
    }
}

}  // namespace
}  // namespace worker
