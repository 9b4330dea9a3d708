#include "cpu/quant_dot.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/cpu_features.h"
#include "core/error.h"
#include "quant/blocks.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "cpu/avx512_gcc12_warnings.h"

namespace worker::cpu {

using namespace worker::quant;

void quantize_q8_scalar(const float* x, BlockQ8* out, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b) {
        const float* v = x + b * 32;
        float amax = 0.0f;
        for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(v[j]));
        const float d = amax / 127.0f;
        // 127 / amax rather than 1 / d: the two round differently, and this
        // is how llama.cpp scales (quantize_row_q8_0 / q8_1).
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int32_t sum = 0;
        for (int j = 0; j < 32; ++j) {
            const int q = static_cast<int>(std::nearbyint(v[j] * id));
            out[b].qs[j] = static_cast<int8_t>(q);
            sum += q;
        }
        out[b].d = d;
        out[b].dsum = d * static_cast<float>(sum);
    }
}

namespace {

// Scale and min of sub-block j of a Q4_K super-block: 6 bits each, packed.
inline void q4k_scale_min(int j, const uint8_t* q, int& sc, int& m) {
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// The 6-bit value (before the -32 offset) of element l (0..31) of sub-block s
// (0..3) of 128-element chunk c of a Q6_K super-block.
inline int q6k_value(const BlockQ6_K& b, int c, int s, int l) {
    const uint8_t* ql = b.ql + 64 * c + (s & 1) * 32;
    const uint8_t* qh = b.qh + 32 * c;
    const int low = s < 2 ? (ql[l] & 0xF) : (ql[l] >> 4);
    return low | (((qh[l] >> (2 * s)) & 3) << 4);
}

// ---- scalar kernels -----------------------------------------------------------
// Each sums in the order of its AVX2 form (and of llama.cpp's x86 kernels), so
// every CPU gets the same bits: the products of a 32-element block go into
// eight integer lanes of four consecutive elements, each lane is scaled into
// its own float accumulator, and the eight are summed at the end as
// llama.cpp's hsum_float_8.

// The sum of 8 float lanes in the order of llama.cpp's hsum_float_8.
inline float hsum8_scalar(const float* v) {
    const float a0 = v[4] + v[0], a1 = v[5] + v[1], a2 = v[6] + v[2], a3 = v[7] + v[3];
    return (a0 + a2) + (a1 + a3);
}

// acc[l] += scale * (sum of w[e] * x[e] over e = 4l..4l+3), for a block of 32.
inline void block_lanes(const int* w, const int8_t* x, float scale, float* acc) {
    for (int l = 0; l < 8; ++l) {
        int32_t s = 0;
        for (int e = 4 * l; e < 4 * l + 4; ++e) s += w[e] * x[e];
        acc[l] = std::fma(scale, static_cast<float>(s), acc[l]);
    }
}

float dot_q4_0_scalar(const void* w, const BlockQ8* x, int64_t nb) {
    const auto* b = static_cast<const BlockQ4_0*>(w);
    float acc[8] = {};
    for (int64_t i = 0; i < nb; ++i) {
        int q[32];
        for (int j = 0; j < 16; ++j) {
            q[j] = (b[i].qs[j] & 0xF) - 8;
            q[j + 16] = (b[i].qs[j] >> 4) - 8;
        }
        block_lanes(q, x[i].qs, fp16_to_f32(b[i].d) * x[i].d, acc);
    }
    return hsum8_scalar(acc);
}

float dot_q4_1_scalar(const void* w, const BlockQ8* x, int64_t nb) {
    const auto* b = static_cast<const BlockQ4_1*>(w);
    float acc[8] = {};
    float offsets = 0.0f;
    for (int64_t i = 0; i < nb; ++i) {
        int q[32];
        for (int j = 0; j < 16; ++j) {
            q[j] = b[i].qs[j] & 0xF;
            q[j + 16] = b[i].qs[j] >> 4;
        }
        block_lanes(q, x[i].qs, fp16_to_f32(b[i].d) * x[i].d, acc);
        offsets += fp16_to_f32(b[i].m) * x[i].dsum;
    }
    return hsum8_scalar(acc) + offsets;
}

float dot_q5_0_scalar(const void* w, const BlockQ8* x, int64_t nb) {
    const auto* b = static_cast<const BlockQ5_0*>(w);
    float acc[8] = {};
    for (int64_t i = 0; i < nb; ++i) {
        uint32_t qh;
        std::memcpy(&qh, b[i].qh, 4);
        int q[32];
        for (int j = 0; j < 16; ++j) {
            q[j] = ((b[i].qs[j] & 0xF) | (((qh >> j) & 1) << 4)) - 16;
            q[j + 16] = ((b[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
        }
        block_lanes(q, x[i].qs, fp16_to_f32(b[i].d) * x[i].d, acc);
    }
    return hsum8_scalar(acc);
}

float dot_q8_0_scalar(const void* w, const BlockQ8* x, int64_t nb) {
    const auto* b = static_cast<const BlockQ8_0*>(w);
    float acc[8] = {};
    for (int64_t i = 0; i < nb; ++i) {
        int q[32];
        for (int j = 0; j < 32; ++j) q[j] = b[i].qs[j];
        block_lanes(q, x[i].qs, fp16_to_f32(b[i].d) * x[i].d, acc);
    }
    return hsum8_scalar(acc);
}

// Q4_K as llama.cpp's repacked (8x8) kernels sum it: the integer totals
// sum_j sc_j * (q . x)_j and sum_j m_j * bsum_j over `kGroup` sub-blocks are
// scaled by d * dx and dmin * dx and accumulated, the second total subtracted
// at the end. Its gemv (one token) takes a whole super-block per step
// (kGroup 8), its gemm (groups of four tokens) a pair of sub-blocks (2).
template <int kGroup>
float dot_q4_k_scalar(const void* w, const BlockQ8* x, int64_t nb) {
    const auto* b = static_cast<const BlockQ4_K*>(w);
    float acc = 0.0f, acc_min = 0.0f;
    for (int64_t i = 0; i < nb / 8; ++i) {
        const float d = fp16_to_f32(b[i].d);
        const float dmin = fp16_to_f32(b[i].dmin);
        const float dx = x[i * 8].d;
        for (int g = 0; g < 8; g += kGroup) {
            int32_t sum = 0, sum_min = 0;
            for (int sb = g; sb < g + kGroup; ++sb) {
                const BlockQ8& xb = x[i * 8 + sb];
                const uint8_t* q = b[i].qs + (sb / 2) * 32;
                const int shift = (sb & 1) * 4;
                int32_t s = 0;
                for (int l = 0; l < 32; ++l) s += ((q[l] >> shift) & 0xF) * xb.qs[l];
                int sc, m;
                q4k_scale_min(sb, b[i].scales, sc, m);
                sum += sc * s;
                sum_min += m * (xb.bsum[0] + xb.bsum[1]);
            }
            acc = std::fma(static_cast<float>(sum), d * dx, acc);
            acc_min = std::fma(static_cast<float>(sum_min), dmin * dx, acc_min);
        }
    }
    return acc - acc_min;
}

// Q6_K as llama.cpp sums it on x86. ggml_vec_dot_q6_K_q8_K (kTiled false):
// per super-block, eight integer lanes (lane l holds elements 4l..4l+3 of
// every 32, times their scale, the weights' 6-bit values unsigned) less 32 x
// the scaled bsums of sub-block l; each lane is scaled by dx * d into its own
// float accumulator, and the eight are summed at the end. Its tiled matrix
// kernel (batches of 8 tokens or more, kTiled true): the super-block's whole
// integer sum times d, then times dx fused with the addition to one float.
template <bool kTiled>
float dot_q6_k_scalar(const void* w, const BlockQ8* x, int64_t nb) {
    const auto* b = static_cast<const BlockQ6_K*>(w);
    float acc[8] = {};
    float total = 0.0f;
    for (int64_t i = 0; i < nb / 8; ++i) {
        int32_t lane[8] = {};
        for (int sb = 0; sb < 8; ++sb) {
            const int c = sb / 4, s = sb % 4;
            const BlockQ8& xb = x[i * 8 + sb];
            for (int l = 0; l < 8; ++l) {
                int32_t p = 0;
                for (int e = 4 * l; e < 4 * l + 4; ++e) p += q6k_value(b[i], c, s, e) * xb.qs[e];
                lane[l] += p * b[i].scales[c * 8 + s * 2 + (l >= 4 ? 1 : 0)];
            }
        }
        for (int l = 0; l < 8; ++l) {
            const BlockQ8& xb = x[i * 8 + l];
            lane[l] -= 32 * (b[i].scales[2 * l] * xb.bsum[0] + b[i].scales[2 * l + 1] * xb.bsum[1]);
        }
        const float dw = fp16_to_f32(b[i].d), dx = x[i * 8].d;
        if (kTiled) {
            int32_t sum = 0;
            for (const int32_t v : lane) sum += v;
            // llama.cpp's binary fuses the last product with the sum.
            total = std::fma(static_cast<float>(sum) * dw, dx, total);
            continue;
        }
        const float d = dx * dw;
        for (int l = 0; l < 8; ++l) acc[l] = std::fma(d, static_cast<float>(lane[l]), acc[l]);
    }
    return kTiled ? total : hsum8_scalar(acc);
}

// Four tokens, each as the one-token kernel (`Dot`), or as llama.cpp's
// batched kernel where that sums differently.
template <float (*Dot)(const void*, const BlockQ8*, int64_t)>
void dot4_scalar(const void* w, const BlockQ8* x, int64_t xs, int64_t nb, float* out) {
    for (int t = 0; t < 4; ++t) out[t] = Dot(w, x + t * xs, nb);
}

// ---- AVX2 kernels -------------------------------------------------------------
// Compiled for AVX2 by attribute so the rest of the library keeps the baseline
// instruction set; chosen at run time by dot_kernel(). Each kernel takes NT
// activation rows at once: a prefill batch then unpacks every weight block
// once for NT tokens instead of once per token.
#if defined(__x86_64__)
#define WORKER_AVX2 __attribute__((target("avx2,fma,f16c")))

// Single-token entry points with the DotFn signature.
template <void (*Kernel)(const void*, const BlockQ8*, int64_t, int64_t, float*)>
float dot1(const void* w, const BlockQ8* x, int64_t nb) {
    float out;
    Kernel(w, x, 0, nb, &out);
    return out;
}

namespace avx2 {
#define WORKER_X86 __attribute__((target("avx2,fma,f16c")))
#define WORKER_VNNI 0
#include "cpu/quant_dot_x86.inc"
#undef WORKER_VNNI
#undef WORKER_X86
}  // namespace avx2

namespace vnni {
#define WORKER_X86 __attribute__((target("avx2,fma,f16c,avxvnni")))
#define WORKER_VNNI 1
#include "cpu/quant_dot_x86.inc"
#undef WORKER_VNNI
#undef WORKER_X86
}  // namespace vnni

namespace avx512 {
#define WORKER_X86 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define WORKER_VNNI 2
#include "cpu/quant_dot_x86.inc"
#undef WORKER_VNNI
#undef WORKER_X86
}  // namespace avx512

// The same rounding as quantize_q8_scalar (round half to even, as nearbyint
// does in the default rounding mode), eight lanes at a time.
WORKER_AVX2 void quantize_q8_avx2(const float* x, BlockQ8* out, int64_t n) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / 32; ++b) {
        const float* v = x + b * 32;
        __m256 q[4];
        __m256 vmax = _mm256_setzero_ps();
        for (int k = 0; k < 4; ++k) {
            q[k] = _mm256_loadu_ps(v + 8 * k);
            vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign_mask, q[k]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float amax = _mm_cvtss_f32(m);
        const float d = amax / 127.0f;
        const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
        __m256i i32[4];
        __m256i sum = _mm256_setzero_si256();
        for (int k = 0; k < 4; ++k) {
            i32[k] = _mm256_cvtps_epi32(
                _mm256_round_ps(_mm256_mul_ps(q[k], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            sum = _mm256_add_epi32(sum, i32[k]);
        }
        // Pack 32 int32 to 32 int8; the packs interleave 128-bit lanes, so undo that.
        const __m256i p16a = _mm256_packs_epi32(i32[0], i32[1]);
        const __m256i p16b = _mm256_packs_epi32(i32[2], i32[3]);
        const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
        const __m256i ordered = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].qs), ordered);
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
        s4 = _mm_hadd_epi32(s4, s4);
        s4 = _mm_hadd_epi32(s4, s4);
        out[b].d = d;
        out[b].dsum = d * static_cast<float>(_mm_cvtsi128_si32(s4));
    }
}

#define WORKER_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl")))

// quantize_q8_avx2 sixteen lanes at a time: the maximum, the roundings and
// the integer sum are exact, so the width changes no bit.
WORKER_AVX512 void quantize_q8_avx512(const float* x, BlockQ8* out, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b) {
        const float* v = x + b * 32;
        const __m512 v0 = _mm512_loadu_ps(v), v1 = _mm512_loadu_ps(v + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const float d = amax / 127.0f;
        const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
        const __m512i q0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v0, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m512i q1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v1, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].qs), _mm512_cvtsepi32_epi8(q0));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].qs + 16), _mm512_cvtsepi32_epi8(q1));
        out[b].d = d;
        out[b].dsum = d * static_cast<float>(_mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1)));
    }
}

