// Every op of the CUDA backend against the CPU backend (the oracle) on random
// inputs of the shapes the real models use: SmolLM2-135M (576 wide, 9/3 heads
// of 64, ff 1536), gemma-3-270m (640 wide, 4/1 heads of 256, ff 2048) and
// Llama-3-8B (4096 wide, 32/8 heads of 128). Each test states its bound on the
// relative L2 error ||gpu - cpu|| / ||cpu|| and why. Without a GPU every test
// skips with the reason.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/context.h"
#include "core/error.h"
#include "cpu/cpu_backend.h"
#include "model/backend.h"
#include "quant/blocks.h"
#include "support/gguf_writer.h"
#include "support/gpu.h"

namespace worker {
namespace {

using model::Backend;
using model::Buffer;
using model::Tensor;

std::vector<float> random_values(size_t n, uint64_t seed, float stddev = 1.0f) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> dist(0.0f, stddev);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

double relative_l2(const std::vector<float>& got, const std::vector<float>& want) {
    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < want.size(); ++i) {
        const double d = static_cast<double>(got[i]) - want[i];
        diff += d * d;
        norm += static_cast<double>(want[i]) * want[i];
    }
    return norm == 0.0 ? std::sqrt(diff) : std::sqrt(diff / norm);
}

// Values as the FP16 KV cache stores them.
std::vector<float> round_to_half(std::vector<float> v) {
    for (float& x : v) x = quant::fp16_to_f32(quant::f32_to_fp16(x));
    return v;
}

// A tensor in a backend's memory, with the buffer that owns it.
struct Dev {
    std::unique_ptr<Buffer> buffer;
    Tensor t;
};

Dev upload_bytes(Backend& b, GgmlType type, int64_t cols, int64_t rows, const void* bytes, size_t size) {
    Dev d;
    d.buffer = b.allocate(size, "test tensor");
    d.t = d.buffer->view(type, cols, rows);
    b.write(d.t, bytes, size);
    return d;
}

Dev upload(Backend& b, const std::vector<float>& v, int64_t cols) {
    return upload_bytes(b, GgmlType::F32, cols, static_cast<int64_t>(v.size()) / cols, v.data(),
                        v.size() * sizeof(float));
}

Dev zeros(Backend& b, int64_t cols, int64_t rows) {
    return upload(b, std::vector<float>(static_cast<size_t>(cols * rows), 0.0f), cols);
}

std::vector<float> download(Backend& b, const Tensor& t) {
    std::vector<float> v(static_cast<size_t>(t.ne0 * t.ne1));
    b.read(t, v.data(), v.size() * sizeof(float));
    return v;
}

class GpuOps : public ::testing::Test {
protected:
    void SetUp() override {
        WORKER_REQUIRE_GPU();
        context_ = Context::create(0);
        gpu = model::create_backend(*context_);
        cpu = cpu::create_cpu_backend(4);
    }

    // Runs `op` on both backends with the same F32 inputs and returns the
    // relative L2 distance of the F32 outputs (shape out_cols x out_rows).
    template <typename Op>
    double compare(const std::vector<std::vector<float>>& inputs, const std::vector<int64_t>& input_cols,
                   int64_t out_cols, int64_t out_rows, Op op) {
        std::vector<float> results[2];
        Backend* backends[2] = {cpu.get(), gpu.get()};
        for (int k = 0; k < 2; ++k) {
            std::vector<Dev> in;
            for (size_t i = 0; i < inputs.size(); ++i) in.push_back(upload(*backends[k], inputs[i], input_cols[i]));
            Dev out = zeros(*backends[k], out_cols, out_rows);
            op(*backends[k], in, out.t);
            results[k] = download(*backends[k], out.t);
        }
        return relative_l2(results[1], results[0]);
    }

