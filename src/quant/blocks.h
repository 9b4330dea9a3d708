// Memory layouts of the GGUF block formats, bit-exact with the files, shared
// by the CPU code and the CUDA kernels. Scales stored as IEEE half are kept as
// raw uint16_t bits and converted with fp16_to_f32().
#pragma once

#include <cstdint>
#include <cstring>

#include "quant/ggml_type.h"
#include "quant/hd.h"

namespace worker::quant {

constexpr int QK4_0 = 32;
constexpr int QK4_1 = 32;
constexpr int QK5_0 = 32;
constexpr int QK5_1 = 32;
constexpr int QK8_0 = 32;
constexpr int QK8_1 = 32;
constexpr int QK_K = 256;
constexpr int K_SCALE_SIZE = 12;
constexpr int QK_MXFP4 = 32;

struct BlockQ4_0 {
    uint16_t d;             // scale (half)
    uint8_t qs[QK4_0 / 2];  // nibbles: low = element j, high = element j + 16
};
struct BlockQ4_1 {
    uint16_t d;  // scale (half)
    uint16_t m;  // min (half)
    uint8_t qs[QK4_1 / 2];
};
struct BlockQ5_0 {
    uint16_t d;
    uint8_t qh[4];  // 5th bits, little-endian uint32
    uint8_t qs[QK5_0 / 2];
};
struct BlockQ5_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
};
struct BlockQ8_0 {
    uint16_t d;
    int8_t qs[QK8_0];
};
struct BlockQ8_1 {
    uint16_t d;  // scale (half)
    uint16_t s;  // d * sum(qs) (half)
    int8_t qs[QK8_1];
};
struct BlockQ2_K {
    uint8_t scales[QK_K / 16];  // low nibble scale, high nibble min
    uint8_t qs[QK_K / 4];
    uint16_t d;
    uint16_t dmin;
};
struct BlockQ3_K {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];  // 16 6-bit scales
    uint16_t d;
};
struct BlockQ4_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[K_SCALE_SIZE];  // 8 6-bit scales and 8 6-bit mins
    uint8_t qs[QK_K / 2];
};
struct BlockQ5_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
};
struct BlockQ6_K {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
};
struct BlockQ8_K {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
};
struct BlockMXFP4 {
    uint8_t e;  // shared exponent, E8M0
    uint8_t qs[QK_MXFP4 / 2];
};

// Every layout has the geometry the type table (quant/ggml_type.h) gives its type.
template <typename Block>
constexpr bool has_table_geometry(GgmlType type, int elements) {
    return sizeof(Block) == type_traits(type).type_size &&
           static_cast<uint32_t>(elements) == type_traits(type).block_size;
}
static_assert(has_table_geometry<BlockQ4_0>(GgmlType::Q4_0, QK4_0));
static_assert(has_table_geometry<BlockQ4_1>(GgmlType::Q4_1, QK4_1));
static_assert(has_table_geometry<BlockQ5_0>(GgmlType::Q5_0, QK5_0));
static_assert(has_table_geometry<BlockQ5_1>(GgmlType::Q5_1, QK5_1));
static_assert(has_table_geometry<BlockQ8_0>(GgmlType::Q8_0, QK8_0));
static_assert(has_table_geometry<BlockQ8_1>(GgmlType::Q8_1, QK8_1));
static_assert(has_table_geometry<BlockQ2_K>(GgmlType::Q2_K, QK_K));
static_assert(has_table_geometry<BlockQ3_K>(GgmlType::Q3_K, QK_K));
static_assert(has_table_geometry<BlockQ4_K>(GgmlType::Q4_K, QK_K));
static_assert(has_table_geometry<BlockQ5_K>(GgmlType::Q5_K, QK_K));
static_assert(has_table_geometry<BlockQ6_K>(GgmlType::Q6_K, QK_K));
static_assert(has_table_geometry<BlockQ8_K>(GgmlType::Q8_K, QK_K));
static_assert(has_table_geometry<BlockMXFP4>(GgmlType::MXFP4, QK_MXFP4));

// IEEE 754 half (as raw bits) to float, exact for every value including
// subnormals, infinities and NaN.
WORKER_HD float fp16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1Fu;
    uint32_t mantissa = h & 0x3FFu;
    uint32_t bits;
    if (exponent == 0x1F) {
        bits = sign | 0x7F800000u | (mantissa << 13);
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else {  // subnormal: normalise
        exponent = 113;
        while ((mantissa & 0x400u) == 0) {
            mantissa <<= 1;
            --exponent;
        }
        bits = sign | (exponent << 23) | ((mantissa & 0x3FFu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

// Float to IEEE half bits, round to nearest even.
WORKER_HD uint16_t f32_to_fp16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t abs = x & 0x7FFFFFFFu;
    if (abs >= 0x7F800000u) return static_cast<uint16_t>(sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u : 0u));
    if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds to infinity
    if (abs < 0x38800000u) {                                               // subnormal or zero in half
        const uint32_t shift = 113 - (abs >> 23);
        // Below half the smallest subnormal everything rounds to zero; returning
        // here also keeps the shifts below 32 bits.
        if (shift > 18) return static_cast<uint16_t>(sign);
        const uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
        uint32_t half = mantissa >> (shift + 13);
        const uint32_t rest = mantissa & ((1u << (shift + 13)) - 1);
        const uint32_t halfway = 1u << (shift + 12);
        if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
        return static_cast<uint16_t>(sign | half);
    }
    uint32_t half = ((abs - 0x38000000u) >> 13);
    const uint32_t rest = abs & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
}

WORKER_HD float bf16_to_f32(uint16_t h) {
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

}  // namespace worker::quant