#endif

// The kernels a level runs: AVX-512, AVX2 with AVX-VNNI's 256-bit vpdpbusd
// where the CPU has it, plain AVX2, or the portable ones — never above what
// the CPU has, whatever the level asks.
enum class Family { scalar, avx2, vnni, avx512 };

Family family_for(CpuIsa level) {
#if defined(__x86_64__)
    if (level == CpuIsa::avx512 && cpu_supports_avx512()) return Family::avx512;
    if (level != CpuIsa::scalar && cpu_avx2_fma_f16c_supported()) {
        return cpu_has_avx_vnni() ? Family::vnni : Family::avx2;
    }
#else
    (void)level;
#endif
    return Family::scalar;
}

void quantize_q8_at(const float* x, BlockQ8* out, int64_t n, Family family) {
#if defined(__x86_64__)
    if (family == Family::avx512) {
        quantize_q8_avx512(x, out, n);
        return;
    }
    if (family != Family::scalar) {
        quantize_q8_avx2(x, out, n);
        return;
    }
#else
    (void)family;
#endif
    quantize_q8_scalar(x, out, n);
}

}  // namespace

void quantize_q8(const float* x, BlockQ8* out, int64_t n) { quantize_q8_at(x, out, n, family_for(cpu_isa())); }

namespace {

inline float round_to_half(float x) { return fp16_to_f32(f32_to_fp16(x)); }

// Q8_K: the value of largest magnitude maps to -127 (its sign flips the
// scale), one float scale per 256 activations.
void quantize_q8_k(const float* x, BlockQ8* out, int64_t n) {
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const float* v = x + b * QK_K;
        BlockQ8* o = out + b * (QK_K / 32);
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK_K; ++j) {
            if (std::fabs(v[j]) > amax) {
                amax = std::fabs(v[j]);
                max = v[j];
            }
        }
        if (amax == 0.0f) {
            std::memset(o, 0, sizeof(BlockQ8) * (QK_K / 32));
            continue;
        }
        const float iscale = -127.0f / max;
        const float d = 1.0f / iscale;
        for (int sb = 0; sb < QK_K / 32; ++sb) {
            int32_t half_sum[2] = {0, 0};
            for (int h = 0; h < 2; ++h) {
                for (int j = 16 * h; j < 16 * h + 16; ++j) {
                    const int q = std::min(127, static_cast<int>(std::nearbyint(iscale * v[sb * 32 + j])));
                    o[sb].qs[j] = static_cast<int8_t>(q);
                    half_sum[h] += q;
                }
            }
            o[sb].d = d;
            o[sb].dsum = d * static_cast<float>(half_sum[0] + half_sum[1]);
            o[sb].bsum[0] = static_cast<int16_t>(half_sum[0]);
            o[sb].bsum[1] = static_cast<int16_t>(half_sum[1]);
        }
    }
}

}  // namespace