    std::shared_ptr<Context> context_;
    std::unique_ptr<Backend> gpu, cpu;
};

// Same float additions in the same order: exact up to FMA-free rounding; bound 1e-6.
TEST_F(GpuOps, AddFullAndBiasBroadcast) {
    const int64_t dim = 576, n = 7;
    const auto a = random_values(dim * n, 1), b = random_values(dim * n, 2), bias = random_values(dim, 3);
    EXPECT_LT(compare({a, b}, {dim, dim}, dim, n, [](Backend& be, auto& in, const Tensor& out) {
                  be.add(in[0].t, in[1].t, out);
              }),
              1e-6);
    EXPECT_LT(compare({a, bias}, {dim, dim}, dim, n, [](Backend& be, auto& in, const Tensor& out) {
                  be.add(in[0].t, in[1].t, out);
              }),
              1e-6);
    // In place, as the residual adds run.
    EXPECT_LT(compare({a, b}, {dim, dim}, dim, n, [&](Backend& be, auto& in, const Tensor& out) {
                  be.add(in[0].t, in[1].t, in[0].t);
                  be.add(in[0].t, out, out);  // out = 0 + (a + b)
              }),
              1e-6);
}

// One multiplication per element: bound 1e-6.
TEST_F(GpuOps, Scale) {
    const int64_t dim = 640, n = 3;
    EXPECT_LT(compare({random_values(dim * n, 4)}, {dim}, dim, n, [](Backend& be, auto& in, const Tensor& out) {
                  be.scale(in[0].t, 0.125f);
                  be.add(in[0].t, out, out);
              }),
              1e-6);
}

// Float sum of squares in a different order than the CPU's double: bound 1e-5.
TEST_F(GpuOps, RmsNormWithAndWithoutWeight) {
    for (const int64_t dim : {576, 640, 4096}) {
        const int64_t n = 5;
        const auto x = random_values(dim * n, 5), w = random_values(dim, 6);
        EXPECT_LT(compare({x, w}, {dim, dim}, dim, n, [](Backend& be, auto& in, const Tensor& out) {
                      be.rms_norm(in[0].t, in[1].t, 1e-6f, out);
                  }),
                  1e-5)
            << dim;
        EXPECT_LT(compare({x}, {dim}, dim, n, [](Backend& be, auto& in, const Tensor& out) {
                      be.rms_norm(in[0].t, Tensor{}, 1e-5f, out);
                  }),
                  1e-5)
            << dim;
    }
    // Per-head norm over a reshaped q (gemma3's q_norm), in place.
    const int64_t hd = 256, heads = 4, n = 3;
    const auto q = random_values(hd * heads * n, 7), w = random_values(hd, 8);
    EXPECT_LT(compare({q, w}, {hd * heads, hd}, hd * heads, n, [&](Backend& be, auto& in, const Tensor& out) {
                  be.rms_norm(in[0].t.reshape(hd), in[1].t, 1e-6f, in[0].t.reshape(hd));
                  be.add(in[0].t, out, out);
              }),
              1e-5);
}

// The angles are formed exactly as on the CPU (repeated multiplication by a
// host-computed scale); sincosf differs from the host's sin/cos by an ulp or
// two: bound 1e-5.
TEST_F(GpuOps, RopeBothOrderingsPartialRotationAndScaling) {
    struct Case {
        int n_head, head_dim, n_rot, pos0;
        float base, freq_scale;
        bool neox;
    };
    const Case cases[] = {
        {9, 64, 64, 0, 10000.0f, 1.0f, false},     // SmolLM2 q
        {3, 64, 64, 37, 10000.0f, 1.0f, false},    // SmolLM2 k, decode
        {4, 256, 256, 300, 1000000.0f, 1.0f, true},  // gemma3
        {32, 128, 128, 500, 500000.0f, 0.125f, true}, // llama3 with linear scaling
        {8, 96, 64, 11, 10000.0f, 1.0f, true},     // phi-style partial rotation
    };
    for (const Case& c : cases) {
        const int64_t dim = static_cast<int64_t>(c.n_head) * c.head_dim, n = 6;
        model::RopeParams p{c.n_head, c.head_dim, c.n_rot, c.pos0, c.base, c.freq_scale, c.neox};
        EXPECT_LT(compare({random_values(dim * n, 9)}, {dim}, dim, n, [&](Backend& be, auto& in, const Tensor& out) {
                      be.rope(in[0].t, p);
                      be.add(in[0].t, out, out);
                  }),
                  1e-5)
            << "heads " << c.n_head << " head_dim " << c.head_dim << " neox " << c.neox;
    }
}

// SwiGLU: expf within an ulp or two of the host's. GeGLU goes through half
// precision on both devices (input and result rounded to half), so a tanhf
// ulp only matters where it moves a result across a half rounding boundary:
// rare, and then by one half ulp. Bound 1e-5 for both.
TEST_F(GpuOps, SwigluAndGeglu) {
    for (const int64_t ff : {1536, 2048}) {
        const int64_t n = 4;
        const auto g = random_values(ff * n, 10, 3.0f), u = random_values(ff * n, 11);
        EXPECT_LT(compare({g, u}, {ff, ff}, ff, n, [](Backend& be, auto& in, const Tensor& out) {
                      be.swiglu(in[0].t, in[1].t, out);
                  }),
                  1e-5);
        EXPECT_LT(compare({g, u}, {ff, ff}, ff, n, [](Backend& be, auto& in, const Tensor& out) {
                      be.geglu(in[0].t, in[1].t, out);
                  }),
                  1e-5);
        // out aliasing gate, as the forward pass calls it.
        EXPECT_LT(compare({g, u}, {ff, ff}, ff, n, [](Backend& be, auto& in, const Tensor& out) {
                      be.swiglu(in[0].t, in[1].t, in[0].t);
                      be.add(in[0].t, out, out);
                  }),
                  1e-5);
    }
}

// The cache holds IEEE half: every value must be exactly the half rounding of
// its source, at the right rows, from a row-strided source (a slice of a fused
// QKV activation).
TEST_F(GpuOps, CopyToCacheRoundsToHalfAtThePosition) {
    ASSERT_EQ(gpu->kv_type(), GgmlType::F16);
    const int64_t kv_dim = 192, n = 5, capacity = 32, pos = 9, fused = 3 * kv_dim;
    const auto src = random_values(fused * n, 12);
    Dev s = upload(*gpu, src, fused);
    auto cache_buf = gpu->allocate(static_cast<size_t>(capacity * kv_dim) * 2, "KV cache");
    const Tensor cache = cache_buf->view(GgmlType::F16, kv_dim, capacity);
    gpu->copy_to_cache(s.t.cols(kv_dim, kv_dim), cache, static_cast<int32_t>(pos));
    std::vector<uint16_t> got(static_cast<size_t>(capacity * kv_dim));
    gpu->read(cache, got.data(), got.size() * 2);
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t c = 0; c < kv_dim; ++c) {
            ASSERT_EQ(got[static_cast<size_t>((pos + i) * kv_dim + c)],
                      quant::f32_to_fp16(src[static_cast<size_t>(i * fused + kv_dim + c)]))
                << "row " << i << " col " << c;
        }
    }
}

