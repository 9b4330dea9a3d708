// The test writer's quantizers: float values to the block formats the
// library reads (round-to-nearest per block, as ggml's reference quantizers),
// split from gguf_writer.cpp.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "quant/blocks.h"
#include "quant/dequant.h"
#include "support/gguf_writer.h"

namespace worker::test {

namespace {

// ---- quantizers -------------------------------------------------------------------

int nearest(float x) { return static_cast<int>(std::lround(x)); }

template <typename Block>
void append_block(std::vector<uint8_t>& out, const Block& b) {
    const auto* p = reinterpret_cast<const uint8_t*>(&b);
    out.insert(out.end(), p, p + sizeof b);
}

// The element of largest magnitude, sign kept: Q4_0/Q5_0 map it to the
// most negative code so the asymmetric range is used fully.
float signed_absmax(const float* x, int n) {
    float best = 0.0f;
    for (int i = 0; i < n; ++i)
        if (std::fabs(x[i]) > std::fabs(best)) best = x[i];
    return best;
}

void quantize_q8_0(const float* x, std::vector<uint8_t>& out) {
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    quant::BlockQ8_0 b{};
    b.d = quant::f32_to_fp16(d);
    for (int i = 0; i < 32; ++i) b.qs[i] = static_cast<int8_t>(std::clamp(nearest(x[i] * id), -127, 127));
    append_block(out, b);
}

void quantize_q4_0(const float* x, std::vector<uint8_t>& out) {
    const float d = signed_absmax(x, 32) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    quant::BlockQ4_0 b{};
    b.d = quant::f32_to_fp16(d);
    for (int j = 0; j < 16; ++j) {
        const int lo = std::clamp(nearest(x[j] * id) + 8, 0, 15);
        const int hi = std::clamp(nearest(x[j + 16] * id) + 8, 0, 15);
        b.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
    append_block(out, b);
}

void quantize_q4_1(const float* x, std::vector<uint8_t>& out) {
    const float lo = *std::min_element(x, x + 32);
    const float hi = *std::max_element(x, x + 32);
    const float d = (hi - lo) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    quant::BlockQ4_1 b{};
    b.d = quant::f32_to_fp16(d);
    b.m = quant::f32_to_fp16(lo);
    for (int j = 0; j < 16; ++j) {
        const int q0 = std::clamp(nearest((x[j] - lo) * id), 0, 15);
        const int q1 = std::clamp(nearest((x[j + 16] - lo) * id), 0, 15);
        b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
    append_block(out, b);
}

void quantize_q5_0(const float* x, std::vector<uint8_t>& out) {
    const float d = signed_absmax(x, 32) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    quant::BlockQ5_0 b{};
    b.d = quant::f32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        const int q0 = std::clamp(nearest(x[j] * id) + 16, 0, 31);
        const int q1 = std::clamp(nearest(x[j + 16] * id) + 16, 0, 31);
        b.qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
        qh |= static_cast<uint32_t>(q0 >> 4) << j;
        qh |= static_cast<uint32_t>(q1 >> 4) << (j + 16);
    }
    for (int k = 0; k < 4; ++k) b.qh[k] = static_cast<uint8_t>(qh >> (8 * k));
    append_block(out, b);
}

// Q4_K and Q5_K: per 32-element sub-block, value = d*sc*q - dmin*m with 6-bit
// sc and m and q in [0, levels]. Writes d, dmin and the packed scales; returns
// the codes q.
template <typename Block>
void quantize_k_sub_blocks(const float* x, int levels, Block& b, int* q_out) {
    float scale[8], neg_min[8];
    for (int g = 0; g < 8; ++g) {
        const float* s = x + 32 * g;
        const float lo = std::min(0.0f, *std::min_element(s, s + 32));  // stored mins are >= 0: -dmin*m <= 0
        const float hi = *std::max_element(s, s + 32);
        scale[g] = (hi - lo) / static_cast<float>(levels);
        neg_min[g] = -lo;
    }
    const float d = *std::max_element(scale, scale + 8) / 63.0f;
    const float dmin = *std::max_element(neg_min, neg_min + 8) / 63.0f;
    int sc[8], mn[8];
    for (int g = 0; g < 8; ++g) {
        sc[g] = d != 0.0f ? std::clamp(nearest(scale[g] / d), 0, 63) : 0;
        mn[g] = dmin != 0.0f ? std::clamp(nearest(neg_min[g] / dmin), 0, 63) : 0;
    }
    b.d = quant::f32_to_fp16(d);
    b.dmin = quant::f32_to_fp16(dmin);
    // Inverse of k_scale_min() in quant/dequant.h.
    for (int j = 0; j < 4; ++j) {
        b.scales[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        b.scales[j + 4] = static_cast<uint8_t>((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
        b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0x0F) | ((mn[j + 4] & 0x0F) << 4));
    }
    const float dq = quant::fp16_to_f32(b.d), mq = quant::fp16_to_f32(b.dmin);
    for (int i = 0; i < 256; ++i) {
        const int g = i / 32;
        const float step = dq * static_cast<float>(sc[g]);
        const float offset = mq * static_cast<float>(mn[g]);
        q_out[i] = step != 0.0f ? std::clamp(nearest((x[i] + offset) / step), 0, levels) : 0;
    }
}

void quantize_q4_k(const float* x, std::vector<uint8_t>& out) {
    quant::BlockQ4_K b{};
    int q[256];
    quantize_k_sub_blocks(x, 15, b, q);
    for (int i = 0; i < 256; ++i) {
        const int g = i / 32;
        b.qs[(g / 2) * 32 + i % 32] |= static_cast<uint8_t>(q[i] << (4 * (g % 2)));
    }
    append_block(out, b);
}

void quantize_q5_k(const float* x, std::vector<uint8_t>& out) {
    quant::BlockQ5_K b{};
    int q[256];
    quantize_k_sub_blocks(x, 31, b, q);
    for (int i = 0; i < 256; ++i) {
        const int g = i / 32;
        b.qs[(g / 2) * 32 + i % 32] |= static_cast<uint8_t>((q[i] & 0x0F) << (4 * (g % 2)));
        b.qh[i % 32] |= static_cast<uint8_t>((q[i] >> 4) << g);
    }
    append_block(out, b);
}

void quantize_q5_1(const float* x, std::vector<uint8_t>& out) {
    const float lo = *std::min_element(x, x + 32);
    const float hi = *std::max_element(x, x + 32);
    const float d = (hi - lo) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    quant::BlockQ5_1 b{};
    b.d = quant::f32_to_fp16(d);
    b.m = quant::f32_to_fp16(lo);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        const int q0 = std::clamp(nearest((x[j] - lo) * id), 0, 31);
        const int q1 = std::clamp(nearest((x[j + 16] - lo) * id), 0, 31);
        b.qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
        qh |= static_cast<uint32_t>(q0 >> 4) << j;
        qh |= static_cast<uint32_t>(q1 >> 4) << (j + 16);
    }
    for (int k = 0; k < 4; ++k) b.qh[k] = static_cast<uint8_t>(qh >> (8 * k));
    append_block(out, b);
}

// Q2_K: per 16 elements value = d*sc*q - dmin*m with 4-bit sc, m and q in [0, 3].
void quantize_q2_k(const float* x, std::vector<uint8_t>& out) {
    float scale[16], neg_min[16];
    for (int g = 0; g < 16; ++g) {
        const float* s = x + 16 * g;
        const float lo = std::min(0.0f, *std::min_element(s, s + 16));
        scale[g] = (*std::max_element(s, s + 16) - lo) / 3.0f;
        neg_min[g] = -lo;
    }
    const float d = *std::max_element(scale, scale + 16) / 15.0f;
    const float dmin = *std::max_element(neg_min, neg_min + 16) / 15.0f;
    quant::BlockQ2_K b{};
    b.d = quant::f32_to_fp16(d);
    b.dmin = quant::f32_to_fp16(dmin);
    const float dq = quant::fp16_to_f32(b.d), mq = quant::fp16_to_f32(b.dmin);
    for (int g = 0; g < 16; ++g) {
        const int sc = dq != 0.0f ? std::clamp(nearest(scale[g] / dq), 0, 15) : 0;
        const int mn = mq != 0.0f ? std::clamp(nearest(neg_min[g] / mq), 0, 15) : 0;
        b.scales[g] = static_cast<uint8_t>(sc | (mn << 4));
        const float step = dq * static_cast<float>(sc);
        const float offset = mq * static_cast<float>(mn);
        for (int i = 16 * g; i < 16 * g + 16; ++i) {
            const int q = step != 0.0f ? std::clamp(nearest((x[i] + offset) / step), 0, 3) : 0;
            b.qs[(i / 128) * 32 + i % 32] |= static_cast<uint8_t>(q << (2 * ((i / 32) % 4)));
        }
    }
    append_block(out, b);
}

// Q3_K: per 16 elements a signed 6-bit scale of d; q in [-4, 3] stored as 2
// low bits plus a high bit (set: +0, clear: -4).
void quantize_q3_k(const float* x, std::vector<uint8_t>& out) {
    float group_scale[16];
    for (int g = 0; g < 16; ++g) group_scale[g] = signed_absmax(x + 16 * g, 16) / -4.0f;
    const float d = std::fabs(signed_absmax(group_scale, 16)) / 31.0f;
    quant::BlockQ3_K b{};
    b.d = quant::f32_to_fp16(d);
    const float dq = quant::fp16_to_f32(b.d);
    for (int g = 0; g < 16; ++g) {
        const int sc = dq != 0.0f ? std::clamp(nearest(group_scale[g] / dq), -32, 31) : 0;
        const int biased = sc + 32;  // inverse of q3_k_scale() in quant/dequant.h
        b.scales[g % 8] |= static_cast<uint8_t>((biased & 0x0F) << (4 * (g / 8)));
        b.scales[8 + g % 4] |= static_cast<uint8_t>((biased >> 4) << (2 * (g / 4)));
        const float step = dq * static_cast<float>(sc);
        for (int i = 16 * g; i < 16 * g + 16; ++i) {
            const int u = (step != 0.0f ? std::clamp(nearest(x[i] / step), -4, 3) : 0) + 4;
            b.qs[(i / 128) * 32 + i % 32] |= static_cast<uint8_t>((u & 3) << (2 * ((i / 32) % 4)));
            b.hmask[i % 32] |= static_cast<uint8_t>((u >> 2) << (i / 32));
        }
    }
    append_block(out, b);
}

void quantize_q8_k(const float* x, std::vector<uint8_t>& out) {
    float amax = 0.0f;
    for (int i = 0; i < 256; ++i) amax = std::max(amax, std::fabs(x[i]));
    quant::BlockQ8_K b{};
    b.d = amax / 127.0f;
    const float id = b.d != 0.0f ? 1.0f / b.d : 0.0f;
    for (int i = 0; i < 256; ++i) {
        b.qs[i] = static_cast<int8_t>(std::clamp(nearest(x[i] * id), -127, 127));
        b.bsums[i / 16] = static_cast<int16_t>(b.bsums[i / 16] + b.qs[i]);
    }
    append_block(out, b);
}

// MXFP4: a power-of-two scale (E8M0) chosen so that the largest magnitude
// fits E2M1's largest value 6; each element takes the nearest of the 16 codes.
void quantize_mxfp4(const float* x, std::vector<uint8_t>& out) {
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
    quant::BlockMXFP4 b{};
    const int exponent = amax > 0.0f ? static_cast<int>(std::ceil(std::log2(amax / 6.0f))) + 127 : 0;
    b.e = static_cast<uint8_t>(std::clamp(exponent, 0, 254));
    const float half_scale = quant::e8m0_to_f32_half(b.e);
    for (int i = 0; i < 32; ++i) {
        int best = 0;
        for (int code = 1; code < 16; ++code) {
            const float err = std::fabs(half_scale * static_cast<float>(quant::e2m1_doubled(code)) - x[i]);
            if (err < std::fabs(half_scale * static_cast<float>(quant::e2m1_doubled(best)) - x[i])) best = code;
        }
        b.qs[i % 16] |= static_cast<uint8_t>(best << (4 * (i / 16)));
    }
    append_block(out, b);
}

// Q6_K: per 16 elements a signed 8-bit scale of the super-block's d; q in [-32, 31].
void quantize_q6_k(const float* x, std::vector<uint8_t>& out) {
    float group_scale[16];
    for (int g = 0; g < 16; ++g) group_scale[g] = signed_absmax(x + 16 * g, 16) / -32.0f;
    const float d = std::fabs(signed_absmax(group_scale, 16)) / 127.0f;
    quant::BlockQ6_K b{};
    b.d = quant::f32_to_fp16(d);
    const float dq = quant::fp16_to_f32(b.d);
    for (int g = 0; g < 16; ++g) {
        b.scales[g] = static_cast<int8_t>(dq != 0.0f ? std::clamp(nearest(group_scale[g] / dq), -128, 127) : 0);
    }
    for (int i = 0; i < 256; ++i) {
        const float step = dq * static_cast<float>(b.scales[i / 16]);
        const int q = (step != 0.0f ? std::clamp(nearest(x[i] / step), -32, 31) : 0) + 32;
        const int half = i / 128, r = i % 128;
        b.ql[half * 64 + r % 64] |= static_cast<uint8_t>((q & 0x0F) << (4 * (r / 64)));
        b.qh[half * 32 + r % 32] |= static_cast<uint8_t>((q >> 4) << (2 * (r / 32)));
    }
    append_block(out, b);
}

uint16_t f32_to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
    return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);                 // nearest even
}

}  // namespace