void quantize_activations(GgmlType weight_type, const float* x, BlockQ8* out, int64_t n) {
    quantize_activations(weight_type, x, out, n, cpu_isa());
}

void quantize_activations(GgmlType weight_type, const float* x, BlockQ8* out, int64_t n, CpuIsa level) {
    const Family family = family_for(level);
    switch (type_traits(weight_type).activations) {
        case ActQuant::Q8_K:
            if (n % QK_K == 0) {
                quantize_q8_k(x, out, n);
                return;
            }
            break;
        case ActQuant::Q8_1:
            quantize_q8_at(x, out, n, family);
            for (int64_t b = 0; b < n / 32; ++b) {
                out[b].dsum = round_to_half(out[b].dsum);
                out[b].d = round_to_half(out[b].d);
            }
            return;
        case ActQuant::Q8_0:
            break;
    }
    quantize_q8_at(x, out, n, family);
    for (int64_t b = 0; b < n / 32; ++b) out[b].d = round_to_half(out[b].d);
}

DotFn dot_kernel_scalar(GgmlType type) {
    switch (type) {
        case GgmlType::Q4_0:
            return dot_q4_0_scalar;
        case GgmlType::Q4_1:
            return dot_q4_1_scalar;
        case GgmlType::Q5_0:
            return dot_q5_0_scalar;
        case GgmlType::Q8_0:
            return dot_q8_0_scalar;
        case GgmlType::Q4_K:
            return dot_q4_k_scalar<8>;
        case GgmlType::Q6_K:
            return dot_q6_k_scalar<false>;
        default:
            return nullptr;
    }
}

