// Times the CPU backend's hot kernels at the instruction-set level this
// process runs (WORKER_CPU_ISA=scalar|avx2|avx512 caps it), so the levels
// can be compared back to back on one machine:
//   for isa in avx512 avx2; do WORKER_CPU_ISA=$isa build/tests/tools/worker-cpu-kernel-bench; done
// Quantized dots: a 1024 x 1536 weight matrix (SmolLM2's FFN width) against
// one token (dot1) and a group of four (dot4), best of 15 passes, one thread.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "cpu/quant_dot.h"
#include "cpu/vec.h"
#include "support/gguf_writer.h"

namespace {

using Clock = std::chrono::steady_clock;

double micros(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::micro>(b - a).count(); }

}  // namespace

int main() {
    using namespace worker;
    const GgmlType types[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                              GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K};
    const int64_t n = 1536, rows = 1024, nb = n / 32;
    std::mt19937 rng(1);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> w(static_cast<size_t>(n * rows)), x(static_cast<size_t>(4 * n));
    for (float& v : w) v = dist(rng);
    for (float& v : x) v = dist(rng);
    std::printf("kernels: %s\n", cpu::dot_kernel_isa());
    volatile float sink = 0.0f;
    for (const GgmlType t : types) {
        const std::vector<uint8_t> q = test::quantize(t, w);
        const size_t rb = q.size() / static_cast<size_t>(rows);
        std::vector<cpu::BlockQ8> xq(static_cast<size_t>(4 * nb));
        for (int k = 0; k < 4; ++k) cpu::quantize_activations(t, x.data() + k * n, xq.data() + k * nb, n);
        const cpu::BatchKernels bk = cpu::batch_kernels(t, 4);
        double best1 = 1e30, best4 = 1e30;
        for (int rep = 0; rep < 15; ++rep) {
            float out[4], s = 0.0f;
            const auto t0 = Clock::now();
            for (int64_t r = 0; r < rows; ++r) s += bk.dot1(q.data() + r * rb, xq.data(), nb);
            const auto t1 = Clock::now();
            for (int64_t r = 0; r < rows; ++r) {
                bk.dot4(q.data() + r * rb, xq.data(), nb, nb, out);
                s += out[0];
            }
            const auto t2 = Clock::now();
            sink = sink + s;
            best1 = std::min(best1, micros(t0, t1));
            best4 = std::min(best4, micros(t1, t2));
        }
        std::printf("%-5s %4lld x %lld  dot1 %7.1f us  dot4 %7.1f us\n", type_traits(t).name,
                    static_cast<long long>(rows), static_cast<long long>(n), best1, best4);
    }
    {
        std::vector<cpu::BlockQ8> xq(static_cast<size_t>(4 * nb));
        double best = 1e30;
        for (int rep = 0; rep < 50; ++rep) {
            const auto t0 = Clock::now();
            for (int k = 0; k < 64; ++k) cpu::quantize_q8(x.data(), xq.data(), 4 * n);
            best = std::min(best, micros(t0, Clock::now()));
        }
        std::printf("quantize_q8 64 x %lld floats %7.1f us\n", static_cast<long long>(4 * n), best);
    }
    const int64_t hd = 64, count = 512;
    std::vector<float> kf(static_cast<size_t>(hd * count));
    for (float& v : kf) v = dist(rng);
    std::vector<uint16_t> kv(kf.size());
    cpu::to_f16(kf.data(), kv.data(), static_cast<int64_t>(kv.size()));
    std::vector<float> scores(static_cast<size_t>(count)), acc(static_cast<size_t>(64 * hd)), o(static_cast<size_t>(hd));
    std::vector<float> g(8192), u(8192), y(8192);
    for (float& v : g) v = dist(rng);
    for (float& v : u) v = dist(rng);
    double bd = 1e30, bw = 1e30, bs = 1e30, be = 1e30;
    for (int rep = 0; rep < 50; ++rep) {
        const auto t0 = Clock::now();
        cpu::dot_f16_rows_ggml(x.data(), kv.data(), hd, count, hd, false, scores.data());
        const auto t1 = Clock::now();
        cpu::wsum_f16_rows_ggml(scores.data(), kv.data(), hd, 0, count, hd, false, acc.data(), o.data());
        const auto t2 = Clock::now();
        cpu::swiglu_ggml(g.data(), u.data(), y.data(), 8192);
        const auto t3 = Clock::now();
        cpu::exp_ggml(g.data(), y.data(), 8192);
        const auto t4 = Clock::now();
        bd = std::min(bd, micros(t0, t1));
        bw = std::min(bw, micros(t1, t2));
        bs = std::min(bs, micros(t2, t3));
        be = std::min(be, micros(t3, t4));
    }
    std::printf("K.q 512 rows x 64 %.2f us, P.V 512 rows x 64 %.2f us, swiglu 8192 %.2f us, exp 8192 %.2f us\n", bd,
                bw, bs, be);
    return sink == 12345.0f ? 1 : 0;
}