// Attention: the CPU gets the same half-rounded keys and values the GPU cache
// holds, and both round q to half. The CPU also rounds the normalised
// probabilities to half before they meet V (as llama.cpp's CPU backend); the
// GPU keeps them in float inside its online softmax (a relative difference of
// up to 2^-11 per probability), and sums in another order (and, for long
// decode contexts, combines split partial results): bound 1e-3.
struct AttentionCase {
    const char* name;
    int n_head, n_head_kv, head_dim, pos0, n, window;
};

class GpuAttention : public GpuOps, public ::testing::WithParamInterface<AttentionCase> {};

TEST_P(GpuAttention, MatchesCpu) {
    const AttentionCase c = GetParam();
    const int64_t q_dim = static_cast<int64_t>(c.n_head) * c.head_dim;
    const int64_t kv_dim = static_cast<int64_t>(c.n_head_kv) * c.head_dim;
    const int64_t n_kv = c.pos0 + c.n, capacity = n_kv + 3;
    const auto q = random_values(q_dim * c.n, 13);
    const auto k = round_to_half(random_values(kv_dim * n_kv, 14));
    const auto v = round_to_half(random_values(kv_dim * n_kv, 15));
    model::AttentionParams p;
    p.n_head = c.n_head;
    p.n_head_kv = c.n_head_kv;
    p.head_dim = c.head_dim;
    p.pos0 = c.pos0;
    p.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    p.window = c.window;

    std::vector<float> results[2];
    Backend* backends[2] = {cpu.get(), gpu.get()};
    for (int b = 0; b < 2; ++b) {
        Backend& be = *backends[b];
        const TypeTraits kv = type_traits(be.kv_type());
        auto kc = be.allocate(static_cast<size_t>(capacity * kv_dim) * kv.type_size, "KV cache");
        auto vc = be.allocate(static_cast<size_t>(capacity * kv_dim) * kv.type_size, "KV cache");
        const Tensor kt = kc->view(be.kv_type(), kv_dim, capacity), vt = vc->view(be.kv_type(), kv_dim, capacity);
        Dev ks = upload(be, k, kv_dim), vs = upload(be, v, kv_dim), qs = upload(be, q, q_dim);
        be.copy_to_cache(ks.t, kt, 0);
        be.copy_to_cache(vs.t, vt, 0);
        Dev out = zeros(be, q_dim, c.n);
        be.attention(qs.t, kt, vt, p, out.t);
        results[b] = download(be, out.t);
    }
    EXPECT_LT(relative_l2(results[1], results[0]), 1e-3) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GpuAttention,
    ::testing::Values(AttentionCase{"smollm2_prefill", 9, 3, 64, 0, 17, 0},
                      AttentionCase{"smollm2_decode", 9, 3, 64, 40, 1, 0},
                      AttentionCase{"smollm2_decode_long", 9, 3, 64, 1500, 1, 0},
                      AttentionCase{"smollm2_prefill_after_past", 9, 3, 64, 70, 33, 0},
                      AttentionCase{"gemma3_sliding_window", 4, 1, 256, 20, 40, 16},
                      AttentionCase{"gemma3_decode_window", 4, 1, 256, 600, 1, 512},
                      AttentionCase{"head_dim_128_prefill_after_past", 4, 2, 128, 5, 9, 0},
                      AttentionCase{"llama3_8b_decode", 32, 8, 128, 300, 1, 0},
                      // Decode over long contexts splits each head's keys among blocks:
                      AttentionCase{"smollm2_decode_4k", 9, 3, 64, 4096, 1, 0},
                      AttentionCase{"smollm2_decode_129_keys", 9, 3, 64, 128, 1, 0},
                      AttentionCase{"gemma3_decode_long", 4, 1, 256, 2000, 1, 0},
                      AttentionCase{"gemma3_decode_long_window", 4, 1, 256, 3000, 1, 1024}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

// A prompt may be prefilled in chunks: attention for the queries at
// [pos0, pos0 + n) must not depend on how the rows are split among calls.
// Each query row is computed by its own blocks from the cache alone, so the
// rows of one call and of several chunked calls are bit-identical; and the
// whole against the CPU within the bound above.
TEST_F(GpuOps, AttentionInChunksGivesTheSameBitsAsOneCall) {
    const int n_head = 9, n_head_kv = 3, hd = 64;
    const int64_t q_dim = int64_t{n_head} * hd, kv_dim = int64_t{n_head_kv} * hd;
    const int64_t past = 37, n = 300, n_kv = past + n;
    const auto q = random_values(q_dim * n, 31);
    const auto k = random_values(kv_dim * n_kv, 32);
    const auto v = random_values(kv_dim * n_kv, 33);
    model::AttentionParams p;
    p.n_head = n_head;
    p.n_head_kv = n_head_kv;
    p.head_dim = hd;
    p.scale = 0.125f;
    auto kc = gpu->allocate(static_cast<size_t>(n_kv * kv_dim) * 2, "KV cache");
    auto vc = gpu->allocate(static_cast<size_t>(n_kv * kv_dim) * 2, "KV cache");
    const Tensor kt = kc->view(GgmlType::F16, kv_dim, n_kv), vt = vc->view(GgmlType::F16, kv_dim, n_kv);
    Dev ks = upload(*gpu, k, kv_dim), vs = upload(*gpu, v, kv_dim), qs = upload(*gpu, q, q_dim);
    gpu->copy_to_cache(ks.t, kt, 0);
    gpu->copy_to_cache(vs.t, vt, 0);
    Dev whole = zeros(*gpu, q_dim, n);
    p.pos0 = static_cast<int32_t>(past);
    gpu->attention(qs.t, kt, vt, p, whole.t);
    Dev chunked = zeros(*gpu, q_dim, n);
    for (const auto& [first, count] : std::vector<std::pair<int64_t, int64_t>>{{0, 64}, {64, 1}, {65, 200}, {265, 35}}) {
        p.pos0 = static_cast<int32_t>(past + first);
        gpu->attention(qs.t.rows(first, count), kt, vt, p, chunked.t.rows(first, count));
    }
    const std::vector<float> a = download(*gpu, whole.t), b = download(*gpu, chunked.t);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << "element " << i;
}

// Embedding rows: the shared dequantizers on both sides; nvcc may fuse the
// multiply-add of the offset formats into an FMA: bound 1e-6.
class GpuEmbed : public GpuOps, public ::testing::WithParamInterface<GgmlType> {};

TEST_P(GpuEmbed, RowsMatchCpu) {
    const GgmlType type = GetParam();
    const int64_t vocab = 300, dim = 512;
    const std::vector<uint8_t> table = test::quantize(type, random_values(vocab * dim, 16, 0.5f));
    const std::vector<int32_t> ids = {0, 299, 17, 17, 5, 128, 250};
    const int64_t n = static_cast<int64_t>(ids.size());
    std::vector<float> results[2];
    Backend* backends[2] = {cpu.get(), gpu.get()};
    for (int b = 0; b < 2; ++b) {
        Backend& be = *backends[b];
        Dev t = upload_bytes(be, type, dim, vocab, table.data(), table.size());
        Dev id = upload_bytes(be, GgmlType::I32, n, 1, ids.data(), ids.size() * 4);
        Dev out = zeros(be, dim, n);
        be.embed(t.t, id.t, out.t);
        results[b] = download(be, out.t);
    }
    EXPECT_LT(relative_l2(results[1], results[0]), 1e-6) << type_traits(type).name;
}

INSTANTIATE_TEST_SUITE_P(Types, GpuEmbed,
                         ::testing::Values(GgmlType::F32, GgmlType::F16, GgmlType::Q4_0, GgmlType::Q4_1,
                                           GgmlType::Q5_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K),
                         [](const auto& param_info) { return std::string(type_traits(param_info.param).name); });

// The CUDA columns of the type table (quant/ggml_type.h) against the CUDA
// backend: embed takes the types with kCudaDequant, matmul (a decode step
// and a prefill batch) the types cuda_matmul_takes says, and every other type
// is refused with its name before anything is launched.
TEST_F(GpuOps, TakesTheTypesTheTypeTableSays) {
    constexpr int64_t kCols = 256, kRows = 4;
    const std::vector<int32_t> ids = {0, 3};
    Dev id = upload_bytes(*gpu, GgmlType::I32, 2, 1, ids.data(), ids.size() * 4);
    Dev embedded = zeros(*gpu, kCols, 2);
    for (const TypeTraits& t : type_table()) {
        const size_t bytes = static_cast<size_t>(kCols / t.block_size * t.type_size * kRows);
        const std::vector<uint8_t> zero_bytes(bytes, 0);
        Dev w = upload_bytes(*gpu, t.type, kCols, kRows, zero_bytes.data(), bytes);
        const auto accepts = [&](const std::function<void()>& op) {
            try {
                op();
                gpu->synchronize();
                return true;
            } catch (const Error& e) {
                EXPECT_NE(e.message().find(t.name), std::string::npos) << e.message();
                return false;
            }
        };
        EXPECT_EQ(accepts([&] { gpu->embed(w.t, id.t, embedded.t); }), t.can(kCudaDequant)) << t.name;
        for (const int64_t n : {1, 16}) {
            Dev x = zeros(*gpu, kCols, n), out = zeros(*gpu, kRows, n);
            EXPECT_EQ(accepts([&] { gpu->matmul(w.t, x.t, out.t); }), cuda_matmul_takes(t.type))
                << t.name << " n=" << n;
        }
    }
}

TEST_F(GpuOps, EmbedOutsideTheVocabularyFailsAtTheNextRead) {
    const int64_t vocab = 10, dim = 64;
    const auto table = random_values(vocab * dim, 17);
    Dev t = upload(*gpu, table, dim);
    const std::vector<int32_t> ids = {3, 10};
    Dev id = upload_bytes(*gpu, GgmlType::I32, 2, 1, ids.data(), 8);
    Dev out = zeros(*gpu, dim, 2);
    gpu->embed(t.t, id.t, out.t);
    std::vector<float> host(dim * 2);
    try {
        gpu->read(out.t, host.data(), host.size() * 4);
        FAIL() << "an id past the vocabulary was not reported";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), CUDA_ERROR_INFERENCE_FAILED);
        EXPECT_NE(e.message().find("embed"), std::string::npos) << e.message();
    }
    gpu->read(out.t, host.data(), host.size() * 4);  // reported once; the backend stays usable
}