Dot4Fn dot4_kernel_scalar(GgmlType type) {
    switch (type) {
        case GgmlType::Q4_0:
            return dot4_scalar<dot_q4_0_scalar>;
        case GgmlType::Q4_1:
            return dot4_scalar<dot_q4_1_scalar>;
        case GgmlType::Q5_0:
            return dot4_scalar<dot_q5_0_scalar>;
        case GgmlType::Q8_0:
            return dot4_scalar<dot_q8_0_scalar>;
        case GgmlType::Q4_K:
            return dot4_scalar<dot_q4_k_scalar<2>>;
        case GgmlType::Q6_K:
            return dot4_scalar<dot_q6_k_scalar<false>>;
        default:
            return nullptr;
    }
}

namespace {

DotFn dot_kernel_at(GgmlType type, Family family) {
#if defined(__x86_64__)
    switch (family) {
        case Family::avx512: return avx512::dot_for(type);
        case Family::vnni: return vnni::dot_for(type);
        case Family::avx2: return avx2::dot_for(type);
        case Family::scalar: break;
    }
#else
    (void)family;
#endif
    return dot_kernel_scalar(type);
}

Dot4Fn dot4_kernel_at(GgmlType type, Family family) {
#if defined(__x86_64__)
    switch (family) {
        case Family::avx512: return avx512::dot4_for(type);
        case Family::vnni: return vnni::dot4_for(type);
        case Family::avx2: return avx2::dot4_for(type);
        case Family::scalar: break;
    }
#else
    (void)family;
#endif
    return dot4_kernel_scalar(type);
}

}  // namespace

