// The CUDA matrix-vector kernels' inner loop (cuda/quant_units.h), run on the
// CPU: for every block format, each 32-element unit's integer dot product
// with 8-bit activations must equal the dot product of the shared
// dequantizer's values (src/quant/dequant.h) with the dequantized
// activations, to float rounding. This checks the nibble, high-bit, scale and
// bias manipulation of every format without a GPU; the kernels around it
// (indexing, reductions) are covered by the GPU suite.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "cpu/quant_dot.h"
#include "quant/dequant.h"
#include "quant/ggml_type.h"
#include "support/gguf_writer.h"
#include "quant_units.h"

namespace worker {
namespace {

std::vector<float> random_values(size_t n, uint64_t seed, float stddev) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> dist(0.0f, stddev);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

float unit_dot(GgmlType type, const uint8_t* row, int64_t u, const cuda::BlockQ8Act& a) {
    switch (type) {
        case GgmlType::Q4_0: return cuda::unit_dot<GgmlType::Q4_0>(row, u, a);
        case GgmlType::Q4_1: return cuda::unit_dot<GgmlType::Q4_1>(row, u, a);
        case GgmlType::Q5_0: return cuda::unit_dot<GgmlType::Q5_0>(row, u, a);
        case GgmlType::Q8_0: return cuda::unit_dot<GgmlType::Q8_0>(row, u, a);
        case GgmlType::Q4_K: return cuda::unit_dot<GgmlType::Q4_K>(row, u, a);
        case GgmlType::Q6_K: return cuda::unit_dot<GgmlType::Q6_K>(row, u, a);
        default: return NAN;
    }
}

class CudaQuantUnits : public ::testing::TestWithParam<GgmlType> {};

TEST_P(CudaQuantUnits, EveryUnitMatchesTheDequantizedDotProduct) {
    const GgmlType type = GetParam();
    const int64_t n = 2048;  // 8 super-blocks, 64 units
    for (uint64_t seed = 1; seed <= 4; ++seed) {
        // Offsets so that the formats with a minimum (Q4_1, Q4_K) get one.
        std::vector<float> w = random_values(n, seed, 0.7f);
        for (int64_t i = 0; i < n; ++i) w[i] += (seed % 2 == 0) ? 0.3f : 0.0f;
        const std::vector<uint8_t> blocks = test::quantize(type, w);
        std::vector<float> wd(n);
        dequantize_row(type, blocks.data(), wd.data(), n);

        const std::vector<float> x = random_values(n, seed * 7919, 1.5f);
        std::vector<cuda::BlockQ8Act> xq(n / 32);
        cuda::quantize_act_row(cuda::act_quant_for(type), x.data(), n, xq.data());
        // The reference below uses the activations d * q exactly, so s must be
        // exactly d * sum(q) here (Q8_1 rounds it to half by design).
        for (cuda::BlockQ8Act& b : xq) {
            int sum = 0;
            for (const int8_t q : b.qs) sum += q;
            b.s = b.d * static_cast<float>(sum);
        }

        for (int64_t u = 0; u < n / 32; ++u) {
            double want = 0.0, magnitude = 0.0;
            for (int i = 0; i < 32; ++i) {
                const double xv = static_cast<double>(xq[u].d) * xq[u].qs[i];
                want += static_cast<double>(wd[32 * u + i]) * xv;
                magnitude += std::fabs(static_cast<double>(wd[32 * u + i]) * xv);
            }
            const float got = unit_dot(type, blocks.data(), u, xq[u]);
            ASSERT_NEAR(got, want, 1e-5 * magnitude + 1e-6)
                << type_traits(type).name << " seed " << seed << " unit " << u;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Types, CudaQuantUnits,
                         ::testing::Values(GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q8_0,
                                           GgmlType::Q4_K, GgmlType::Q6_K),
                         [](const auto& param_info) { return std::string(type_traits(param_info.param).name); });

// The activation quantizer: values within half a step (of the scale before
// it is rounded to half), s = d * sum(q) where it is not rounded.
TEST(CudaQuantUnits, ActivationBlocksRoundToTheNearestStep) {
    const std::vector<float> x = random_values(256, 5, 2.0f);
    for (const cuda::ActQuant mode : {cuda::ActQuant::Q8_0, cuda::ActQuant::Q8_1, cuda::ActQuant::Q8_K}) {
        std::vector<cuda::BlockQ8Act> a(8);
        cuda::quantize_act_row(mode, x.data(), 256, a.data());
        for (int b = 0; b < 8; ++b) {
            int sum = 0;
            for (int i = 0; i < 32; ++i) {
                EXPECT_LE(std::fabs(a[b].d * a[b].qs[i] - x[32 * b + i]), std::fabs(a[b].d) * 0.51f + 1e-3f) << i;
                sum += a[b].qs[i];
            }
            if (mode == cuda::ActQuant::Q8_K) {
                EXPECT_FLOAT_EQ(a[b].s, a[b].d * static_cast<float>(sum));
            }
        }
    }
    const std::vector<float> zeros(256, 0.0f);
    std::vector<cuda::BlockQ8Act> a(8);
    cuda::quantize_act_row(cuda::ActQuant::Q8_K, zeros.data(), 256, a.data());
    EXPECT_EQ(a[0].d, 0.0f);
    EXPECT_EQ(a[0].s, 0.0f);
}

// The GPU quantizes activations to the same blocks as the CPU backend, for
// every weight type, so the two devices' integer dot products see the same
// activations.
TEST(CudaQuantUnits, ActivationBlocksEqualTheCpuBackends) {
    const int64_t n = 4096;
    for (const GgmlType type : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q8_0, GgmlType::Q4_K,
                                GgmlType::Q6_K}) {
        for (uint64_t seed = 1; seed <= 3; ++seed) {
            std::vector<float> x = random_values(n, seed, 3.0f);
            x[5] = 0.0f;
            for (int i = 64; i < 96; ++i) x[i] = 0.0f;      // an all-zero 32-block
            for (int i = 512; i < 768; ++i) x[i] = 0.0f;    // an all-zero 256-block
            x[1000] = 9.0f;                                 // ties for the largest magnitude,
            x[1001] = -9.0f;                                //   the first one wins
            std::vector<cpu::BlockQ8> want(n / 32);
            cpu::quantize_activations(type, x.data(), want.data(), n);
            std::vector<cuda::BlockQ8Act> got(n / 32);
            cuda::quantize_act_row(cuda::act_quant_for(type), x.data(), n, got.data());
            for (int64_t b = 0; b < n / 32; ++b) {
                ASSERT_EQ(got[b].d, want[b].d) << type_traits(type).name << " block " << b;
                ASSERT_EQ(got[b].s, want[b].dsum) << type_traits(type).name << " block " << b;
                for (int i = 0; i < 32; ++i) {
                    ASSERT_EQ(got[b].qs[i], want[b].qs[i]) << type_traits(type).name << " block " << b << " " << i;
                }
            }
        }
    }
}

}  // namespace
}  // namespace worker