// Matmul per weight type on both paths: matrix-vector kernels (n <= 8) and
// cuBLAS (larger n). Bounds: F32 weights 1e-5 (summation order); F16 weights
// 1e-5 on the float kernel, 2e-3 through cuBLAS (activations rounded to half
// after a power-of-two row scale that keeps them in half's range);
// quantized weights 1e-4 on the matrix-vector kernels — both devices quantize
// the activations to the same 8-bit blocks and sum the same integers, so
// only the float accumulation order differs — and 2e-3 through cuBLAS, where
// the same 8-bit activations (scaled likewise) and the dequantized weights are
// rounded to half (2^-11 relative each) before the FP16 tensor-core product.
struct MatmulCase {
    GgmlType type;
    int64_t rows, cols;
};

class GpuMatmul : public GpuOps, public ::testing::WithParamInterface<MatmulCase> {};

double matmul_bound(GgmlType type, int64_t n) {
    if (type == GgmlType::F32) return 1e-5;
    if (type == GgmlType::F16) return n <= 8 ? 1e-5 : 2e-3;
    return n <= 8 ? 1e-4 : 2e-3;
}

TEST_P(GpuMatmul, DecodeSmallBatchAndPrefillMatchCpu) {
    const MatmulCase c = GetParam();
    const std::vector<uint8_t> w = test::quantize(c.type, random_values(c.rows * c.cols, 18, 0.05f));
    for (const int64_t n : {1, 3, 8, 9, 64}) {
        const auto x = random_values(c.cols * n, 19 + static_cast<uint64_t>(n));
        std::vector<float> results[2];
        Backend* backends[2] = {cpu.get(), gpu.get()};
        for (int b = 0; b < 2; ++b) {
            Backend& be = *backends[b];
            Dev wt = upload_bytes(be, c.type, c.cols, c.rows, w.data(), w.size());
            Dev xt = upload(be, x, c.cols);
            Dev out = zeros(be, c.rows, n);
            be.matmul(wt.t, xt.t, out.t);
            results[b] = download(be, out.t);
        }
        EXPECT_LT(relative_l2(results[1], results[0]), matmul_bound(c.type, n))
            << type_traits(c.type).name << " [" << c.rows << "][" << c.cols << "] n=" << n;
    }
}