DotFn dot_kernel(GgmlType type) { return dot_kernel_at(type, family_for(cpu_isa())); }

Dot4Fn dot4_kernel(GgmlType type) { return dot4_kernel_at(type, family_for(cpu_isa())); }

DotFn dot_kernel_avx2(GgmlType type) {
#if defined(__x86_64__)
    if (cpu_avx2_fma_f16c_supported()) return avx2::dot_for(type);
#endif
    (void)type;
    return nullptr;
}

BatchKernels batch_kernels_avx512(GgmlType type, int64_t n) {
#if defined(__x86_64__)
    if (cpu_supports_avx512()) {
        if (type == GgmlType::Q6_K && n >= 8) return {avx512::dot4_q6_k_tiled(), avx512::dot_q6_k_tiled()};
        return {avx512::dot4_for(type), avx512::dot_for(type)};
    }
#endif
    (void)type;
    (void)n;
    return {nullptr, nullptr};
}

BatchKernels batch_kernels_avx2(GgmlType type, int64_t n) {
#if defined(__x86_64__)
    if (cpu_avx2_fma_f16c_supported()) {
        if (type == GgmlType::Q6_K && n >= 8) return {avx2::dot4_q6_k_tiled(), avx2::dot_q6_k_tiled()};
        return {avx2::dot4_for(type), avx2::dot_for(type)};
    }
#endif
    (void)type;
    (void)n;
    return {nullptr, nullptr};
}

