// Dequantization of the GGUF block formats, shared by the CPU code and the
// CUDA kernels (every function is __host__ __device__ under nvcc).
//
// Two forms per block type:
//   block_value(block, i)        element i of one block, for kernels that
//                                 spread a block over threads;
//   dequantize_block(block, out) all elements of one block into out[].
// Both evaluate the same float expressions in the same order as ggml's
// reference dequantizers (e.g. (d * scale) * q - (dmin * min)), so that host
// results are bit-exact with the reference values in tests/data/quant/, and
// products followed by an add go through mul_rn() (quant/rn_math.h) so that
// nvcc cannot fuse them into an FMA: device results are bit-exact with the
// host too.
#pragma once

#include <cstdint>

#include "quant/blocks.h"
#include "quant/ggml_type.h"
#include "quant/hd.h"
#include "quant/rn_math.h"

namespace worker::quant {

// ---- 32-element blocks ---------------------------------------------------------

// Element i < 16 is the low nibble of qs[i], element i >= 16 the high nibble
// of qs[i - 16]: shared by Q4_0, Q4_1, Q5_0, Q5_1 and MXFP4.
WORKER_HD int low_high_nibble(const uint8_t* qs, int i) { return i < 16 ? (qs[i] & 0x0F) : (qs[i - 16] >> 4); }

WORKER_HD uint32_t load_u32_le(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
           (static_cast<uint32_t>(p[3]) << 24);
}

WORKER_HD float block_value(const BlockQ4_0& b, int i) {
    return fp16_to_f32(b.d) * static_cast<float>(low_high_nibble(b.qs, i) - 8);
}

WORKER_HD float block_value(const BlockQ4_1& b, int i) {
    return mul_rn(fp16_to_f32(b.d), static_cast<float>(low_high_nibble(b.qs, i))) + fp16_to_f32(b.m);
}

WORKER_HD int q5_value(const uint8_t* qh, const uint8_t* qs, int i) {
    const int high = static_cast<int>((load_u32_le(qh) >> i) & 1u);
    return low_high_nibble(qs, i) | (high << 4);
}

WORKER_HD float block_value(const BlockQ5_0& b, int i) {
    return fp16_to_f32(b.d) * static_cast<float>(q5_value(b.qh, b.qs, i) - 16);
}

WORKER_HD float block_value(const BlockQ5_1& b, int i) {
    return mul_rn(fp16_to_f32(b.d), static_cast<float>(q5_value(b.qh, b.qs, i))) + fp16_to_f32(b.m);
}

WORKER_HD float block_value(const BlockQ8_0& b, int i) { return static_cast<float>(b.qs[i]) * fp16_to_f32(b.d); }

// E8M0 shared exponent to float, halved: the E2M1 table below is stored
// doubled so that it holds integers. Exponents 0 and 1 give subnormals.
WORKER_HD float e8m0_to_f32_half(uint8_t e) {
    const uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

// E2M1 code to twice its value.
WORKER_HD int e2m1_doubled(int code) {
    const int magnitude[8] = {0, 1, 2, 3, 4, 6, 8, 12};
    return (code & 8) ? -magnitude[code & 7] : magnitude[code & 7];
}

WORKER_HD float block_value(const BlockMXFP4& b, int i) {
    return e8m0_to_f32_half(b.e) * static_cast<float>(e2m1_doubled(low_high_nibble(b.qs, i)));
}

// ---- 256-element super-blocks ----------------------------------------------------

// Q2_K: element i uses the 2-bit field (i / 32) % 4 of byte qs[(i / 128) * 32 + i % 32];
// each group of 16 elements has a 4-bit scale (low nibble) and a 4-bit min.
WORKER_HD float block_value(const BlockQ2_K& b, int i) {
    const int q = (b.qs[(i / 128) * 32 + i % 32] >> (2 * ((i / 32) % 4))) & 3;
    const uint8_t sm = b.scales[i / 16];
    const float dl = fp16_to_f32(b.d) * static_cast<float>(sm & 0x0F);
    const float ml = mul_rn(fp16_to_f32(b.dmin), static_cast<float>(sm >> 4));
    return mul_rn(dl, static_cast<float>(q)) - ml;
}

// Q3_K's 16 signed 6-bit scales: low 4 bits in the nibbles of bytes 0..7,
// high 2 bits in the 2-bit fields of bytes 8..11; stored with a +32 bias.
WORKER_HD int q3_k_scale(const uint8_t* scales, int j) {
    const int low = j < 8 ? (scales[j] & 0x0F) : (scales[j - 8] >> 4);
    const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | (high << 4)) - 32;
}

// Q3_K: 2 low bits as in Q2_K; the high bit (bit i / 32 of hmask[i % 32]) set
// means +0, clear means -4.
WORKER_HD float block_value(const BlockQ3_K& b, int i) {
    const int low = (b.qs[(i / 128) * 32 + i % 32] >> (2 * ((i / 32) % 4))) & 3;
    const int high = (b.hmask[i % 32] >> (i / 32)) & 1;
    const float dl = fp16_to_f32(b.d) * static_cast<float>(q3_k_scale(b.scales, i / 16));
    return dl * static_cast<float>(low - (high ? 0 : 4));
}

// Q4_K/Q5_K: 8 unsigned 6-bit scales and mins packed into 12 bytes. Scales
// 0..3 and mins 0..3 are the low 6 bits of bytes 0..3 and 4..7; scales and
// mins 4..7 take their low 4 bits from the nibbles of bytes 8..11 and their
// high 2 bits from the top bits of bytes 0..3 and 4..7.
WORKER_HD void k_scale_min(const uint8_t* s, int j, int& scale, int& min) {
    if (j < 4) {
        scale = s[j] & 63;
        min = s[j + 4] & 63;
    } else {
        scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// Q4_K: sub-block g = i / 32 of 32 elements; sub-blocks 2k and 2k + 1 share the
// bytes qs[32k .. 32k + 31] (low and high nibbles).
WORKER_HD float block_value(const BlockQ4_K& b, int i) {
    const int g = i / 32;
    int scale = 0, min = 0;
    k_scale_min(b.scales, g, scale, min);
    const int q = (b.qs[(g / 2) * 32 + i % 32] >> (4 * (g % 2))) & 0x0F;
    const float d = fp16_to_f32(b.d) * static_cast<float>(scale);
    const float m = mul_rn(fp16_to_f32(b.dmin), static_cast<float>(min));
    return mul_rn(d, static_cast<float>(q)) - m;
}

// Q5_K: Q4_K plus a fifth bit, bit g of qh[i % 32].
WORKER_HD float block_value(const BlockQ5_K& b, int i) {
    const int g = i / 32;
    int scale = 0, min = 0;
    k_scale_min(b.scales, g, scale, min);
    const int low = (b.qs[(g / 2) * 32 + i % 32] >> (4 * (g % 2))) & 0x0F;
    const int high = (b.qh[i % 32] >> g) & 1;
    const float d = fp16_to_f32(b.d) * static_cast<float>(scale);
    const float m = mul_rn(fp16_to_f32(b.dmin), static_cast<float>(min));
    return mul_rn(d, static_cast<float>(low | (high << 4))) - m;
}

// Q6_K: each half of 128 elements has 64 bytes of low nibbles (elements r and
// r + 64 of the half share byte r) and 32 bytes of 2-bit high parts (field
// r / 32 of byte r % 32); values carry a +32 bias; signed 8-bit scale per 16.
WORKER_HD float block_value(const BlockQ6_K& b, int i) {
    const int half = i / 128;
    const int r = i % 128;
    const int low = (b.ql[half * 64 + r % 64] >> (4 * (r / 64))) & 0x0F;
    const int high = (b.qh[half * 32 + r % 32] >> (2 * (r / 32))) & 3;
    const float d = fp16_to_f32(b.d) * static_cast<float>(b.scales[i / 16]);
    return d * static_cast<float>((low | (high << 4)) - 32);
}

WORKER_HD float block_value(const BlockQ8_K& b, int i) { return b.d * static_cast<float>(b.qs[i]); }

// ---- whole blocks ------------------------------------------------------------------

template <typename Block>
struct BlockElements;
template <>
struct BlockElements<BlockQ4_0> {
    static constexpr int value = QK4_0;
};
template <>
struct BlockElements<BlockQ4_1> {
    static constexpr int value = QK4_1;
};
template <>
struct BlockElements<BlockQ5_0> {
    static constexpr int value = QK5_0;
};
template <>
struct BlockElements<BlockQ5_1> {
    static constexpr int value = QK5_1;
};
template <>
struct BlockElements<BlockQ8_0> {
    static constexpr int value = QK8_0;
};
template <>
struct BlockElements<BlockMXFP4> {
    static constexpr int value = QK_MXFP4;
};
template <>
struct BlockElements<BlockQ2_K> {
    static constexpr int value = QK_K;
};
template <>
struct BlockElements<BlockQ3_K> {
    static constexpr int value = QK_K;
};
template <>
struct BlockElements<BlockQ4_K> {
    static constexpr int value = QK_K;
};
template <>
struct BlockElements<BlockQ5_K> {
    static constexpr int value = QK_K;
};
template <>
struct BlockElements<BlockQ6_K> {
    static constexpr int value = QK_K;
};
template <>
struct BlockElements<BlockQ8_K> {
    static constexpr int value = QK_K;
};

// Writes the BlockElements<Block>::value elements of `b` to out[0..].
template <typename Block>
WORKER_HD void dequantize_block(const Block& b, float* out) {
    for (int i = 0; i < BlockElements<Block>::value; ++i) out[i] = block_value(b, i);
}

}  // namespace worker::quant

namespace worker {

// Dequantizes n elements stored as `type` at `src` (unaligned is fine) into
// dst. Throws Error(CUDA_ERROR_INVALID_PARAMETER) when the type has no
// dequantizer or n is negative or not a multiple of the type's block size.
// Types: those with kCpuDequant in the type table (quant/ggml_type.h).
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);

// True when dequantize_row accepts the type.
inline bool can_dequantize(GgmlType type) { return type_traits(type).can(kCpuDequant); }

}  // namespace worker
