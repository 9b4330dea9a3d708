#include "cpu/vec.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "cpu/cpu_features.h"
#include "quant/blocks.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "cpu/avx512_gcc12_warnings.h"

namespace worker::cpu {

namespace {

// ---- llama.cpp's rounding: scalar forms ----------------------------------------

// ggml_v_expf's constants: 2^n * p(b) with n = round(x / ln 2), b = x - n ln 2.
constexpr float kExpShift = 0x1.8p23f;
constexpr float kLog2e = 0x1.715476p+0f;
constexpr float kLn2Hi = 0x1.62e4p-1f;
constexpr float kLn2Lo = 0x1.7f7d1cp-20f;
constexpr float kC1 = 0x1.ffffecp-1f, kC2 = 0x1.fffdb6p-2f, kC3 = 0x1.555e66p-3f, kC4 = 0x1.573e2ep-5f,
                kC5 = 0x1.0e4020p-7f;

inline float pow2i(int e) { return std::bit_cast<float>(static_cast<uint32_t>(e + 127) << 23); }

// j * 2^e for an integral e in [-192, 192] with a single rounding, as AVX-512's
// vscalefps: outside the normal exponents the product goes through an exact
// intermediate.
inline float scale_pow2(float j, int e) {
    if (e < -126) return j * pow2i(e + 100) * pow2i(-100);
    if (e > 127) return j * pow2i(127) * pow2i(e - 127);
    return j * pow2i(e);
}

}  // namespace

static float exp_ggml_scalar(float x) {
    const float n = std::fma(x, kLog2e, kExpShift) - kExpShift;
    if (std::isnan(n)) return n;
    if (std::fabs(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
    const float b = std::fma(-n, kLn2Lo, std::fma(-n, kLn2Hi, x));
    const float u = b * b;
    const float j = std::fma(std::fma(std::fma(kC5, b, kC4), u, std::fma(kC3, b, kC2)), u, std::fma(kC1, b, 1.0f));
    return scale_pow2(j, static_cast<int>(n));
}

void exp_ggml_rows_scalar(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = exp_ggml_scalar(x[i]);
}

void swiglu_ggml_scalar(const float* g, const float* u, float* y, int64_t n) {
    const int64_t n16 = n - n % 16;
    for (int64_t i = 0; i < n16; ++i) y[i] = g[i] / (1.0f + exp_ggml_scalar(0.0f - g[i])) * u[i];
    for (int64_t i = n16; i < n; ++i) y[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

static float reduce16_scalar(const float* v) {
    float a[8];
    for (int l = 0; l < 8; ++l) a[l] = v[l + 8] + v[l];
    for (int l = 0; l < 4; ++l) a[l] = a[l + 4] + a[l];
    return (a[0] + a[2]) + (a[1] + a[3]);
}

void dot_f16_rows_ggml_scalar(const float* q, const uint16_t* rows, int64_t stride, int64_t count, int64_t n,
                              bool lanes16, float* scores) {
    // llama.cpp's 16-lane matrix kernel takes only rows of whole 16-lane
    // groups; other head sizes go through its vector kernel, batch or not.
    lanes16 = lanes16 && n % 16 == 0;
    for (int64_t k = 0; k < count; ++k) {
        const uint16_t* r = rows + k * stride;
        if (lanes16) {
            float acc[16] = {};
            for (int64_t d = 0; d < n; d += 16) {
                for (int l = 0; l < 16; ++l) acc[l] = std::fma(quant::fp16_to_f32(r[d + l]), q[d + l], acc[l]);
            }
            scores[k] = reduce16_scalar(acc);
            continue;
        }
        float acc[4][16] = {};
        const int64_t np = n - n % 64;
        for (int64_t d = 0; d < np; d += 64) {
            for (int j = 0; j < 4; ++j) {
                for (int l = 0; l < 16; ++l) {
                    acc[j][l] = std::fma(quant::fp16_to_f32(r[d + 16 * j + l]), q[d + 16 * j + l], acc[j][l]);
                }
            }
        }
        for (int l = 0; l < 16; ++l) acc[0][l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
        auto total = static_cast<double>(reduce16_scalar(acc[0]));
        for (int64_t d = np; d < n; ++d) total += static_cast<double>(quant::fp16_to_f32(r[d]) * q[d]);
        scores[k] = static_cast<float>(total);
    }
}

// The lane tree after the products are in acc[slot][n]: the four groups of
// ggml_vec_dot_f16 first (slots 0-15 + 32-47, 16-31 + 48-63), then the 16
// lanes. add_into(dst, x, y) sets dst = x + y over n floats, in the caller's
// vector width (every width gives the same bits).
template <typename AddInto>
void wsum_reduce(float* acc, int64_t n, bool lanes16, float* o, const AddInto& add_into) {
    auto slot = [&](int s) { return acc + static_cast<size_t>(s) * static_cast<size_t>(n); };
    if (!lanes16) {
        for (int l = 0; l < 16; ++l) {
            add_into(slot(l), slot(l), slot(32 + l));
            add_into(slot(16 + l), slot(16 + l), slot(48 + l));
            add_into(slot(l), slot(l), slot(16 + l));
        }
    }
    for (int l = 0; l < 8; ++l) add_into(slot(l), slot(l + 8), slot(l));
    for (int l = 0; l < 4; ++l) add_into(slot(l), slot(l + 4), slot(l));
    add_into(slot(0), slot(0), slot(2));
    add_into(slot(1), slot(1), slot(3));
    add_into(o, slot(0), slot(1));
}

void wsum_f16_rows_ggml_scalar(const float* w, const uint16_t* rows, int64_t stride, int64_t first, int64_t count,
                               int64_t n, bool lanes16, float* acc, float* o) {
    const int64_t slots = lanes16 ? 16 : 64;
    std::fill(acc, acc + slots * n, 0.0f);
    for (int64_t i = 0; i < count; ++i) {
        float* a = acc + ((first + i) % slots) * n;
        const uint16_t* r = rows + i * stride;
        for (int64_t d = 0; d < n; ++d) a[d] = std::fma(w[i], quant::fp16_to_f32(r[d]), a[d]);
    }
    wsum_reduce(acc, n, lanes16, o, [n](float* dst, const float* x, const float* y) {
        for (int64_t d = 0; d < n; ++d) dst[d] = x[d] + y[d];
    });
}

namespace {

float dot_scalar(const float* a, const float* b, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

void axpy_scalar(float s, const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += s * x[i];
}

void to_f16_scalar(const float* src, uint16_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = quant::f32_to_fp16(src[i]);
}

void round_to_f16_scalar(float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] = quant::fp16_to_f32(quant::f32_to_fp16(x[i]));
}


#if defined(__x86_64__)
#define WORKER_AVX2 __attribute__((target("avx2,fma,f16c")))

WORKER_AVX2 inline __m256 load_f16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
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


// ---- llama.cpp's rounding: AVX2 forms, identical bits ---------------------------

WORKER_AVX2 inline __m256 exp_ggml_avx2(__m256 x) {
    const __m256 shift = _mm256_set1_ps(kExpShift);
    const __m256 n = _mm256_sub_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(kLog2e), shift), shift);
    const __m256 b =
        _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(kC5), b, _mm256_set1_ps(kC4)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(kC3), b, _mm256_set1_ps(kC2))),
        u, _mm256_fmadd_ps(_mm256_set1_ps(kC1), b, _mm256_set1_ps(1.0f)));
    // j * 2^n as scale_pow2: one factor inside the normal exponents, a second
    // one (exact intermediate) below -126 or above 127.
    const __m256i e = _mm256_cvtps_epi32(n);
    const __m256i low = _mm256_cmpgt_epi32(_mm256_set1_epi32(-126), e);
    const __m256i high = _mm256_cmpgt_epi32(e, _mm256_set1_epi32(127));
    __m256i e1 = _mm256_blendv_epi8(e, _mm256_add_epi32(e, _mm256_set1_epi32(100)), low);
    e1 = _mm256_blendv_epi8(e1, _mm256_set1_epi32(127), high);
    __m256i e2 = _mm256_and_si256(low, _mm256_set1_epi32(-100));
    e2 = _mm256_blendv_epi8(e2, _mm256_sub_epi32(e, _mm256_set1_epi32(127)), high);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e1, bias), 23));
    const __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e2, bias), 23));
    const __m256 res = _mm256_mul_ps(_mm256_mul_ps(j, p1), p2);
    // |n| > 192: 0 below, infinity above (NaN compares false and stays NaN).
    const __m256 big = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), n), _mm256_set1_ps(192.0f), _CMP_GT_OQ);
    const __m256 alt = _mm256_andnot_ps(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ), _mm256_set1_ps(INFINITY));
    return _mm256_blendv_ps(res, alt, big);
}

