#include "cpu/vec.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace worker::cpu {

namespace {

float dot_scalar(const float* a, const float* b, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

void axpy_scalar(float s, const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += s * x[i];
}

#if defined(__x86_64__)
#define WORKER_AVX2 __attribute__((target("avx2,fma")))

WORKER_AVX2 float dot_avx2(const float* a, const float* b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    const __m256 acc = _mm256_add_ps(acc0, acc1);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    float total = _mm_cvtss_f32(s);
    for (; i < n; ++i) total += a[i] * b[i];
    return total;
}

WORKER_AVX2 void axpy_avx2(float s, const float* x, float* y, int64_t n) {
    const __m256 vs = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(vs, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i) y[i] += s * x[i];
}

bool have_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#endif

using DotFn = float (*)(const float*, const float*, int64_t);
using AxpyFn = void (*)(float, const float*, float*, int64_t);

#if defined(__x86_64__)
const DotFn dot_impl = have_avx2() ? dot_avx2 : dot_scalar;
const AxpyFn axpy_impl = have_avx2() ? axpy_avx2 : axpy_scalar;
#else
const DotFn dot_impl = dot_scalar;
const AxpyFn axpy_impl = axpy_scalar;
#endif

}  // namespace

float dot_f32(const float* a, const float* b, int64_t n) { return dot_impl(a, b, n); }
void axpy_f32(float s, const float* x, float* y, int64_t n) { axpy_impl(s, x, y, n); }

}  // namespace worker::cpu
