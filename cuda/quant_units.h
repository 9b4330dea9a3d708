// The inner loop of the decode matrix-vector kernels: one 32-element unit of
// a quantized weight row against one block of 8-bit activations, with 4-way
// int8 dot products. Written __host__ __device__ (WORKER_HD) so that the bit
// manipulation of every block format is checked against the shared
// dequantizers on the CPU too (tests/unit/test_cuda_quant_units.cpp); on the
// GPU the helpers below become dp4a, vsub4 and vector loads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "quant/blocks.h"
#include "quant/dequant.h"
#include "quant/ggml_type.h"
#include "quant/hd.h"
#include "quant/rn_math.h"

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#endif
// Unrolling hint for the device compiler only (host compilers warn on it).
#if defined(__CUDA_ARCH__)
#define WORKER_UNROLL _Pragma("unroll")
#else
#define WORKER_UNROLL
#endif

namespace worker::cuda {

// Activations quantized for the decode matrix-vector kernels: 32 values as
// int8 with a float scale, and the scale times the sum of the int8 values
// (formats with a per-block offset use it).
struct alignas(8) BlockQ8Act {
    float d;
    float s;
    int8_t qs[32];
};
static_assert(sizeof(BlockQ8Act) == 40);

// Sum of the four signed byte products of a and b, plus c.
WORKER_HD int dp4a(int a, int b, int c) {
#if defined(__CUDA_ARCH__)
    return __dp4a(a, b, c);
#else
    for (int i = 0; i < 4; ++i) {
        c += static_cast<int>(static_cast<int8_t>(static_cast<uint32_t>(a) >> (8 * i))) *
             static_cast<int>(static_cast<int8_t>(static_cast<uint32_t>(b) >> (8 * i)));
    }
    return c;
#endif
}

// Byte-wise a - b, modulo 256 per byte.
WORKER_HD uint32_t vsub4(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
    return __vsub4(a, b);
#else
    uint32_t r = 0;
    for (int i = 0; i < 4; ++i) r |= (((a >> (8 * i)) - (b >> (8 * i))) & 0xFFu) << (8 * i);
    return r;
#endif
}

WORKER_HD float half_to_float(uint16_t bits) {
#if defined(__CUDA_ARCH__)
    return __half2float(__ushort_as_half(bits));
#else
    return quant::fp16_to_f32(bits);
#endif
}

// 32 bits from an address that is only 2-byte aligned (most block formats).
WORKER_HD uint32_t load_u32_a2(const uint8_t* p) {
#if defined(__CUDA_ARCH__)
    const uint16_t* h = reinterpret_cast<const uint16_t*>(p);
    return static_cast<uint32_t>(h[0]) | (static_cast<uint32_t>(h[1]) << 16);
#else
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
#endif
}

WORKER_HD uint32_t load_u32_a4(const uint8_t* p) {
#if defined(__CUDA_ARCH__)
    return *reinterpret_cast<const uint32_t*>(p);
#else
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
#endif
}

// 32 bytes from a 16-byte aligned address, as two 16-byte loads on the GPU.
WORKER_HD void load_32_bytes_a16(const uint8_t* p, uint32_t (&words)[8]) {
#if defined(__CUDA_ARCH__)
    const uint4* v = reinterpret_cast<const uint4*>(p);
    const uint4 a = v[0], b = v[1];
    words[0] = a.x, words[1] = a.y, words[2] = a.z, words[3] = a.w;
    words[4] = b.x, words[5] = b.y, words[6] = b.z, words[7] = b.w;
#else
    memcpy(words, p, 32);
#endif
}

// ---- activation quantization, as the CPU backend does it per weight type ----------
//
// The type table's activations column (quant/ggml_type.h) says which form
// a weight type takes. Q8_0 (Q4_0, Q5_0, Q8_0 and the default): blocks of 32,
// d = max|x| / 127, q = rint(x * (127 / max|x|)), d then rounded to half.
// Q8_1 (Q4_1): the same with d and s = d * sum(q) rounded to half. Q8_K
// (Q4_K, Q6_K): one scale per 256: the value of largest magnitude (first one
// on ties) maps to -127, q = min(127, rint(x * iscale)). These mirror
// src/cpu/quant_dot.cpp so that both devices' integer dot products see the
// same activations.
using worker::ActQuant;

// Host code only: the table lives in host memory.
inline ActQuant act_quant_for(GgmlType weight_type) { return type_traits(weight_type).activations; }

WORKER_HD float round_to_half(float x) {
#if defined(__CUDA_ARCH__)
    return __half2float(__float2half_rn(x));
#else
    return quant::fp16_to_f32(quant::f32_to_fp16(x));
#endif
}

WORKER_HD int round_to_int(float x) {
#if defined(__CUDA_ARCH__)
    return __float2int_rn(x);
#else
    return static_cast<int>(std::nearbyint(x));  // round half to even, the default mode
#endif
}

// The activation block's 32 int8 values as 8 words (8-byte loads on the GPU).
WORKER_HD void load_act_words(const BlockQ8Act& a, int (&x)[8]) {
#if defined(__CUDA_ARCH__)
    const int2* p = reinterpret_cast<const int2*>(a.qs);
WORKER_UNROLL
    for (int i = 0; i < 4; ++i) {
        const int2 v = p[i];
        x[2 * i] = v.x;
        x[2 * i + 1] = v.y;
    }
#else
    memcpy(x, a.qs, 32);
#endif
}


// Q4_0: w = d * (q - 8), q a nibble; element j < 16 is the low nibble of
// qs[j], element j + 16 the high nibble. The bias is taken off bytewise, so
// the integer sum is exactly the CPU backend's.
WORKER_HD float unit_dot_q4_0(const uint8_t* row, int64_t u, const BlockQ8Act& a) {
    const quant::BlockQ4_0& b = reinterpret_cast<const quant::BlockQ4_0*>(row)[u];
    int x[8];
    load_act_words(a, x);
    int acc = 0;  // sum of (q - 8) * x, as the CPU backend sums it
WORKER_UNROLL
    for (int i = 0; i < 4; ++i) {
        const uint32_t v = load_u32_a2(b.qs + 4 * i);
        acc = dp4a(static_cast<int>(vsub4(v & 0x0F0F0F0Fu, 0x08080808u)), x[i], acc);
        acc = dp4a(static_cast<int>(vsub4((v >> 4) & 0x0F0F0F0Fu, 0x08080808u)), x[i + 4], acc);
    }
    return half_to_float(b.d) * a.d * static_cast<float>(acc);
}

// Q4_1: w = d * q + m.
WORKER_HD float unit_dot_q4_1(const uint8_t* row, int64_t u, const BlockQ8Act& a) {
    const quant::BlockQ4_1& b = reinterpret_cast<const quant::BlockQ4_1*>(row)[u];
    int x[8];
    load_act_words(a, x);
    int acc = 0;
WORKER_UNROLL
    for (int i = 0; i < 4; ++i) {
        const uint32_t v = load_u32_a4(b.qs + 4 * i);  // 4-byte aligned: blocks are 20 bytes
        acc = dp4a(static_cast<int>(v & 0x0F0F0F0Fu), x[i], acc);
        acc = dp4a(static_cast<int>((v >> 4) & 0x0F0F0F0Fu), x[i + 4], acc);
    }
    return half_to_float(b.d) * a.d * static_cast<float>(acc) + half_to_float(b.m) * a.s;
}

// Bits 0..3 of `bits` to bit 4 of bytes 0..3.
WORKER_HD uint32_t spread_to_bit4(uint32_t bits) {
    return ((bits & 1u) << 4) | ((bits & 2u) << 11) | ((bits & 4u) << 18) | ((bits & 8u) << 25);
}

// Q5_0: w = d * (q - 16), q = nibble | (bit j of qh) << 4.
WORKER_HD float unit_dot_q5_0(const uint8_t* row, int64_t u, const BlockQ8Act& a) {
    const quant::BlockQ5_0& b = reinterpret_cast<const quant::BlockQ5_0*>(row)[u];
    int x[8];
    load_act_words(a, x);
    const uint32_t qh = load_u32_a2(b.qh);
    int acc = 0;
WORKER_UNROLL
    for (int i = 0; i < 4; ++i) {
        const uint32_t v = load_u32_a2(b.qs + 4 * i);
        const uint32_t lo = (v & 0x0F0F0F0Fu) | spread_to_bit4(qh >> (4 * i));
        const uint32_t hi = ((v >> 4) & 0x0F0F0F0Fu) | spread_to_bit4(qh >> (16 + 4 * i));
        acc = dp4a(static_cast<int>(vsub4(lo, 0x10101010u)), x[i], acc);
        acc = dp4a(static_cast<int>(vsub4(hi, 0x10101010u)), x[i + 4], acc);
    }
    return half_to_float(b.d) * a.d * static_cast<float>(acc);
}

// Q8_0: w = d * q.
WORKER_HD float unit_dot_q8_0(const uint8_t* row, int64_t u, const BlockQ8Act& a) {
    const quant::BlockQ8_0& b = reinterpret_cast<const quant::BlockQ8_0*>(row)[u];
    int x[8];
    load_act_words(a, x);
    const uint8_t* qs = reinterpret_cast<const uint8_t*>(b.qs);
    int acc = 0;
WORKER_UNROLL
    for (int i = 0; i < 8; ++i) acc = dp4a(static_cast<int>(load_u32_a2(qs + 4 * i)), x[i], acc);
    return half_to_float(b.d) * a.d * static_cast<float>(acc);
}

// Q4_K: unit g of a super-block is its sub-block g: w = (d * scale_g) * q -
// (dmin * min_g), q the low (g even) or high (g odd) nibbles of qs[32 (g / 2) ..].
WORKER_HD float unit_dot_q4_k(const uint8_t* row, int64_t u, const BlockQ8Act& a) {
    const quant::BlockQ4_K& b = reinterpret_cast<const quant::BlockQ4_K*>(row)[u / 8];
    const int g = static_cast<int>(u % 8);
    int x[8];
    load_act_words(a, x);
    // 16-byte aligned: super-blocks are 144 bytes and rows start 256-aligned.
    uint32_t words[8];
    load_32_bytes_a16(b.qs + 32 * (g / 2), words);
    const int shift = 4 * (g % 2);
    int acc = 0;
WORKER_UNROLL
    for (int i = 0; i < 8; ++i) acc = dp4a(static_cast<int>((words[i] >> shift) & 0x0F0F0F0Fu), x[i], acc);
    int scale = 0, min = 0;
    quant::k_scale_min(b.scales, g, scale, min);
    const float d = half_to_float(b.d) * static_cast<float>(scale);
    const float m = half_to_float(b.dmin) * static_cast<float>(min);
    return d * a.d * static_cast<float>(acc) - m * a.s;
}

// Q6_K: unit j of a super-block covers elements 32 j .. 32 j + 31: half n =
// j / 4, quarter k = j % 4; low nibble of ql[64 n + 32 (k % 2) + l] (high
// nibble when k >= 2), 2 high bits from field k of qh[32 n + l], bias 32,
// signed scales per 16 elements.
WORKER_HD float unit_dot_q6_k(const uint8_t* row, int64_t u, const BlockQ8Act& a) {
    const quant::BlockQ6_K& b = reinterpret_cast<const quant::BlockQ6_K*>(row)[u / 8];
    const int j = static_cast<int>(u % 8);
    const int n = j / 4, k = j % 4;
    int x[8];
    load_act_words(a, x);
    const uint8_t* ql = b.ql + 64 * n + 32 * (k % 2);
    const uint8_t* qh = b.qh + 32 * n;
    const int low_shift = 4 * (k / 2);
    const int high_shift = 2 * k;
    int acc[2] = {0, 0};
WORKER_UNROLL
    for (int i = 0; i < 8; ++i) {
        const uint32_t lo = (load_u32_a2(ql + 4 * i) >> low_shift) & 0x0F0F0F0Fu;
        const uint32_t hi = ((load_u32_a2(qh + 4 * i) >> high_shift) & 0x03030303u) << 4;
        const int q = static_cast<int>(vsub4(lo | hi, 0x20202020u));  // bytes q - 32, in [-32, 31]
        acc[i / 4] = dp4a(q, x[i], acc[i / 4]);
    }
    const int scaled = static_cast<int>(b.scales[8 * n + 2 * k]) * acc[0] +
                       static_cast<int>(b.scales[8 * n + 2 * k + 1]) * acc[1];
    return half_to_float(b.d) * a.d * static_cast<float>(scaled);
}

// Unit u (elements 32 u .. 32 u + 31) of a row of kType blocks.
template <GgmlType kType>
WORKER_HD float unit_dot(const uint8_t* row, int64_t u, const BlockQ8Act& a) {
    static_assert(kType == GgmlType::Q4_0 || kType == GgmlType::Q4_1 || kType == GgmlType::Q5_0 ||
                      kType == GgmlType::Q8_0 || kType == GgmlType::Q4_K || kType == GgmlType::Q6_K,
                  "no unit dot product for this type");
    if constexpr (kType == GgmlType::Q4_0) {
        return unit_dot_q4_0(row, u, a);
    } else if constexpr (kType == GgmlType::Q4_1) {
        return unit_dot_q4_1(row, u, a);
    } else if constexpr (kType == GgmlType::Q5_0) {
        return unit_dot_q5_0(row, u, a);
    } else if constexpr (kType == GgmlType::Q8_0) {
        return unit_dot_q8_0(row, u, a);
    } else if constexpr (kType == GgmlType::Q4_K) {
        return unit_dot_q4_k(row, u, a);
    } else {
        return unit_dot_q6_k(row, u, a);
    }
}

// Quantizes n activations (a multiple of 32; of 256 for Q8_K) the way
// quantize_q8_kernel does, with the same per-element expressions; the
// kernel's reductions (max, sums) are done here by loops. For the tests.
inline void quantize_act_row(ActQuant mode, const float* x, int64_t n, BlockQ8Act* out) {
    if (mode == ActQuant::Q8_K) {
        for (int64_t b = 0; b < n / 256; ++b) {
            const float* v = x + 256 * b;
            float amax = 0.0f, max = 0.0f;
            for (int j = 0; j < 256; ++j) {
                if (std::fabs(v[j]) > amax) {
                    amax = std::fabs(v[j]);
                    max = v[j];
                }
            }
            const float iscale = amax == 0.0f ? 0.0f : -127.0f / max;
            const float d = amax == 0.0f ? 0.0f : 1.0f / iscale;
            for (int sb = 0; sb < 8; ++sb) {
                BlockQ8Act& o = out[8 * b + sb];
                int sum = 0;
                for (int l = 0; l < 32; ++l) {
                    const int q = amax == 0.0f ? 0 : std::min(127, round_to_int(mul_rn(iscale, v[32 * sb + l])));
                    o.qs[l] = static_cast<int8_t>(q);
                    sum += q;
                }
                o.d = d;
                o.s = d * static_cast<float>(sum);
            }
        }
        return;
    }
    for (int64_t b = 0; b < n / 32; ++b) {
        const float* v = x + 32 * b;
        float amax = 0.0f;
        for (int i = 0; i < 32; ++i) amax = std::fmax(amax, std::fabs(v[i]));
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int sum = 0;
        for (int i = 0; i < 32; ++i) {
            const int q = round_to_int(mul_rn(v[i], id));
            out[b].qs[i] = static_cast<int8_t>(q);
            sum += q;
        }
        const float s_value = d * static_cast<float>(sum);
        out[b].d = round_to_half(d);
        out[b].s = mode == ActQuant::Q8_1 ? round_to_half(s_value) : s_value;
    }
}
}  // namespace worker::cuda
