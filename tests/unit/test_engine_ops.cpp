// CPU backend ops against straightforward scalar references written here:
// quantized dot products against the shared dequantizer (src/quant/dequant.h,
// itself checked against the gguf package), norms, RoPE, attention, GLUs.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <iostream>
#include <random>
#include <vector>

#include "core/error.h"
#include "cpu/cpu_backend.h"
#include "cpu/cpu_features.h"
#include "cpu/quant_dot.h"
#include "cpu/vec.h"
#include "quant/blocks.h"
#include "quant/dequant.h"
#include "support/cpu_isa_level.h"
#include "support/gguf_writer.h"

namespace worker {
namespace {

// ctest's isa.<level>.* entries: the level asked for, or a skip that says why.
[[maybe_unused]] const auto* const kRequestedIsa = ::testing::AddGlobalTestEnvironment(new test::RequestedCpuIsa);

using model::Tensor;

std::vector<float> random_values(size_t n, uint64_t seed, float stddev = 1.0f) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> dist(0.0f, stddev);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

Tensor host_tensor(std::vector<float>& v, int64_t cols) {
    Tensor t{v.data(), GgmlType::F32, cols, static_cast<int64_t>(v.size()) / cols, 0};
    t.nb1 = t.row_bytes();
    return t;
}

class DotKernel : public ::testing::TestWithParam<GgmlType> {};

// The integer kernels quantize the activations to 8 bits, so they agree with
// an f32 dot of the dequantized weights to about 1% of the magnitude of the
// terms; the SIMD and scalar kernels sum in the same order, to the same bits.
TEST_P(DotKernel, MatchesDequantizedReferenceAndScalarKernel) {
    const GgmlType type = GetParam();
    const int64_t n = 1024;
    const std::vector<float> w = random_values(n, 7, 0.5f);
    const std::vector<uint8_t> blocks = test::quantize(type, w);
    std::vector<float> wd(n);
    dequantize_row(type, blocks.data(), wd.data(), n);
    for (uint64_t seed = 1; seed <= 5; ++seed) {
        const std::vector<float> x = random_values(n, seed * 100);
        std::vector<cpu::BlockQ8> xq(n / 32);
        cpu::quantize_activations(type, x.data(), xq.data(), n);
        double expected = 0.0, magnitude = 0.0;
        for (int64_t i = 0; i < n; ++i) {
            expected += static_cast<double>(wd[i]) * x[i];
            magnitude += std::fabs(static_cast<double>(wd[i]) * x[i]);
        }
        const float fast = cpu::dot_kernel(type)(blocks.data(), xq.data(), n / 32);
        const float scalar = cpu::dot_kernel_scalar(type)(blocks.data(), xq.data(), n / 32);
        EXPECT_NEAR(fast, expected, 0.01 * magnitude) << type_traits(type).name << " seed " << seed;
        EXPECT_EQ(fast, scalar) << type_traits(type).name << " (" << cpu::dot_kernel_isa() << ")";
        if (const cpu::DotFn avx2 = cpu::dot_kernel_avx2(type)) {
            // AVX-VNNI sums the same 32-bit lanes as AVX2: identical results.
            EXPECT_EQ(fast, avx2(blocks.data(), xq.data(), n / 32)) << type_traits(type).name;
        }
    }
}

// The kernels a batch uses (groups of four tokens, then one by one) give the
// scalar kernels' bits for every batch size where llama.cpp changes kernels;
// the four-token kernel gives each token what the one-token kernel gives it,
// except where llama.cpp's batched kernel sums otherwise (Q4_K's repacked
// gemm scales every 64 weights, its gemv every 256).
TEST_P(DotKernel, BatchKernelsMatchTheScalarOnes) {
    const GgmlType type = GetParam();
    const int64_t n = 512, nb = n / 32;
    const std::vector<uint8_t> blocks = test::quantize(type, random_values(n, 21, 0.5f));
    const std::vector<float> x = random_values(4 * n, 22);
    std::vector<cpu::BlockQ8> xq(4 * nb);
    for (int t = 0; t < 4; ++t) cpu::quantize_activations(type, x.data() + t * n, xq.data() + t * nb, n);
    for (const int64_t batch : {1, 4, 7, 8, 64}) {
        const cpu::BatchKernels fast = cpu::batch_kernels(type, batch);
        const cpu::BatchKernels scalar = cpu::batch_kernels_scalar(type, batch);
        float four[4], four_scalar[4];
        fast.dot4(blocks.data(), xq.data(), nb, nb, four);
        scalar.dot4(blocks.data(), xq.data(), nb, nb, four_scalar);
        for (int t = 0; t < 4; ++t) {
            const float one = fast.dot1(blocks.data(), xq.data() + t * nb, nb);
            EXPECT_EQ(four[t], four_scalar[t]) << "batch " << batch << ", token " << t;
            EXPECT_EQ(one, scalar.dot1(blocks.data(), xq.data() + t * nb, nb)) << "batch " << batch << ", token " << t;
            if (type != GgmlType::Q4_K) {
                EXPECT_EQ(four[t], one) << "batch " << batch << ", token " << t;
            } else {
                EXPECT_NEAR(four[t], one, 1e-4 * std::fabs(one) + 1e-4) << "batch " << batch << ", token " << t;
            }
        }
    }
}

// The AVX-512 kernels (whatever WORKER_CPU_ISA caps the dispatch to) give the
// bits of the plain AVX2 and the scalar ones, for one token, four-token groups
// and every batch size where llama.cpp changes kernels, on row lengths of the
// golden models (576 and 1536: SmolLM2; 640 and 2048: gemma-3) with activation
// rows at a stride, and a block count with no pair left over (odd nb).
TEST_P(DotKernel, Avx512KernelsGiveTheAvx2AndScalarBits) {
    if (!cpu::cpu_supports_avx512()) {
        GTEST_SKIP() << "this CPU (or its OS) has no AVX512F/BW/DQ/VL + AVX512-VNNI: the AVX-512 kernels cannot run";
    }
    const GgmlType type = GetParam();
    const bool k_quant = type == GgmlType::Q4_K || type == GgmlType::Q6_K;
    for (const int64_t n : {576, 1536, 640, 2048, 256, 96}) {
        if (k_quant && n % 256 != 0) continue;
        const int64_t nb = n / 32, xs = nb + 3;
        const std::vector<uint8_t> blocks = test::quantize(type, random_values(static_cast<size_t>(n), 61 + n, 0.5f));
        const std::vector<float> x = random_values(static_cast<size_t>(4 * n), 62 + n);
        std::vector<cpu::BlockQ8> xq(static_cast<size_t>(4 * xs));
        for (int t = 0; t < 4; ++t) cpu::quantize_activations(type, x.data() + t * n, xq.data() + t * xs, n);
        for (const int64_t batch : {1, 4, 7, 8, 64}) {
            const cpu::BatchKernels k512 = cpu::batch_kernels_avx512(type, batch);
            const cpu::BatchKernels k2 = cpu::batch_kernels_avx2(type, batch);
            const cpu::BatchKernels ks = cpu::batch_kernels_scalar(type, batch);
            ASSERT_NE(k512.dot4, nullptr);
            ASSERT_NE(k2.dot4, nullptr);
            float f512[4], f2[4], fs[4];
            k512.dot4(blocks.data(), xq.data(), xs, nb, f512);
            k2.dot4(blocks.data(), xq.data(), xs, nb, f2);
            ks.dot4(blocks.data(), xq.data(), xs, nb, fs);
            for (int t = 0; t < 4; ++t) {
                const cpu::BlockQ8* xt = xq.data() + t * xs;
                const float one = k512.dot1(blocks.data(), xt, nb);
                EXPECT_EQ(std::bit_cast<uint32_t>(f512[t]), std::bit_cast<uint32_t>(f2[t])) << n << " batch " << batch << " t " << t;
                EXPECT_EQ(std::bit_cast<uint32_t>(f512[t]), std::bit_cast<uint32_t>(fs[t])) << n << " batch " << batch << " t " << t;
                EXPECT_EQ(std::bit_cast<uint32_t>(one), std::bit_cast<uint32_t>(k2.dot1(blocks.data(), xt, nb))) << n << " batch " << batch;
                EXPECT_EQ(std::bit_cast<uint32_t>(one), std::bit_cast<uint32_t>(ks.dot1(blocks.data(), xt, nb))) << n << " batch " << batch;
            }
        }
    }
}

TEST(QuantizeQ8, Avx512AndScalarFormsAgreeExactly) {
    if (!cpu::cpu_supports_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU (or OS): nothing to compare";
    const int64_t n = 32 * 97;
    std::vector<float> x = random_values(n, 24, 3.0f);
    for (int j = 64; j < 96; ++j) x[j] = 0.0f;  // an all-zero block
    x[100] = 1e-30f;
    x[130] = -50.0f;  // a block whose largest magnitude is negative
    std::vector<cpu::BlockQ8> fast(n / 32), scalar(n / 32);
    bool ran = false;
    cpu::quantize_q8_avx512_or_null(x.data(), fast.data(), n, ran);
    ASSERT_TRUE(ran);
    cpu::quantize_q8_scalar(x.data(), scalar.data(), n);
    for (int64_t b = 0; b < n / 32; ++b) {
        EXPECT_EQ(fast[b].d, scalar[b].d) << b;
        EXPECT_EQ(fast[b].dsum, scalar[b].dsum) << b;
        for (int j = 0; j < 32; ++j) ASSERT_EQ(fast[b].qs[j], scalar[b].qs[j]) << b << ":" << j;
    }
}

TEST(QuantizeQ8, VectorAndScalarFormsAgreeExactly) {
    const int64_t n = 32 * 64;
    std::vector<float> x = random_values(n, 23, 3.0f);
    x[5] = 0.0f;
    for (int j = 32; j < 64; ++j) x[j] = 0.0f;  // an all-zero block
    std::vector<cpu::BlockQ8> fast(n / 32), scalar(n / 32);
    cpu::quantize_q8(x.data(), fast.data(), n);
    cpu::quantize_q8_scalar(x.data(), scalar.data(), n);
    for (int64_t b = 0; b < n / 32; ++b) {
        EXPECT_EQ(fast[b].d, scalar[b].d) << b;
        EXPECT_EQ(fast[b].dsum, scalar[b].dsum) << b;
        for (int j = 0; j < 32; ++j) ASSERT_EQ(fast[b].qs[j], scalar[b].qs[j]) << b << ":" << j;
    }
}

INSTANTIATE_TEST_SUITE_P(AllQuantTypes, DotKernel,
                         ::testing::Values(GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q8_0,
                                           GgmlType::Q4_K, GgmlType::Q6_K),
                         [](const auto& param_info) { return std::string(type_traits(param_info.param).name); });

// Values far below the smallest half subnormal (attention probabilities of
// distant tokens) once came out of f32_to_fp16 as garbage from over-wide shifts.
TEST(HalfConversion, TinyValuesRoundToTheNearestSubnormal) {
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<double> exponent(-40.0, -13.0);
    for (int i = 0; i < 20000; ++i) {
        const float x = static_cast<float>(std::exp2(exponent(rng))) * (i % 2 ? -1.0f : 1.0f);
        const double units = std::nearbyint(static_cast<double>(x) * 0x1.0p24);  // half subnormal steps
        const double expected =
            std::fabs(x) < 0x1.0p-14 ? units * 0x1.0p-24 : quant::fp16_to_f32(quant::f32_to_fp16(x));
        ASSERT_EQ(quant::fp16_to_f32(quant::f32_to_fp16(x)), static_cast<float>(expected)) << x;
    }
}

class CpuOps : public ::testing::Test {
protected:
    std::unique_ptr<model::Backend> backend = cpu::create_cpu_backend(3);
};

TEST_F(CpuOps, MatmulOverABatchMatchesPerRowDots) {
    const int64_t rows = 40, cols = 256, n = 5;
    const std::vector<float> wf = random_values(rows * cols, 3, 0.2f);
    std::vector<uint8_t> w = test::quantize(GgmlType::Q4_K, wf);
    std::vector<float> wd(rows * cols);
    dequantize_row(GgmlType::Q4_K, w.data(), wd.data(), rows * cols);
    std::vector<float> x = random_values(n * cols, 4), out(n * rows);
    Tensor wt{w.data(), GgmlType::Q4_K, cols, rows, 0};
    wt.nb1 = wt.row_bytes();
    backend->matmul(wt, host_tensor(x, cols), host_tensor(out, rows));
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t r = 0; r < rows; ++r) {
            double ref = 0.0, mag = 0.0;
            for (int64_t c = 0; c < cols; ++c) {
                ref += static_cast<double>(wd[r * cols + c]) * x[i * cols + c];
                mag += std::fabs(static_cast<double>(wd[r * cols + c]) * x[i * cols + c]);
            }
            EXPECT_NEAR(out[i * rows + r], ref, 0.01 * mag + 1e-6) << "token " << i << " row " << r;
        }
    }
}

TEST_F(CpuOps, MatmulOnF32WeightsIsExactToRounding) {
    const int64_t rows = 7, cols = 64;
    std::vector<float> w = random_values(rows * cols, 5), x = random_values(2 * cols, 6), out(2 * rows);
    backend->matmul(host_tensor(w, cols), host_tensor(x, cols), host_tensor(out, rows));
    for (int64_t i = 0; i < 2; ++i) {
        for (int64_t r = 0; r < rows; ++r) {
            double ref = 0.0;
            for (int64_t c = 0; c < cols; ++c) ref += static_cast<double>(w[r * cols + c]) * x[i * cols + c];
            EXPECT_NEAR(out[i * rows + r], ref, 1e-4);
        }
    }
}

TEST_F(CpuOps, RmsNormWithWeight) {
    std::vector<float> x = random_values(3 * 48, 8), w = random_values(48, 9), out(3 * 48);
    backend->rms_norm(host_tensor(x, 48), host_tensor(w, 48), 1e-6f, host_tensor(out, 48));
    for (int i = 0; i < 3; ++i) {
        double ss = 0.0;
        for (int j = 0; j < 48; ++j) ss += x[i * 48 + j] * x[i * 48 + j];
        const double inv = 1.0 / std::sqrt(ss / 48 + 1e-6);
        for (int j = 0; j < 48; ++j) EXPECT_NEAR(out[i * 48 + j], x[i * 48 + j] * inv * w[j], 1e-5);
    }
}

// Reference rotation of one head, written from the definition: pair (a, b)
// turns by pos * base^(-2k / n_rot).
void rope_reference(float* head, int n_rot, int pos, float base, bool neox) {
    for (int k = 0; k < n_rot / 2; ++k) {
        const double theta = pos * std::pow(static_cast<double>(base), -2.0 * k / n_rot);
        const int a = neox ? k : 2 * k, b = neox ? k + n_rot / 2 : 2 * k + 1;
        const double x0 = head[a], x1 = head[b];
        head[a] = static_cast<float>(x0 * std::cos(theta) - x1 * std::sin(theta));
        head[b] = static_cast<float>(x0 * std::sin(theta) + x1 * std::cos(theta));
    }
}

TEST_F(CpuOps, RopeBothOrderingsAndPartialRotation) {
    for (const bool neox : {false, true}) {
        const int n_head = 3, hd = 32, n_rot = 24, n = 4, pos0 = 17;
        std::vector<float> x = random_values(n * n_head * hd, 10), ref = x;
        backend->rope(host_tensor(x, n_head * hd), {n_head, hd, n_rot, pos0, 10000.0f, 1.0f, neox});
        for (int i = 0; i < n; ++i) {
            for (int h = 0; h < n_head; ++h)
                rope_reference(&ref[(i * n_head + h) * hd], n_rot, pos0 + i, 10000.0f, neox);
        }
        for (size_t j = 0; j < x.size(); ++j) ASSERT_NEAR(x[j], ref[j], 2e-4) << "neox " << neox << " at " << j;
    }
}

TEST_F(CpuOps, GatedActivations) {
    std::vector<float> g = random_values(64, 11), u = random_values(64, 12), out(64);
    backend->swiglu(host_tensor(g, 64), host_tensor(u, 64), host_tensor(out, 64));
    for (int j = 0; j < 64; ++j) EXPECT_NEAR(out[j], g[j] / (1 + std::exp(-g[j])) * u[j], 1e-5);
    backend->geglu(host_tensor(g, 64), host_tensor(u, 64), host_tensor(out, 64));
    for (int j = 0; j < 64; ++j) {
        const double gelu = 0.5 * g[j] * (1 + std::tanh(std::sqrt(2 / M_PI) * (g[j] + 0.044715 * std::pow(g[j], 3))));
        // The input and the GELU value are rounded to half (llama.cpp's table).
        EXPECT_NEAR(out[j], gelu * u[j], 2e-3 * (std::fabs(gelu) + std::fabs(g[j])) * std::fabs(u[j]) + 1e-6);
    }
}

// Attention from the definition: for each query, softmax over the visible
// keys of the scaled dot products, then the weighted sum of values.
TEST_F(CpuOps, CausalGroupedQueryAttentionWithWindow) {
    const int n_head = 4, n_kv = 2, hd = 16, pos0 = 5, n = 3, total = pos0 + n;
    for (const int window : {0, 4}) {
        std::vector<float> q = random_values(n * n_head * hd, 13), k = random_values(total * n_kv * hd, 14),
                           v = random_values(total * n_kv * hd, 15), out(n * n_head * hd);
        model::AttentionParams p;
        p.n_head = n_head;
        p.n_head_kv = n_kv;
        p.head_dim = hd;
        p.pos0 = pos0;
        p.scale = 0.25f;
        p.window = window;
        backend->attention(host_tensor(q, n_head * hd), host_tensor(k, n_kv * hd), host_tensor(v, n_kv * hd), p,
                           host_tensor(out, n_head * hd));
        for (int i = 0; i < n; ++i) {
            const int pos = pos0 + i;
            for (int h = 0; h < n_head; ++h) {
                const int kvh = h / (n_head / n_kv);
                std::vector<double> w(total, 0.0);
                double mx = -1e30, sum = 0.0;
                for (int t = 0; t <= pos; ++t) {
                    if (window > 0 && pos - t >= window) continue;
                    double s = 0.0;
                    for (int d = 0; d < hd; ++d) s += q[(i * n_head + h) * hd + d] * k[(t * n_kv + kvh) * hd + d];
                    w[t] = s * 0.25;
                    mx = std::max(mx, w[t]);
                }
                for (int t = 0; t <= pos; ++t) {
                    if (window > 0 && pos - t >= window) continue;
                    w[t] = std::exp(w[t] - mx);
                    sum += w[t];
                }
                for (int d = 0; d < hd; ++d) {
                    double o = 0.0;
                    for (int t = 0; t <= pos; ++t) {
                        if (window > 0 && pos - t >= window) continue;
                        o += w[t] / sum * v[(t * n_kv + kvh) * hd + d];
                    }
                    EXPECT_NEAR(out[(i * n_head + h) * hd + d], o, 1e-4) << "window " << window;
                }
            }
        }
    }
}

// The half-precision cache the CPU backend uses gives what an f32 cache
// gives, to half precision.
TEST_F(CpuOps, AttentionOverAHalfCacheMatchesAnF32Cache) {
    const int n_head = 9, n_kv = 3, hd = 64, pos0 = 0, n = 5, total = pos0 + n;
    std::vector<float> q = random_values(n * n_head * hd, 31), k = random_values(total * n_kv * hd, 32),
                       v = random_values(total * n_kv * hd, 33), out32(n * n_head * hd), out16(n * n_head * hd);
    std::vector<uint16_t> k16(k.size()), v16(v.size());
    Tensor k16t{k16.data(), GgmlType::F16, n_kv * hd, total, static_cast<size_t>(n_kv * hd) * 2};
    Tensor v16t{v16.data(), GgmlType::F16, n_kv * hd, total, static_cast<size_t>(n_kv * hd) * 2};
    EXPECT_EQ(backend->kv_type(), GgmlType::F16);
    backend->copy_to_cache(host_tensor(k, n_kv * hd), k16t, 0);
    backend->copy_to_cache(host_tensor(v, n_kv * hd), v16t, 0);
    model::AttentionParams p;
    p.n_head = n_head;
    p.n_head_kv = n_kv;
    p.head_dim = hd;
    p.pos0 = pos0;
    p.scale = 0.2f;
    backend->attention(host_tensor(q, n_head * hd), host_tensor(k, n_kv * hd), host_tensor(v, n_kv * hd), p,
                       host_tensor(out32, n_head * hd));
    backend->attention(host_tensor(q, n_head * hd), k16t, v16t, p, host_tensor(out16, n_head * hd));
    for (size_t j = 0; j < out32.size(); ++j) ASSERT_NEAR(out16[j], out32[j], 5e-3) << j;
}

// ggml's e^x: within 2.5 ulp of the exact value (its stated 1.45 ulp plus the
// final rounding) over the range softmax and SiLU use, 0 and infinity beyond,
// and the AVX2 form gives the scalar one's bits.
TEST(GgmlMath, ExpMatchesLibmAndItsScalarForm) {
    std::vector<float> x;
    for (float v = -110.0f; v < 95.0f; v += 0.0137f) x.push_back(v);
    x.insert(x.end(), {-INFINITY, INFINITY, 0.0f, -0.0f, -87.5f, -103.0f, -104.5f, 88.5f, 89.0f, 1e30f, -1e30f});
    std::vector<float> fast(x.size()), scalar(x.size());
    cpu::exp_ggml(x.data(), fast.data(), static_cast<int64_t>(x.size()));
    cpu::exp_ggml_rows_scalar(x.data(), scalar.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
        ASSERT_EQ(std::bit_cast<uint32_t>(fast[i]), std::bit_cast<uint32_t>(scalar[i])) << x[i];
        ASSERT_EQ(cpu::exp_ggml(x[i]), scalar[i]) << x[i];
        const double exact = std::exp(static_cast<double>(x[i]));
        if (x[i] > -87.0f && x[i] < 88.0f) {
            ASSERT_NEAR(scalar[i], exact, 2.5 * std::ldexp(1.0, std::ilogb(exact) - 23)) << x[i];
        }
    }
    EXPECT_EQ(cpu::exp_ggml(-INFINITY), 0.0f);
    EXPECT_EQ(cpu::exp_ggml(INFINITY), INFINITY);
    EXPECT_EQ(cpu::exp_ggml(-1e30f), 0.0f);
    EXPECT_TRUE(std::isnan(cpu::exp_ggml(NAN)));
}

TEST(GgmlMath, SwigluMatchesItsDefinitionAndScalarForm) {
    for (const int64_t n : {64, 1536, 37}) {
        std::vector<float> g = random_values(static_cast<size_t>(n), 41, 4.0f), u = random_values(static_cast<size_t>(n), 42);
        g[0] = -100.0f;
        g[1] = 100.0f;
        std::vector<float> fast(g.size()), scalar(g.size());
        cpu::swiglu_ggml(g.data(), u.data(), fast.data(), n);
        cpu::swiglu_ggml_scalar(g.data(), u.data(), scalar.data(), n);
        for (int64_t j = 0; j < n; ++j) {
            ASSERT_EQ(std::bit_cast<uint32_t>(fast[j]), std::bit_cast<uint32_t>(scalar[j])) << j;
            const double silu = g[j] / (1.0 + std::exp(-static_cast<double>(g[j])));
            ASSERT_NEAR(fast[j], silu * u[j], 1e-6 * (std::fabs(silu * u[j]) + 1e-3)) << j;
        }
    }
}

// The AVX-512 forms of the float helpers give the scalar forms' bits, whatever
// WORKER_CPU_ISA caps the dispatch to: e^x over softmax's and SiLU's range and
// beyond (subnormal results, 0 and infinity, NaN), SwiGLU with tails, the
// attention sums at head sizes 64 (SmolLM2), 256 (gemma-3), 80 (n % 64 != 0)
// and 40 (n % 16 != 0), the half conversions and axpy with tails.
TEST(GgmlMath, Avx512FormsGiveTheScalarBits) {
    cpu::VecKernels k{};
    if (!cpu::vec_avx512_kernels(k)) GTEST_SKIP() << "no AVX-512 on this CPU (or OS): nothing to compare";
    {
        std::vector<float> x;
        for (float v = -110.0f; v < 95.0f; v += 0.0071f) x.push_back(v);
        x.insert(x.end(), {-INFINITY, INFINITY, 0.0f, -0.0f, -87.5f, -103.0f, -104.5f, 88.5f, 89.0f, 1e30f, -1e30f,
                           NAN, -126.0f * 0.6931472f, -149.0f * 0.6931472f});
        std::vector<float> fast(x.size()), scalar(x.size());
        k.exp_rows(x.data(), fast.data(), static_cast<int64_t>(x.size()));
        cpu::exp_ggml_rows_scalar(x.data(), scalar.data(), static_cast<int64_t>(x.size()));
        for (size_t i = 0; i < x.size(); ++i) {
            if (std::isnan(x[i])) {
                ASSERT_TRUE(std::isnan(fast[i]));
                continue;
            }
            ASSERT_EQ(std::bit_cast<uint32_t>(fast[i]), std::bit_cast<uint32_t>(scalar[i])) << x[i];
        }
    }
    for (const int64_t n : {64, 1536, 2048, 37, 8}) {
        std::vector<float> g = random_values(static_cast<size_t>(n), 43, 6.0f), u = random_values(static_cast<size_t>(n), 44);
        g[0] = -100.0f;
        g[1] = 100.0f;
        std::vector<float> fast(g.size()), scalar(g.size());
        k.swiglu(g.data(), u.data(), fast.data(), n);
        cpu::swiglu_ggml_scalar(g.data(), u.data(), scalar.data(), n);
        for (int64_t j = 0; j < n; ++j) ASSERT_EQ(std::bit_cast<uint32_t>(fast[j]), std::bit_cast<uint32_t>(scalar[j])) << n << " " << j;
    }
    for (const int64_t hd : {64, 256, 80, 40}) {
        const int64_t count = 77, first = 13, stride = hd + 16;
        const std::vector<float> q = random_values(static_cast<size_t>(hd), 54);
        const std::vector<float> rows_f = random_values(static_cast<size_t>(count * stride), 55);
        std::vector<uint16_t> rows(rows_f.size());
        cpu::to_f16(rows_f.data(), rows.data(), static_cast<int64_t>(rows.size()));
        const std::vector<float> w = random_values(static_cast<size_t>(count), 56);
        for (const bool lanes16 : {true, false}) {
            if (lanes16 && hd % 16 != 0) continue;
            std::vector<float> s_fast(count), s_scalar(count);
            k.dot_f16_rows(q.data(), rows.data(), stride, count, hd, lanes16, s_fast.data());
            cpu::dot_f16_rows_ggml_scalar(q.data(), rows.data(), stride, count, hd, lanes16, s_scalar.data());
            for (int64_t i = 0; i < count; ++i) {
                ASSERT_EQ(std::bit_cast<uint32_t>(s_fast[i]), std::bit_cast<uint32_t>(s_scalar[i])) << hd << " " << lanes16 << " " << i;
            }
            std::vector<float> acc(static_cast<size_t>(64 * hd)), o_fast(hd), o_scalar(hd);
            k.wsum_f16_rows(w.data(), rows.data(), stride, first, count, hd, lanes16, acc.data(), o_fast.data());
            cpu::wsum_f16_rows_ggml_scalar(w.data(), rows.data(), stride, first, count, hd, lanes16, acc.data(),
                                           o_scalar.data());
            for (int64_t d = 0; d < hd; ++d) {
                ASSERT_EQ(std::bit_cast<uint32_t>(o_fast[d]), std::bit_cast<uint32_t>(o_scalar[d])) << hd << " " << lanes16 << " " << d;
            }
        }
    }
    {
        const int64_t n = 16 * 9 + 11;
        std::vector<float> x = random_values(static_cast<size_t>(n), 57, 1000.0f);
        x[3] = 1e-7f;
        x[4] = 70000.0f;  // beyond half's range
        std::vector<uint16_t> h(n);
        k.to_f16(x.data(), h.data(), n);
        std::vector<float> r = x;
        k.round_to_f16(r.data(), n);
        for (int64_t i = 0; i < n; ++i) {
            ASSERT_EQ(h[i], quant::f32_to_fp16(x[i])) << i;
            ASSERT_EQ(std::bit_cast<uint32_t>(r[i]), std::bit_cast<uint32_t>(quant::fp16_to_f32(quant::f32_to_fp16(x[i])))) << i;
        }
    }
}

TEST(CpuFeatures, TheIsaLevelIsNamedAndWithinWhatTheCpuHas) {
    const cpu::CpuIsa isa = cpu::cpu_isa();
    if (isa == cpu::CpuIsa::avx512) {
        EXPECT_TRUE(cpu::cpu_supports_avx512());
        EXPECT_STREQ(cpu::dot_kernel_isa(), "avx512");
    }
    if (isa == cpu::CpuIsa::scalar) {
        EXPECT_STREQ(cpu::dot_kernel_isa(), "scalar");
    }
    std::cout << "[ info     ] CPU kernel level: " << cpu::cpu_isa_name(isa) << " (dot kernels: " << cpu::dot_kernel_isa()
              << ", AVX-512 on this CPU: " << (cpu::cpu_supports_avx512() ? "yes" : "no") << ")\n";
}

TEST(GgmlMath, Reduce16IsTheTreeOfAVX512ReduceAdd) {
    float v[16];
    for (int l = 0; l < 16; ++l) v[l] = 1.0f + static_cast<float>(l) * 0x1p-20f;
    v[3] = 0x1p25f;
    v[11] = -0x1p25f;
    // (v3 + v11) cancels first: lanes l and l + 8 are added before anything else.
    float a[8];
    for (int l = 0; l < 8; ++l) a[l] = v[l + 8] + v[l];
    for (int l = 0; l < 4; ++l) a[l] = a[l + 4] + a[l];
    EXPECT_EQ(cpu::reduce16(v), (a[0] + a[2]) + (a[1] + a[3]));
}

// The attention dot products and weighted sums in llama.cpp's lanes: the
// AVX2 forms give the scalar ones' bits, and both are close to the exact sums.
TEST(GgmlMath, HalfCacheAttentionKernelsMatchTheirScalarForms) {
    for (const int64_t hd : {64, 256, 48}) {
        const int64_t count = 37, first = 5, stride = hd + 16;
        std::vector<float> q = random_values(static_cast<size_t>(hd), 51);
        const std::vector<float> rows_f = random_values(static_cast<size_t>(count * stride), 52);
        std::vector<uint16_t> rows(rows_f.size());
        cpu::to_f16(rows_f.data(), rows.data(), static_cast<int64_t>(rows.size()));
        std::vector<float> w = random_values(static_cast<size_t>(count), 53);
        for (const bool lanes16 : {true, false}) {
            if (lanes16 && hd % 16 != 0) continue;
            std::vector<float> s_fast(count), s_scalar(count);
            cpu::dot_f16_rows_ggml(q.data(), rows.data(), stride, count, hd, lanes16, s_fast.data());
            cpu::dot_f16_rows_ggml_scalar(q.data(), rows.data(), stride, count, hd, lanes16, s_scalar.data());
            for (int64_t k = 0; k < count; ++k) {
                ASSERT_EQ(s_fast[k], s_scalar[k]) << hd << " " << lanes16 << " " << k;
                double exact = 0.0;
                for (int64_t d = 0; d < hd; ++d) exact += q[d] * static_cast<double>(quant::fp16_to_f32(rows[k * stride + d]));
                ASSERT_NEAR(s_fast[k], exact, 1e-4 * hd);
            }
            std::vector<float> acc(static_cast<size_t>(64 * hd)), o_fast(hd), o_scalar(hd);
            cpu::wsum_f16_rows_ggml(w.data(), rows.data(), stride, first, count, hd, lanes16, acc.data(), o_fast.data());
            cpu::wsum_f16_rows_ggml_scalar(w.data(), rows.data(), stride, first, count, hd, lanes16, acc.data(),
                                           o_scalar.data());
            for (int64_t d = 0; d < hd; ++d) {
                ASSERT_EQ(o_fast[d], o_scalar[d]) << hd << " " << lanes16 << " " << d;
                double exact = 0.0;
                for (int64_t k = 0; k < count; ++k) exact += w[k] * static_cast<double>(quant::fp16_to_f32(rows[k * stride + d]));
                ASSERT_NEAR(o_fast[d], exact, 1e-4 * count);
            }
        }
    }
}

TEST_F(CpuOps, AddBroadcastsASingleRowAndCopiesIntoCache) {
    std::vector<float> a = random_values(3 * 8, 16), b = random_values(8, 17), out(3 * 8);
    backend->add(host_tensor(a, 8), host_tensor(b, 8), host_tensor(out, 8));
    for (int i = 0; i < 3; ++i) {
        for (int j = 0; j < 8; ++j) EXPECT_FLOAT_EQ(out[i * 8 + j], a[i * 8 + j] + b[j]);
    }
    std::vector<float> cache(10 * 8, 0.0f);
    backend->copy_to_cache(host_tensor(a, 8), host_tensor(cache, 8), 6);
    for (int j = 0; j < 3 * 8; ++j) EXPECT_EQ(cache[6 * 8 + j], a[j]);
    EXPECT_THROW(backend->copy_to_cache(host_tensor(a, 8), host_tensor(cache, 8), 8), Error);
}

}  // namespace
}  // namespace worker