WORKER_AVX2 void exp_ggml_rows_avx2(const float* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp_ggml_avx2(_mm256_loadu_ps(x + i)));
    for (; i < n; ++i) y[i] = exp_ggml_scalar(x[i]);
}

WORKER_AVX2 void swiglu_ggml_avx2(const float* g, const float* u, float* y, int64_t n) {
    const int64_t n16 = n - n % 16;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int64_t i = 0; i < n16; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = exp_ggml_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    for (int64_t i = n16; i < n; ++i) y[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

// The 16 lanes lo (0-7) and hi (8-15) summed as _mm512_reduce_add_ps.
WORKER_AVX2 inline float reduce16_avx2(__m256 lo, __m256 hi) {
    const __m256 a = _mm256_add_ps(hi, lo);
    __m128 b = _mm_add_ps(_mm256_extractf128_ps(a, 1), _mm256_castps256_ps128(a));
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    b = _mm_add_ss(b, _mm_movehdup_ps(b));
    return _mm_cvtss_f32(b);
}

WORKER_AVX2 void dot_f16_rows_ggml_avx2(const float* q, const uint16_t* rows, int64_t stride, int64_t count,
                                        int64_t n, bool lanes16, float* scores) {
    if (n % 16 != 0) {
        dot_f16_rows_ggml_scalar(q, rows, stride, count, n, lanes16, scores);
        return;
    }
    for (int64_t k = 0; k < count; ++k) {
        const uint16_t* r = rows + k * stride;
        if (lanes16) {
            __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
            for (int64_t d = 0; d < n; d += 16) {
                lo = _mm256_fmadd_ps(load_f16(r + d), _mm256_loadu_ps(q + d), lo);
                hi = _mm256_fmadd_ps(load_f16(r + d + 8), _mm256_loadu_ps(q + d + 8), hi);
            }
            scores[k] = reduce16_avx2(lo, hi);
            continue;
        }
        __m256 acc[8];
        for (auto& a : acc) a = _mm256_setzero_ps();
        const int64_t np = n - n % 64;
        for (int64_t d = 0; d < np; d += 64) {
            for (int h = 0; h < 8; ++h) {
                acc[h] = _mm256_fmadd_ps(load_f16(r + d + 8 * h), _mm256_loadu_ps(q + d + 8 * h), acc[h]);
            }
        }
        // acc[2j] / acc[2j+1]: lanes 0-7 / 8-15 of group j.
        const __m256 lo = _mm256_add_ps(_mm256_add_ps(acc[0], acc[4]), _mm256_add_ps(acc[2], acc[6]));
        const __m256 hi = _mm256_add_ps(_mm256_add_ps(acc[1], acc[5]), _mm256_add_ps(acc[3], acc[7]));
        auto total = static_cast<double>(reduce16_avx2(lo, hi));
        for (int64_t d = np; d < n; ++d) total += static_cast<double>(_cvtsh_ss(r[d]) * q[d]);
        scores[k] = static_cast<float>(total);
    }
}

WORKER_AVX2 void wsum_f16_rows_ggml_avx2(const float* w, const uint16_t* rows, int64_t stride, int64_t first,
                                         int64_t count, int64_t n, bool lanes16, float* acc, float* o) {
    if (n % 8 != 0) {
        wsum_f16_rows_ggml_scalar(w, rows, stride, first, count, n, lanes16, acc, o);
        return;
    }
    const int64_t slots = lanes16 ? 16 : 64;
    std::memset(acc, 0, static_cast<size_t>(slots * n) * sizeof(float));
    for (int64_t i = 0; i < count; ++i) {
        float* a = acc + ((first + i) % slots) * n;
        const uint16_t* r = rows + i * stride;
        const __m256 wv = _mm256_set1_ps(w[i]);
        for (int64_t d = 0; d < n; d += 8) {
            _mm256_storeu_ps(a + d, _mm256_fmadd_ps(wv, load_f16(r + d), _mm256_loadu_ps(a + d)));
        }
    }
    wsum_reduce(acc, n, lanes16, o, [n](float* dst, const float* x, const float* y) WORKER_AVX2 {
        for (int64_t d = 0; d < n; d += 8) {
            _mm256_storeu_ps(dst + d, _mm256_add_ps(_mm256_loadu_ps(x + d), _mm256_loadu_ps(y + d)));
        }
    });
}

// ---- AVX-512 forms: identical bits -----------------------------------------------
// Element-wise work (e^x, SwiGLU, the P.V accumulators, half conversions)
// goes 16 lanes wide; the K.q sums keep llama.cpp's 16-lane accumulators in
// one register instead of two, reduced in the same tree.
#define WORKER_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl")))

WORKER_AVX512 inline __m512 load_f16_16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// ggml_v_expf in its AVX-512 form: the polynomial scaled by vscalefps (one
// rounding, which scale_pow2 reproduces for the scalar and AVX2 forms).
WORKER_AVX512 inline __m512 exp_ggml_avx512(__m512 x) {
    const __m512 shift = _mm512_set1_ps(kExpShift);
    const __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(kLog2e), shift), shift);
    const __m512 b =
        _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x));
    const __m512 u = _mm512_mul_ps(b, b);
    const __m512 j = _mm512_fmadd_ps(
        _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(kC5), b, _mm512_set1_ps(kC4)), u,
                        _mm512_fmadd_ps(_mm512_set1_ps(kC3), b, _mm512_set1_ps(kC2))),
        u, _mm512_fmadd_ps(_mm512_set1_ps(kC1), b, _mm512_set1_ps(1.0f)));
    const __m512 res = _mm512_scalef_ps(j, n);
    // |n| > 192: 0 below, infinity above (NaN compares false and stays NaN).
    const __mmask16 big = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192.0f), _CMP_GT_OQ);
    const __mmask16 neg = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ);
    const __m512 alt = _mm512_mask_blend_ps(neg, _mm512_set1_ps(INFINITY), _mm512_setzero_ps());
    return _mm512_mask_blend_ps(big, res, alt);
}

