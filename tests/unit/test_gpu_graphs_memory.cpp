// CUDA graphs and device memory on a GPU: decode steps captured once and
// replayed match eager launches exactly (interleaved sessions, growing
// scratch, failed captures); weights resident and accounted by category,
// staging, out-of-memory paths and the process figure. Without a GPU every
// test skips with the reason.
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

// ---- CUDA graphs ------------------------------------------------------------------------

// A backend on the context's device with CUDA graphs `graphs` ("0": every
// kernel launched eagerly; "1": decode steps captured once per session and
// replayed), from a context with that setting.
std::unique_ptr<model::Backend> backend_with_graphs(const Context& context, const char* graphs) {
    Settings settings = context.settings();
    settings.cuda_graphs = std::string(graphs) == "1";
    return model::create_backend(*Context::create(context.device(), settings));
}

// Greedy decode of `steps` tokens after a prompt, in one session of capacity
// `capacity`: the logits of every step.
std::vector<std::vector<float>> greedy_logits(model::Transformer& t, int32_t capacity, int steps) {
    auto session = t.create_session(capacity, 16);
    std::vector<int32_t> history = prompt_for(t.config().vocab_size);
    Tensor last = t.forward(*session, history);
    std::vector<std::vector<float>> all;
    sampling::Settings greedy;
    greedy.temperature = 0.0f;
    for (int i = 0; i < steps; ++i) {
        std::vector<float> v(static_cast<size_t>(last.ne0));
        t.backend().read(last, v.data(), v.size() * sizeof(float));
        all.push_back(std::move(v));
        const int32_t id[1] = {t.backend().sample(last, greedy, history, 0.0)};
        history.push_back(id[0]);
        last = t.forward(*session, id);
    }
    return all;
}

test::SyntheticModelSpec graph_spec(const char* arch) {
    test::SyntheticModelSpec spec;
    spec.arch = arch;
    spec.name = "graphs";
    spec.n_embd = 256;
    spec.n_ff = 512;
    spec.head_dim = 64;
    spec.weight_type = GgmlType::Q4_K;
    spec.embedding_type = GgmlType::Q8_0;
    return spec;
}

