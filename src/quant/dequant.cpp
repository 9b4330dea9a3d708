#include "quant/dequant.h"

#include <cstring>

#include "core/error.h"

namespace worker {

namespace {

// Blocks are copied out one at a time: rows inside a tensor need not be
// aligned for the block struct.
template <typename Block>
void dequantize_blocks(const uint8_t* src, float* dst, int64_t n) {
    constexpr int kElements = quant::BlockElements<Block>::value;
    for (int64_t b = 0; b < n / kElements; ++b) {
        Block block;
        std::memcpy(&block, src + b * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
        quant::dequantize_block(block, dst + b * kElements);
    }
}

}  // namespace

void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
    const TypeTraits traits = type_traits(type);
    if (!traits.can(kCpuDequant)) {
        fail(CUDA_ERROR_INVALID_PARAMETER, "dequantize_row: no dequantizer for tensor type ", type_name(type));
    }
    if (n < 0 || n % traits.block_size != 0) {
        fail(CUDA_ERROR_INVALID_PARAMETER, "dequantize_row: ", n, " elements is not a whole number of ", traits.name,
             " blocks of ", traits.block_size);
    }
    const auto* bytes = static_cast<const uint8_t*>(src);
    switch (type) {
        case GgmlType::F32:
            std::memcpy(dst, bytes, static_cast<size_t>(n) * sizeof(float));
            return;
        case GgmlType::F16:
        case GgmlType::BF16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, bytes + 2 * i, sizeof h);
                dst[i] = type == GgmlType::F16 ? quant::fp16_to_f32(h) : quant::bf16_to_f32(h);
            }
            return;
        case GgmlType::Q4_0:
            dequantize_blocks<quant::BlockQ4_0>(bytes, dst, n);
            return;
        case GgmlType::Q4_1:
            dequantize_blocks<quant::BlockQ4_1>(bytes, dst, n);
            return;
        case GgmlType::Q5_0:
            dequantize_blocks<quant::BlockQ5_0>(bytes, dst, n);
            return;
        case GgmlType::Q5_1:
            dequantize_blocks<quant::BlockQ5_1>(bytes, dst, n);
            return;
        case GgmlType::Q8_0:
            dequantize_blocks<quant::BlockQ8_0>(bytes, dst, n);
            return;
        case GgmlType::Q2_K:
            dequantize_blocks<quant::BlockQ2_K>(bytes, dst, n);
            return;
        case GgmlType::Q3_K:
            dequantize_blocks<quant::BlockQ3_K>(bytes, dst, n);
            return;
        case GgmlType::Q4_K:
            dequantize_blocks<quant::BlockQ4_K>(bytes, dst, n);
            return;
        case GgmlType::Q5_K:
            dequantize_blocks<quant::BlockQ5_K>(bytes, dst, n);
            return;
        case GgmlType::Q6_K:
            dequantize_blocks<quant::BlockQ6_K>(bytes, dst, n);
            return;
        case GgmlType::Q8_K:
            dequantize_blocks<quant::BlockQ8_K>(bytes, dst, n);
            return;
        case GgmlType::MXFP4:
            dequantize_blocks<quant::BlockMXFP4>(bytes, dst, n);
            return;
        default:
            return;  // refused above
    }
}

}  // namespace worker