WORKER_AVX512 void exp_ggml_rows_avx512(const float* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, exp_ggml_avx512(_mm512_loadu_ps(x + i)));
    exp_ggml_rows_avx2(x + i, y + i, n - i);
}

WORKER_AVX512 void swiglu_ggml_avx512(const float* g, const float* u, float* y, int64_t n) {
    const int64_t n16 = n - n % 16;
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n16; i += 16) {
        const __m512 x = _mm512_loadu_ps(g + i);
        const __m512 e = exp_ggml_avx512(_mm512_sub_ps(_mm512_setzero_ps(), x));
        _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_div_ps(x, _mm512_add_ps(one, e)), _mm512_loadu_ps(u + i)));
    }
    for (int64_t i = n16; i < n; ++i) y[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

WORKER_AVX512 inline float reduce16_avx512(__m512 v) {
    return reduce16_avx2(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
}

WORKER_AVX512 void dot_f16_rows_ggml_avx512(const float* q, const uint16_t* rows, int64_t stride, int64_t count,
                                            int64_t n, bool lanes16, float* scores) {
    if (n % 16 != 0) {
        dot_f16_rows_ggml_scalar(q, rows, stride, count, n, lanes16, scores);
        return;
    }
    for (int64_t k = 0; k < count; ++k) {
        const uint16_t* r = rows + k * stride;
        if (lanes16) {
            __m512 acc = _mm512_setzero_ps();
            for (int64_t d = 0; d < n; d += 16) acc = _mm512_fmadd_ps(load_f16_16(r + d), _mm512_loadu_ps(q + d), acc);
            scores[k] = reduce16_avx512(acc);
            continue;
        }
        __m512 acc[4];
        for (auto& a : acc) a = _mm512_setzero_ps();
        const int64_t np = n - n % 64;
        for (int64_t d = 0; d < np; d += 64) {
            for (int j = 0; j < 4; ++j) {
                acc[j] = _mm512_fmadd_ps(load_f16_16(r + d + 16 * j), _mm512_loadu_ps(q + d + 16 * j), acc[j]);
            }
        }
        const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[2]), _mm512_add_ps(acc[1], acc[3]));
        auto total = static_cast<double>(reduce16_avx512(sum));
        for (int64_t d = np; d < n; ++d) total += static_cast<double>(_cvtsh_ss(r[d]) * q[d]);
        scores[k] = static_cast<float>(total);
    }
}

