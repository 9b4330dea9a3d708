// Tensor element/block types as GGUF numbers them (ggml_type), with the block
// geometry of each type this library understands.
#pragma once

#include <cstdint>

#include "quant/hd.h"

namespace worker {

enum class GgmlType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    BF16 = 30,
    MXFP4 = 39,
};

struct TypeTraits {
    const char* name;     // nullptr: not a type this library knows
    uint32_t block_size;  // elements per block
    uint32_t type_size;   // bytes per block
};

WORKER_HD TypeTraits type_traits(uint32_t type) {
    switch (type) {
        case 0: return {"F32", 1, 4};
        case 1: return {"F16", 1, 2};
        case 2: return {"Q4_0", 32, 18};
        case 3: return {"Q4_1", 32, 20};
        case 6: return {"Q5_0", 32, 22};
        case 7: return {"Q5_1", 32, 24};
        case 8: return {"Q8_0", 32, 34};
        case 9: return {"Q8_1", 32, 36};
        case 10: return {"Q2_K", 256, 84};
        case 11: return {"Q3_K", 256, 110};
        case 12: return {"Q4_K", 256, 144};
        case 13: return {"Q5_K", 256, 176};
        case 14: return {"Q6_K", 256, 210};
        case 15: return {"Q8_K", 256, 292};
        case 24: return {"I8", 1, 1};
        case 25: return {"I16", 1, 2};
        case 26: return {"I32", 1, 4};
        case 27: return {"I64", 1, 8};
        case 28: return {"F64", 1, 8};
        case 30: return {"BF16", 1, 2};
        case 39: return {"MXFP4", 32, 17};
        default: return {nullptr, 0, 0};
    }
}

WORKER_HD TypeTraits type_traits(GgmlType type) { return type_traits(static_cast<uint32_t>(type)); }

}  // namespace worker