INSTANTIATE_TEST_SUITE_P(
    Types, GpuMatmul,
    ::testing::Values(MatmulCase{GgmlType::F32, 576, 576}, MatmulCase{GgmlType::F32, 49, 100},
                      MatmulCase{GgmlType::F16, 1536, 576}, MatmulCase{GgmlType::F16, 7, 250},
                      MatmulCase{GgmlType::Q4_0, 1536, 576}, MatmulCase{GgmlType::Q4_1, 576, 1536},
                      MatmulCase{GgmlType::Q5_0, 640, 2048}, MatmulCase{GgmlType::Q8_0, 2048, 640},
                      MatmulCase{GgmlType::Q4_K, 640, 2048}, MatmulCase{GgmlType::Q6_K, 1024, 4096},
                      MatmulCase{GgmlType::Q4_K, 4096, 4096}, MatmulCase{GgmlType::Q4_0, 14336, 4096}),
    [](const auto& param_info) {
        return std::string(type_traits(param_info.param.type).name) + "_" + std::to_string(param_info.param.rows) + "x" +
               std::to_string(param_info.param.cols);
    });

// Row-strided activations and outputs: the Q, K and V slices of a fused QKV
// product (phi3) feed and receive matmuls; bounds as for Q8_0 weights above.
TEST_F(GpuOps, MatmulOnStridedViews) {
    const int64_t cols = 512, rows = 256, fused = 3 * cols;
    const std::vector<uint8_t> w = test::quantize(GgmlType::Q8_0, random_values(rows * cols, 20, 0.05f));
    for (const int64_t n : {1, 16}) {
        const auto x = random_values(fused * n, 21);
        std::vector<float> results[2];
        Backend* backends[2] = {cpu.get(), gpu.get()};
        for (int b = 0; b < 2; ++b) {
            Backend& be = *backends[b];
            Dev wt = upload_bytes(be, GgmlType::Q8_0, cols, rows, w.data(), w.size());
            Dev xt = upload(be, x, fused);
            Dev out = zeros(be, 2 * rows, n);
            be.matmul(wt.t, xt.t.cols(cols, cols), out.t.cols(rows, rows));
            results[b] = download(be, out.t);
        }
        EXPECT_LT(relative_l2(results[1], results[0]), n <= 8 ? 1e-4 : 2e-3) << "n=" << n;
    }
}