void quantize_q8_avx512_or_null(const float* x, BlockQ8* out, int64_t n, bool& ran) {
#if defined(__x86_64__)
    if (cpu_supports_avx512()) {
        quantize_q8_avx512(x, out, n);
        ran = true;
        return;
    }
#endif
    (void)x;
    (void)out;
    (void)n;
    ran = false;
}

BatchKernels batch_kernels(GgmlType type, int64_t n) { return batch_kernels(type, n, cpu_isa()); }

BatchKernels batch_kernels(GgmlType type, int64_t n, CpuIsa level) {
    const Family family = family_for(level);
    // llama.cpp takes a batch of 8 or more tokens with Q6_K weights through
    // its tiled matrix kernel, which sums otherwise than its vector one.
    if (type == GgmlType::Q6_K && n >= 8) {
#if defined(__x86_64__)
        switch (family) {
            case Family::avx512: return {avx512::dot4_q6_k_tiled(), avx512::dot_q6_k_tiled()};
            case Family::vnni: return {vnni::dot4_q6_k_tiled(), vnni::dot_q6_k_tiled()};
            case Family::avx2: return {avx2::dot4_q6_k_tiled(), avx2::dot_q6_k_tiled()};
            case Family::scalar: break;
        }
#endif
        return {dot4_scalar<dot_q6_k_scalar<true>>, dot_q6_k_scalar<true>};
    }
    return {dot4_kernel_at(type, family), dot_kernel_at(type, family)};
}

BatchKernels batch_kernels_scalar(GgmlType type, int64_t n) {
    if (type == GgmlType::Q6_K && n >= 8) return {dot4_scalar<dot_q6_k_scalar<true>>, dot_q6_k_scalar<true>};
    return {dot4_kernel_scalar(type), dot_kernel_scalar(type)};
}

const char* dot_kernel_isa() { return dot_kernel_isa(cpu_isa()); }

const char* dot_kernel_isa(CpuIsa level) {
    switch (family_for(level)) {
        case Family::avx512: return "avx512";
        case Family::vnni: return "avx-vnni";
        case Family::avx2: return "avx2";
        case Family::scalar: break;
    }
    return "scalar";
}

}  // namespace worker::cpu
