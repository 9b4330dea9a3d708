// CPU backend ops against straightforward scalar references written here:
// quantized dot products against the shared dequantizer (src/quant/dequant.h,
// itself checked against the gguf package), norms, RoPE, attention, GLUs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "cpu/cpu_backend.h"
#include "cpu/quant_dot.h"
#include "quant/blocks.h"
#include "quant/dequant.h"
#include "support/gguf_writer.h"

namespace worker {
namespace {

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
// terms; the SIMD and scalar kernels compute the same integer sums.
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
        cpu::quantize_q8(x.data(), xq.data(), n);
        double expected = 0.0, magnitude = 0.0;
        for (int64_t i = 0; i < n; ++i) {
            expected += static_cast<double>(wd[i]) * x[i];
            magnitude += std::fabs(static_cast<double>(wd[i]) * x[i]);
        }
        const float fast = cpu::dot_kernel(type)(blocks.data(), xq.data(), n / 32);
        const float scalar = cpu::dot_kernel_scalar(type)(blocks.data(), xq.data(), n / 32);
        EXPECT_NEAR(fast, expected, 0.01 * magnitude) << type_traits(type).name << " seed " << seed;
        EXPECT_NEAR(fast, scalar, 1e-4 * magnitude) << type_traits(type).name << " (" << cpu::dot_kernel_isa() << ")";
        if (const cpu::DotFn avx2 = cpu::dot_kernel_avx2(type)) {
            // AVX-VNNI sums the same 32-bit lanes as AVX2: identical results.
            EXPECT_EQ(fast, avx2(blocks.data(), xq.data(), n / 32)) << type_traits(type).name;
        }
    }
}

// The four-token kernel a prefill uses gives each token what the one-token kernel gives it.
TEST_P(DotKernel, FourTokenKernelMatchesOneTokenKernel) {
    const GgmlType type = GetParam();
    const cpu::Dot4Fn dot4 = cpu::dot4_kernel(type);
    if (dot4 == nullptr) GTEST_SKIP() << "no four-token kernel on this CPU (" << cpu::dot_kernel_isa() << ")";
    const int64_t n = 512, nb = n / 32;
    const std::vector<uint8_t> blocks = test::quantize(type, random_values(n, 21, 0.5f));
    const std::vector<float> x = random_values(4 * n, 22);
    std::vector<cpu::BlockQ8> xq(4 * nb);
    cpu::quantize_q8(x.data(), xq.data(), 4 * n);
    float four[4];
    dot4(blocks.data(), xq.data(), nb, nb, four);
    for (int t = 0; t < 4; ++t) {
        EXPECT_FLOAT_EQ(four[t], cpu::dot_kernel(type)(blocks.data(), xq.data() + t * nb, nb)) << "token " << t;
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