// The same kernels, launched one by one or replayed from the one graph a
// session captured, give bit-identical logits; the graph was captured once
// and replayed on every later step. 240 steps take the attention past the
// context length (128 keys) where a head's keys are split among blocks,
// whose count the replayed graph works out on the device. (The whole run
// stays within 256 positions, the KV cache a session may start with: a cache
// that grows is a new buffer, which the session's graph is re-captured for.)
TEST(GpuGraphs, DecodeStepsCapturedOnceAndReplayedMatchEagerLaunchesExactly) {
    WORKER_REQUIRE_GPU();
    for (const char* arch : {"llama", "gemma3"}) {
        auto file = gguf::File::open(synthetic(graph_spec(arch)));
        auto context = Context::create(0);
        const int steps = 240;
        model::Transformer eager(*file, model::read_config(*file), backend_with_graphs(*context, "0"));
        model::Transformer graphed(*file, model::read_config(*file), backend_with_graphs(*context, "1"));
        const auto a = greedy_logits(eager, 256, steps);
        const auto b = greedy_logits(graphed, 256, steps);
        ASSERT_EQ(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << arch << " step " << i;
#ifdef WORKER_HAVE_CUDA
        const cuda::GraphStats on = cuda::graph_stats(graphed.backend());
        const cuda::GraphStats off = cuda::graph_stats(eager.backend());
        EXPECT_EQ(off.launches, 0u);
        EXPECT_EQ(off.instantiations, 0u);
        // Decode steps: the first eager, the second captured, the rest replayed.
        EXPECT_EQ(on.instantiations, 1u) << arch;
        EXPECT_EQ(on.replays, static_cast<uint64_t>(steps - 2)) << arch;
        EXPECT_EQ(on.launches, static_cast<uint64_t>(steps - 1)) << arch;
        EXPECT_EQ(on.dropped, 0u) << arch;
        EXPECT_EQ(on.abandoned, 0u) << arch;
#endif
    }
}

// Two sessions of one model stepping in turn keep one graph each; a third
// session's longer prefill grows the prefill scratch buffers, which no graph
// uses, so nobody re-captures; a session that ends takes its graph with it;
// every logit is still the eager backend's.
TEST(GpuGraphs, InterleavedSessionsAndScratchGrowthKeepExactLogits) {
    WORKER_REQUIRE_GPU();
    auto file = gguf::File::open(synthetic(graph_spec("llama")));
    auto context = Context::create(0);
    struct Run {
        std::unique_ptr<model::Transformer> t;
        std::vector<std::vector<float>> logits;
    };
    auto run = [&](const char* graphs) {
        Run r;
        r.t = std::make_unique<model::Transformer>(*file, model::read_config(*file),
                                                   backend_with_graphs(*context, graphs));
        model::Transformer& t = *r.t;
        const uint32_t vocab = t.config().vocab_size;
        auto s1 = t.create_session(64, 8);
        auto s2 = t.create_session(64, 40);
        std::vector<int32_t> ids1 = prompt_for(vocab), ids2 = ids1;
        ids2.push_back(static_cast<int32_t>(vocab / 2));
        sampling::Settings greedy;
        greedy.temperature = 0.0f;
        auto step = [&](model::Session& s, std::vector<int32_t>& ids, std::span<const int32_t> tokens) {
            const Tensor last = t.forward(s, tokens);
            std::vector<float> v(static_cast<size_t>(last.ne0));
            t.backend().read(last, v.data(), v.size() * sizeof(float));
            r.logits.push_back(v);
            ids.push_back(t.backend().sample(last, greedy, ids, 0.0));
        };
        step(*s1, ids1, ids1);
        step(*s2, ids2, ids2);
        for (int i = 0; i < 6; ++i) {
            step(*s1, ids1, std::span<const int32_t>(&ids1.back(), 1));
            step(*s2, ids2, std::span<const int32_t>(&ids2.back(), 1));
        }
        {
            // A third session's 32-token prefill grows the 8-bit activation buffer.
            auto s3 = t.create_session(64, 32);
            std::vector<int32_t> ids3;
            for (int i = 0; i < 32; ++i) ids3.push_back(static_cast<int32_t>((i * 37 + 5) % vocab));
            step(*s3, ids3, std::vector<int32_t>(ids3));
            for (int i = 0; i < 3; ++i) step(*s3, ids3, std::span<const int32_t>(&ids3.back(), 1));
        }
        for (int i = 0; i < 6; ++i) {
            step(*s1, ids1, std::span<const int32_t>(&ids1.back(), 1));
            step(*s2, ids2, std::span<const int32_t>(&ids2.back(), 1));
        }
        return r;
    };
    const Run eager = run("0");
    const Run graphed = run("1");
    ASSERT_EQ(eager.logits.size(), graphed.logits.size());
    for (size_t i = 0; i < eager.logits.size(); ++i) ASSERT_EQ(eager.logits[i], graphed.logits[i]) << "call " << i;
#ifdef WORKER_HAVE_CUDA
    const cuda::GraphStats on = cuda::graph_stats(graphed.t->backend());
    EXPECT_EQ(on.dropped, 0u);
    EXPECT_EQ(on.instantiations, 3u);  // one per session
    EXPECT_GT(on.replays, 10u);
    EXPECT_EQ(on.abandoned, 0u);
#endif
}

// With a repetition penalty the sampler gets a longer history of distinct ids
// every step. It lives in the sampler's arrays (one slot per vocabulary
// entry), so nothing is reallocated: a 256-token generation captures its
// decode step once and replays it for every later step. (One prompt token
// and 256 generated, the last not evaluated, as an inference does: 256
// positions, the KV cache a session may start with.)
TEST(GpuGraphs, RepetitionPenaltyOver256TokensCapturesTheStepOnce) {
    WORKER_REQUIRE_GPU();
    auto file = gguf::File::open(synthetic(graph_spec("llama")));
    auto context = Context::create(0);
    model::Transformer t(*file, model::read_config(*file), backend_with_graphs(*context, "1"));
    std::vector<int32_t> history = {1};
    const int tokens = 256;
    auto session = t.create_session(tokens, 16);
    Tensor last = t.forward(*session, history);
    sampling::Settings settings;
    settings.temperature = 1.0f;
    settings.top_k = 0;
    settings.top_p = 1.0f;
    settings.min_p = 0.0f;
    settings.repetition_penalty = 1.1f;
    std::mt19937_64 rng(5);
    for (int i = 0; i < tokens; ++i) {
        const int32_t id[1] = {t.backend().sample(last, settings, history, sampling::uniform01(rng))};
        history.push_back(id[0]);
        if (i + 1 < tokens) last = t.forward(*session, id);
    }
    std::vector<int32_t> distinct = history;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    ASSERT_GT(distinct.size(), 64u)
        << "the history must outgrow 64 distinct ids (where the old buffer grew) for this test to mean anything";
#ifdef WORKER_HAVE_CUDA
    const int steps = tokens - 1;  // decode steps
    const cuda::GraphStats on = cuda::graph_stats(t.backend());
    EXPECT_EQ(on.instantiations, 1u);
    EXPECT_EQ(on.dropped, 0u);
    EXPECT_EQ(on.replays, static_cast<uint64_t>(steps - 2));
    EXPECT_EQ(on.abandoned, 0u);
#endif
}

// A capture that fails costs only time: the step runs eagerly with the same
// bits, the next step tries again, and a session whose captures keep failing
// stops trying (kMaxCaptureFailures = 3) while a new session captures again.
TEST(GpuGraphs, FailedCapturesRunTheStepEagerlyAndRepeatedFailuresStopCapturing) {
    WORKER_REQUIRE_GPU();
#ifdef WORKER_HAVE_CUDA
    auto file = gguf::File::open(synthetic(graph_spec("llama")));
    auto context = Context::create(0);
    const int steps = 20;
    model::Transformer eager(*file, model::read_config(*file), backend_with_graphs(*context, "0"));
    const auto want = greedy_logits(eager, 64, steps);
    for (const int failures : {1, 3}) {
        model::Transformer graphed(*file, model::read_config(*file), backend_with_graphs(*context, "1"));
        cuda::fail_next_captures(graphed.backend(), failures);
        const auto got = greedy_logits(graphed, 64, steps);
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << failures << " failures, step " << i;
        cuda::GraphStats st = cuda::graph_stats(graphed.backend());
        EXPECT_EQ(st.abandoned, static_cast<uint64_t>(failures));
        EXPECT_EQ(st.eager_after_failed_capture, static_cast<uint64_t>(failures));
        if (failures == 1) {
            // Step 1 eager, step 2's capture fails (eager), step 3 captured, the rest replayed.
            EXPECT_EQ(st.instantiations, 1u);
            EXPECT_EQ(st.replays, static_cast<uint64_t>(steps - 3));
            EXPECT_EQ(st.sessions_without_graph, 0u);
        } else {
            EXPECT_EQ(st.instantiations, 0u);
            EXPECT_EQ(st.launches, 0u);
            EXPECT_EQ(st.sessions_without_graph, 1u);
            // Another session of the same backend captures again.
            const auto again = greedy_logits(graphed, 64, steps);
            for (size_t i = 0; i < again.size(); ++i) ASSERT_EQ(again[i], want[i]) << "new session, step " << i;
            st = cuda::graph_stats(graphed.backend());
            EXPECT_EQ(st.instantiations, 1u);
            EXPECT_EQ(st.replays, static_cast<uint64_t>(steps - 2));
        }
    }
#endif
}

// ---- residency and accounting ------------------------------------------------------

TEST(GpuMemory, WeightsAreResidentAndAccountedByCategory) {
    WORKER_REQUIRE_GPU();
#ifdef WORKER_HAVE_CUDA
    test::SyntheticModelSpec spec;
    spec.name = "accounting";
    spec.n_embd = 256;
    spec.n_ff = 512;
    spec.head_dim = 64;
    spec.weight_type = GgmlType::Q4_K;
    const std::string path = synthetic(spec);
    auto file = gguf::File::open(path);
    auto context = Context::create(0);
    const model::Config config = model::read_config(*file);
    model::Transformer t(*file, config, model::create_backend(*context));
    model::Backend& backend = t.backend();
    ASSERT_TRUE(cuda::is_cuda_backend(backend));

    uint64_t expected_weights = 0;
    for (const gguf::TensorInfo& info : file->tensors())
        expected_weights += (std::max<uint64_t>(info.n_bytes, 1) + 255) / 256 * 256;
    cuda::VramUsage u = cuda::vram_usage(backend);
    EXPECT_EQ(u.weights, expected_weights);
    EXPECT_EQ(backend.weight_bytes(), expected_weights);
    EXPECT_EQ(u.kv_cache, 0u);
    EXPECT_EQ(cuda::check_weight_residency(backend), file->tensors().size());

    // The weights in VRAM are the file's bytes.
    const gguf::TensorInfo& info = file->tensors().back();
    {
        const int32_t capacity = 40;
        auto session = t.create_session(capacity, 8);
        u = cuda::vram_usage(backend);
        const uint64_t per_cache = (static_cast<uint64_t>(capacity) * config.kv_dim() * 2 + 255) / 256 * 256;
        EXPECT_EQ(u.kv_cache, 2u * config.block_count * per_cache);
        EXPECT_GT(u.activations, 0u);
        EXPECT_GT(cuda::check_all_residency(backend), file->tensors().size());
        EXPECT_NO_THROW(backend.check_residency());  // what cuda_check_vram_residency calls
        const std::vector<int32_t> prompt = {1, 2, 3};
        t.forward(*session, prompt);
        backend.synchronize();
    }
    u = cuda::vram_usage(backend);
    EXPECT_EQ(u.kv_cache, 0u);
    EXPECT_EQ(u.activations, 0u);
    EXPECT_EQ(u.weights, expected_weights);
    EXPECT_GE(u.peak, expected_weights);
    (void)info;
#endif
}

TEST(GpuMemory, SmallStagingChunksUploadTheSameBytes) {
    WORKER_REQUIRE_GPU();
    test::SyntheticModelSpec spec;
    spec.name = "staging";
    spec.n_embd = 256;
    spec.n_ff = 1024;
    spec.head_dim = 64;
    spec.weight_type = GgmlType::Q8_0;
    const std::string path = synthetic(spec);
    auto file = gguf::File::open(path);
    Settings settings = Settings::from_environment();
    settings.cuda_staging_bytes = 65536;
    auto context = Context::create(0, settings);
    std::unique_ptr<model::Backend> backend = model::create_backend(*context);
    for (const gguf::TensorInfo& info : file->tensors()) {
        if (info.n_bytes < 3 * 65536 / 2) continue;  // several chunks, the last one partial
        const Tensor t = backend->upload_weight(*file, info);
        std::vector<uint8_t> back(info.n_bytes);
        backend->read(t, back.data(), back.size());
        EXPECT_EQ(std::memcmp(back.data(), file->tensor_data(info), info.n_bytes), 0) << info.name;
    }
}

TEST(GpuMemory, AllocationLargerThanTheGpuFailsCleanly) {
    WORKER_REQUIRE_GPU();
    auto context = Context::create(0);
    auto backend = model::create_backend(*context);
    const uint64_t before = context->process_memory_usage();
    try {
        backend->allocate(size_t{1} << 50, "KV cache");
        FAIL() << "a 1 PiB allocation succeeded";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), CUDA_ERROR_OUT_OF_MEMORY);
        EXPECT_NE(e.message().find("GPU 0"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("required"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("available"), std::string::npos) << e.message();
    }
#ifdef WORKER_HAVE_CUDA
    EXPECT_EQ(cuda::vram_usage(*backend).kv_cache, 0u);
#endif
    EXPECT_LE(context->process_memory_usage(), before + (uint64_t{64} << 20));
    auto ok = backend->allocate(1 << 20, "activations");  // the device still allocates
    EXPECT_NE(ok->data(), nullptr);
}

TEST(GpuMemory, ProcessVramCountsWhatTheModelsHoldAndReturnsToZero) {
    WORKER_REQUIRE_GPU();
    int err = -1;
    CudaContext* ctx = cuda_init(0, &err);
    ASSERT_NE(ctx, nullptr) << cuda_last_error_detail();
    CudaContext* ctx2 = cuda_init(0, &err);
    ASSERT_NE(ctx2, nullptr) << cuda_last_error_detail();
    const std::string path = synthetic_llama("baseline", 256);
    EXPECT_EQ(cuda_get_process_vram_usage(ctx), 0u);
    uint64_t used = 0;
    CudaModel* model = cuda_load_model(ctx, path.c_str(), &used, &err);
    ASSERT_NE(model, nullptr) << cuda_last_error_detail();
    EXPECT_GT(used, 0u);
    EXPECT_EQ(cuda_get_process_vram_usage(ctx), cuda_get_vram_usage(model));
    // A second model through another context on the same device adds its bytes.
    CudaModel* model2 = cuda_load_model(ctx2, path.c_str(), nullptr, &err);
    ASSERT_NE(model2, nullptr) << cuda_last_error_detail();
    EXPECT_EQ(cuda_get_process_vram_usage(ctx), cuda_get_vram_usage(model) + cuda_get_vram_usage(model2));
    EXPECT_EQ(cuda_get_process_vram_usage(ctx2), cuda_get_process_vram_usage(ctx));
    // Both figures come from the same ledgers: every scratch buffer (error
    // flag, decode position, sampler arrays, cuBLAS workspace, 8-bit
    // activations) counts in the model's figure as in the process's.
    WorkerInferenceParams params = WORKER_INFERENCE_PARAMS_INIT;
    params.max_tokens = 24;
    params.temperature = 0.0f;
    params.repetition_penalty = 1.1f;
    InferenceResult* r = cuda_inference_start_ex(model, "Hello, world. Hello, world. Hello, world.", &params, &err);
    ASSERT_NE(r, nullptr) << cuda_last_error_detail();
    EXPECT_EQ(cuda_get_process_vram_usage(ctx), cuda_get_vram_usage(model) + cuda_get_vram_usage(model2));
    char piece[256];
    int tokens = 0;
    while (cuda_inference_next_token(r, piece, sizeof piece, nullptr, &err)) ++tokens;
    ASSERT_EQ(err, CUDA_SUCCESS) << cuda_last_error_detail();
    EXPECT_GT(tokens, 0);
    EXPECT_EQ(cuda_get_process_vram_usage(ctx), cuda_get_vram_usage(model) + cuda_get_vram_usage(model2));
    EXPECT_GT(cuda_get_vram_usage(model), cuda_model_get_vram_usage(model));  // weights and more
    cuda_inference_free(r);
    EXPECT_EQ(cuda_get_process_vram_usage(ctx), cuda_get_vram_usage(model) + cuda_get_vram_usage(model2));
    EXPECT_TRUE(cuda_check_vram_residency(model, &err)) << cuda_last_error_detail();
    cuda_unload_model(model2);
    cuda_unload_model(model);
    EXPECT_EQ(cuda_get_process_vram_usage(ctx), 0u);
    EXPECT_TRUE(cuda_check_device_health(ctx, &err)) << cuda_last_error_detail();
    cuda_destroy(ctx2);
    cuda_destroy(ctx);
}

// DeviceMemory leaves its ledger before cudaFree, so an allocation another
// thread makes at the address just freed is entered and removed exactly
// once: after many allocations and frees on one ledger from several threads
// (cudaMalloc hands freed addresses out again), the ledger and the process
// figure are back where they started.
TEST(GpuMemory, ConcurrentAllocationsAndFreesKeepTheLedgerExact) {
    WORKER_REQUIRE_GPU();
#ifdef WORKER_HAVE_CUDA
    auto context = Context::create(0);
    const uint64_t process_before = context->process_memory_usage();
    {
        cuda::VramLedger ledger(0);
        std::vector<std::thread> threads;
        std::vector<std::string> errors(4);
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                try {
                    Context::create(0);  // makes GPU 0 current on this thread
                    for (int i = 0; i < 3000; ++i) {
                        cuda::DeviceMemory m(ledger, 4096 + static_cast<size_t>((i + t) % 3) * 256,
                                             cuda::VramCategory::Activations, "concurrency test");
                        if (m.empty()) throw std::runtime_error("empty allocation");
                    }
                } catch (const std::exception& e) {
                    errors[static_cast<size_t>(t)] = e.what();
                }
            });
        }
        for (std::thread& th : threads) th.join();
        for (const std::string& e : errors) EXPECT_EQ(e, "");
        EXPECT_EQ(ledger.usage().total(), 0u);
        EXPECT_EQ(ledger.count(cuda::VramCategory::Activations), 0u);
        EXPECT_GE(ledger.usage().peak, 4096u);
    }
    EXPECT_EQ(context->process_memory_usage(), process_before);