// ---- quantize --------------------------------------------------------------------------

bool can_quantize(GgmlType type) {
    switch (type) {
        case GgmlType::F32:
        case GgmlType::F16:
        case GgmlType::BF16:
        case GgmlType::Q8_0:
        case GgmlType::Q4_0:
        case GgmlType::Q4_1:
        case GgmlType::Q5_0:
        case GgmlType::Q5_1:
        case GgmlType::Q2_K:
        case GgmlType::Q3_K:
        case GgmlType::Q4_K:
        case GgmlType::Q5_K:
        case GgmlType::Q6_K:
        case GgmlType::Q8_K:
        case GgmlType::MXFP4:
            return true;
        default:
            return false;
    }
}

std::vector<uint8_t> quantize(GgmlType type, const std::vector<float>& values) {
    const TypeTraits traits = type_traits(type);
    if (!can_quantize(type)) {
        throw std::invalid_argument(std::string("no quantizer for ") + (traits.name ? traits.name : "unknown type"));
    }
    if (values.size() % traits.block_size != 0) {
        throw std::invalid_argument(std::to_string(values.size()) + " values are not whole " + traits.name + " blocks");
    }
    std::vector<uint8_t> out;
    out.reserve(values.size() / traits.block_size * traits.type_size);
    const float* x = values.data();
    const size_t n_blocks = values.size() / traits.block_size;
    for (size_t b = 0; b < n_blocks; ++b, x += traits.block_size) {
        switch (type) {
            case GgmlType::F32:
                append_block(out, *x);
                break;
            case GgmlType::F16:
                append_block(out, quant::f32_to_fp16(*x));
                break;
            case GgmlType::BF16:
                append_block(out, f32_to_bf16(*x));
                break;
            case GgmlType::Q8_0:
                quantize_q8_0(x, out);
                break;
            case GgmlType::Q4_0:
                quantize_q4_0(x, out);
                break;
            case GgmlType::Q4_1:
                quantize_q4_1(x, out);
                break;
            case GgmlType::Q5_0:
                quantize_q5_0(x, out);
                break;
            case GgmlType::Q4_K:
                quantize_q4_k(x, out);
                break;
            case GgmlType::Q6_K:
                quantize_q6_k(x, out);
                break;
            case GgmlType::Q5_1:
                quantize_q5_1(x, out);
                break;
            case GgmlType::Q2_K:
                quantize_q2_k(x, out);
                break;
            case GgmlType::Q3_K:
                quantize_q3_k(x, out);
                break;
            case GgmlType::Q5_K:
                quantize_q5_k(x, out);
                break;
            case GgmlType::Q8_K:
                quantize_q8_k(x, out);
                break;
            case GgmlType::MXFP4:
                quantize_mxfp4(x, out);
                break;
            default:
                break;
        }
    }
    return out;
}

}  // namespace worker::test