// Prefill products of activation rows far outside IEEE half's range (past
// 65504, where an unscaled half conversion gives inf; and, for F16 weights,
// whose activations reach cuBLAS unquantized, far below its normal range,
// where half keeps only a few bits): each row is scaled by a power of two into
// half's range before cuBLAS and scaled back after, so the bound is the one
// of ordinary rows. (Quantized weights take 8-bit activations whose block
// scale is itself a half on the CPU too: tiny rows are zeros on both devices.)
TEST_F(GpuOps, PrefillMatmulOfLargeAndTinyActivationsMatchesCpu) {
    struct Case {
        GgmlType type;
        float stddev;
    };
    for (const Case c : {Case{GgmlType::Q4_0, 3e5f}, Case{GgmlType::Q4_K, 1e6f}, Case{GgmlType::F16, 3e5f},
                         Case{GgmlType::F16, 1e-6f}}) {
        const int64_t rows = 512, cols = 1024, n = 16;
        const std::vector<uint8_t> w = test::quantize(c.type, random_values(rows * cols, 40, 0.05f));
        // Rows of very different magnitudes in one batch: each gets its own scale.
        std::vector<float> x = random_values(cols * n, 41, c.stddev);
        for (int64_t i = 0; i < cols; ++i) x[static_cast<size_t>(3 * cols + i)] *= 1e-6f;
        std::vector<float> results[2];
        Backend* backends[2] = {cpu.get(), gpu.get()};
        for (int b = 0; b < 2; ++b) {
            Backend& be = *backends[b];
            Dev wt = upload_bytes(be, c.type, cols, rows, w.data(), w.size());
            Dev xt = upload(be, x, cols);
            Dev out = zeros(be, rows, n);
            be.matmul(wt.t, xt.t, out.t);
            results[b] = download(be, out.t);
        }
        for (const float v : results[1]) ASSERT_TRUE(std::isfinite(v)) << type_traits(c.type).name;
        EXPECT_LT(relative_l2(results[1], results[0]), matmul_bound(c.type, n))
            << type_traits(c.type).name << " stddev " << c.stddev;
    }
}

TEST_F(GpuOps, FailuresNameTheOp) {
    Dev q = zeros(*gpu, 4 * 1024, 1);
    auto kc = gpu->allocate(4 * 1024 * 2 * 4, "KV cache");
    const Tensor k = kc->view(GgmlType::F16, 4 * 1024, 4);
    model::AttentionParams p;
    p.n_head = 4;
    p.n_head_kv = 4;
    p.head_dim = 1024;  // past what the kernel takes
    p.pos0 = 0;
    try {
        gpu->attention(q.t, k, k, p, q.t);
        FAIL() << "head_dim 1024 was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), CUDA_ERROR_INFERENCE_FAILED);
        EXPECT_NE(e.message().find("attention"), std::string::npos) << e.message();
    }
}

}  // namespace
}  // namespace worker