#endif
}

// The whole file is compared with the free VRAM before its first weight, for
// every file a backend takes weights from — also a file opened after another
// was freed (which may sit at the freed one's address). The second file here
// claims a 256 GiB tensor (a sparse file): the check refuses it with the
// whole file's figures before any allocation is tried.
TEST(GpuMemory, EveryFileIsCheckedAgainstTheFreeVram) {
    WORKER_REQUIRE_GPU();
    auto context = Context::create(0);
    auto backend = model::create_backend(*context);
    {
        auto small = gguf::File::open(synthetic_llama("fits", 64));
        backend->upload_weight(*small, small->tensors().front());
    }
    test::GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_tensor("huge.weight", {64}, GgmlType::F32, std::vector<float>(64, 1.0f));
    test::GgufBytes bytes = w.build();
    const uint64_t elements = uint64_t{1} << 36;  // 256 GiB of F32
    bytes.patch<uint64_t>(bytes.layout.tensors[0].dims_at, elements);
    bytes.truncate(bytes.layout.tensors[0].data_at);
    const std::string path = testing::TempDir() + "huge_sparse.gguf";
    bytes.write(path);
    std::filesystem::resize_file(path, bytes.layout.tensors[0].data_at + elements * 4);
    auto huge = gguf::File::open(path);
    try {
        backend->upload_weight(*huge, huge->tensors().front());
        FAIL() << "a 256 GiB weight was uploaded";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), CUDA_ERROR_OUT_OF_MEMORY);
        EXPECT_NE(e.message().find("needs"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find(path), std::string::npos) << e.message();
    }
    std::filesystem::remove(path);
}

}  // namespace
}  // namespace worker