WORKER_AVX512 void wsum_f16_rows_ggml_avx512(const float* w, const uint16_t* rows, int64_t stride, int64_t first,
                                             int64_t count, int64_t n, bool lanes16, float* acc, float* o) {
    if (n % 16 != 0) {
        wsum_f16_rows_ggml_avx2(w, rows, stride, first, count, n, lanes16, acc, o);
        return;
    }
    const int64_t slots = lanes16 ? 16 : 64;
    std::memset(acc, 0, static_cast<size_t>(slots * n) * sizeof(float));
    for (int64_t i = 0; i < count; ++i) {
        float* a = acc + ((first + i) % slots) * n;
        const uint16_t* r = rows + i * stride;
        const __m512 wv = _mm512_set1_ps(w[i]);
        for (int64_t d = 0; d < n; d += 16) {
            _mm512_storeu_ps(a + d, _mm512_fmadd_ps(wv, load_f16_16(r + d), _mm512_loadu_ps(a + d)));
        }
    }
    wsum_reduce(acc, n, lanes16, o, [n](float* dst, const float* x, const float* y) WORKER_AVX512 {
        for (int64_t d = 0; d < n; d += 16) {
            _mm512_storeu_ps(dst + d, _mm512_add_ps(_mm512_loadu_ps(x + d), _mm512_loadu_ps(y + d)));
        }
    });
}

