#include "cpu/vec.h"

#include "quant/blocks.h"

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

float dot_f16_scalar(const float* a, const uint16_t* b, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; ++i) s += a[i] * quant::fp16_to_f32(b[i]);
    return s;
}

void axpy_f16_scalar(float s, const uint16_t* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += s * quant::fp16_to_f32(x[i]);
}

void to_f16_scalar(const float* src, uint16_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = quant::f32_to_fp16(src[i]);
}

void dot_f16_rows_scalar(const float* q, const uint16_t* rows, int64_t stride, int64_t count, int64_t n,
                         float* scores) {
    for (int64_t k = 0; k < count; ++k) scores[k] = dot_f16_scalar(q, rows + k * stride, n);
}

void axpy_f16_rows_scalar(const float* w, const uint16_t* rows, int64_t stride, int64_t count, int64_t n, float* o) {
    for (int64_t k = 0; k < count; ++k) axpy_f16_scalar(w[k], rows + k * stride, o, n);
}

void round_to_f16_scalar(float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] = quant::fp16_to_f32(quant::f32_to_fp16(x[i]));
}

#if defined(__x86_64__)
#define WORKER_AVX2 __attribute__((target("avx2,fma,f16c")))

WORKER_AVX2 inline __m256 load_f16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

WORKER_AVX2 float dot_f16_avx2(const float* a, const uint16_t* b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load_f16(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), load_f16(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load_f16(b + i), acc0);
    const __m256 acc = _mm256_add_ps(acc0, acc1);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    float total = _mm_cvtss_f32(s);
    for (; i < n; ++i) total += a[i] * _cvtsh_ss(b[i]);
    return total;
}

WORKER_AVX2 void axpy_f16_avx2(float s, const uint16_t* x, float* y, int64_t n) {
    const __m256 vs = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(vs, load_f16(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i) y[i] += s * _cvtsh_ss(x[i]);
}

WORKER_AVX2 void dot_f16_rows_avx2(const float* q, const uint16_t* rows, int64_t stride, int64_t count, int64_t n,
                                   float* scores) {
    for (int64_t k = 0; k < count; ++k) scores[k] = dot_f16_avx2(q, rows + k * stride, n);
}

WORKER_AVX2 void axpy_f16_rows_avx2(const float* w, const uint16_t* rows, int64_t stride, int64_t count, int64_t n,
                                    float* o) {
    for (int64_t k = 0; k < count; ++k) axpy_f16_avx2(w[k], rows + k * stride, o, n);
}

WORKER_AVX2 void round_to_f16_avx2(float* x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; ++i) x[i] = quant::fp16_to_f32(quant::f32_to_fp16(x[i]));
}

WORKER_AVX2 void to_f16_avx2(const float* src, uint16_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    for (; i < n; ++i) dst[i] = quant::f32_to_fp16(src[i]);
}

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

bool have_avx2() {
    __builtin_cpu_init();  // may run from a static initializer, before the runtime has done it
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}
#endif

using DotFn = float (*)(const float*, const float*, int64_t);
using AxpyFn = void (*)(float, const float*, float*, int64_t);

using DotF16Fn = float (*)(const float*, const uint16_t*, int64_t);
using AxpyF16Fn = void (*)(float, const uint16_t*, float*, int64_t);
using ToF16Fn = void (*)(const float*, uint16_t*, int64_t);
using RoundFn = void (*)(float*, int64_t);
using DotRowsFn = void (*)(const float*, const uint16_t*, int64_t, int64_t, int64_t, float*);
using AxpyRowsFn = void (*)(const float*, const uint16_t*, int64_t, int64_t, int64_t, float*);

#if defined(__x86_64__)
const bool avx2 = have_avx2();
const DotFn dot_impl = avx2 ? dot_avx2 : dot_scalar;
const AxpyFn axpy_impl = avx2 ? axpy_avx2 : axpy_scalar;
const DotF16Fn dot_f16_impl = avx2 ? dot_f16_avx2 : dot_f16_scalar;
const AxpyF16Fn axpy_f16_impl = avx2 ? axpy_f16_avx2 : axpy_f16_scalar;
const ToF16Fn to_f16_impl = avx2 ? to_f16_avx2 : to_f16_scalar;
const RoundFn round_impl = avx2 ? round_to_f16_avx2 : round_to_f16_scalar;
const DotRowsFn dot_rows_impl = avx2 ? dot_f16_rows_avx2 : dot_f16_rows_scalar;
const AxpyRowsFn axpy_rows_impl = avx2 ? axpy_f16_rows_avx2 : axpy_f16_rows_scalar;
#else
const DotFn dot_impl = dot_scalar;
const AxpyFn axpy_impl = axpy_scalar;
const DotF16Fn dot_f16_impl = dot_f16_scalar;
const AxpyF16Fn axpy_f16_impl = axpy_f16_scalar;
const ToF16Fn to_f16_impl = to_f16_scalar;
const RoundFn round_impl = round_to_f16_scalar;
const DotRowsFn dot_rows_impl = dot_f16_rows_scalar;
const AxpyRowsFn axpy_rows_impl = axpy_f16_rows_scalar;
#endif

}  // namespace

float dot_f32(const float* a, const float* b, int64_t n) { return dot_impl(a, b, n); }
void axpy_f32(float s, const float* x, float* y, int64_t n) { axpy_impl(s, x, y, n); }
float dot_f16(const float* a, const uint16_t* b, int64_t n) { return dot_f16_impl(a, b, n); }
void axpy_f16(float s, const uint16_t* x, float* y, int64_t n) { axpy_f16_impl(s, x, y, n); }
void to_f16(const float* src, uint16_t* dst, int64_t n) { to_f16_impl(src, dst, n); }
void round_to_f16(float* x, int64_t n) { round_impl(x, n); }
void dot_f16_rows(const float* q, const uint16_t* rows, int64_t stride, int64_t count, int64_t n, float* scores) {
    dot_rows_impl(q, rows, stride, count, n, scores);
}
void axpy_f16_rows(const float* w, const uint16_t* rows, int64_t stride, int64_t count, int64_t n, float* o) {
    axpy_rows_impl(w, rows, stride, count, n, o);
}

}  // namespace worker::cpu