WORKER_AVX512 void axpy_avx512(float s, const float* x, float* y, int64_t n) {
    const __m512 vs = _mm512_set1_ps(s);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(vs, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    axpy_avx2(s, x + i, y + i, n - i);
}

WORKER_AVX512 void to_f16_avx512(const float* src, uint16_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    to_f16_avx2(src + i, dst + i, n - i);
}

WORKER_AVX512 void round_to_f16_avx512(float* x, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i h = _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm512_storeu_ps(x + i, _mm512_cvtph_ps(h));
    }
    round_to_f16_avx2(x + i, n - i);
}

#endif

// One table per level. dot_f32 keeps its AVX2 form at the AVX-512 level
// too (its two 8-lane accumulators and 8-wide tail are its order).
constexpr VecKernels kScalarKernels{exp_ggml_rows_scalar,     swiglu_ggml_scalar, dot_f16_rows_ggml_scalar,
                                    wsum_f16_rows_ggml_scalar, to_f16_scalar,      round_to_f16_scalar,
                                    axpy_scalar,               dot_scalar};
#if defined(__x86_64__)
constexpr VecKernels kAvx2Kernels{exp_ggml_rows_avx2,     swiglu_ggml_avx2, dot_f16_rows_ggml_avx2,
                                  wsum_f16_rows_ggml_avx2, to_f16_avx2,      round_to_f16_avx2,
                                  axpy_avx2,               dot_avx2};
constexpr VecKernels kAvx512Kernels{exp_ggml_rows_avx512,     swiglu_ggml_avx512, dot_f16_rows_ggml_avx512,
                                    wsum_f16_rows_ggml_avx512, to_f16_avx512,      round_to_f16_avx512,
                                    axpy_avx512,               dot_avx2};
#endif

// The kernels of the free functions below, at cpu_isa().
const VecKernels& process_kernels() {
    static const VecKernels& kernels = vec_kernels(cpu_isa());
    return kernels;
}

}  // namespace

const VecKernels& vec_kernels(CpuIsa level) {
#if defined(__x86_64__)
    if (level == CpuIsa::avx512 && cpu_supports_avx512()) return kAvx512Kernels;
    if (level != CpuIsa::scalar && cpu_avx2_fma_f16c_supported()) return kAvx2Kernels;
#else
    (void)level;
#endif
    return kScalarKernels;
}

bool vec_avx512_kernels(VecKernels& k) {
    if (!cpu_supports_avx512()) return false;
    k = vec_kernels(CpuIsa::avx512);
    return true;
}

float exp_ggml(float x) { return exp_ggml_scalar(x); }
void exp_ggml(const float* x, float* y, int64_t n) { process_kernels().exp_rows(x, y, n); }
void swiglu_ggml(const float* g, const float* u, float* y, int64_t n) { process_kernels().swiglu(g, u, y, n); }
float reduce16(const float* v) { return reduce16_scalar(v); }
void dot_f16_rows_ggml(const float* q, const uint16_t* rows, int64_t stride, int64_t count, int64_t n, bool lanes16,
                       float* scores) {
    process_kernels().dot_f16_rows(q, rows, stride, count, n, lanes16, scores);
}
void wsum_f16_rows_ggml(const float* w, const uint16_t* rows, int64_t stride, int64_t first, int64_t count, int64_t n,
                        bool lanes16, float* acc, float* o) {
    process_kernels().wsum_f16_rows(w, rows, stride, first, count, n, lanes16, acc, o);
}

float dot_f32(const float* a, const float* b, int64_t n) { return process_kernels().dot(a, b, n); }
void axpy_f32(float s, const float* x, float* y, int64_t n) { process_kernels().axpy(s, x, y, n); }
void to_f16(const float* src, uint16_t* dst, int64_t n) { process_kernels().to_f16(src, dst, n); }
void round_to_f16(float* x, int64_t n) { process_kernels().round_to_f16(x, n); }

}  // namespace worker::cpu
