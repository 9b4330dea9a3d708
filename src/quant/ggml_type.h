// Tensor element/block types as GGUF numbers them (ggml_type), and the one
// table of what this library knows and does with each: its name, its block
// geometry, and which parts of the engine take it. The GGUF parser, the
// weight loader, the CPU backend and the CUDA backend all ask this table;
// the kernels' own dispatch on the type must agree with it, which
// tests/unit/test_quant_type_table.cpp checks for the host code.
#pragma once

#include <cstdint>

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

// What the engine does with tensors of a type (bits of TypeTraits::caps).
enum TypeCap : uint32_t {
    // dequantize_row (src/quant/dequant.h): the CPU backend's embedding
    // lookups, and the reference the other paths are checked against.
    kCpuDequant = 1u << 0,
    // A CPU dot-product kernel against 8-bit activations
    // (src/cpu/quant_dot.h): the CPU matmul of a quantized weight.
    kCpuDot = 1u << 1,
    // Float weights that every backend multiplies as they are: float
    // matrix-vector kernels, cuBLAS without expansion on the GPU.
    kFloatMatmul = 1u << 2,
    // The CUDA quantized matrix-vector kernel against 8-bit activations
    // (launch_matvec_q8): the GPU decode product.
    kCudaMatvec = 1u << 3,
    // CUDA dequantization (launch_embed, launch_dequantize_f16): GPU
    // embedding lookups, and the weights of a GPU prefill product expanded
    // to half for cuBLAS.
    kCudaDequant = 1u << 4,
};

// The 8-bit activation blocks a product with a quantized weight quantizes
// its activations to, as llama.cpp pairs them (its vec_dot_type): Q8_0,
// blocks of 32 with a half scale; Q8_1, the same with the half of
// d * sum(q); Q8_K, one float scale per 256. The CPU dot products and the
// CUDA matrix-vector and prefill paths all quantize from this column
// (src/cpu/quant_dot.cpp, cuda/quant_units.h).
enum class ActQuant : uint8_t { Q8_0, Q8_1, Q8_K };

struct TypeTraits {
    GgmlType type;
    const char* name;                       // nullptr: not a type this library knows
    uint32_t block_size;                    // elements per block
    uint32_t type_size;                     // bytes per block
    uint32_t caps;                          // TypeCap bits
    ActQuant activations = ActQuant::Q8_0;  // rows without the column: Q8_0

    constexpr bool can(TypeCap cap) const { return (caps & cap) != 0; }
};

namespace type_table_detail {

constexpr uint32_t kCpuQuant = kCpuDequant | kCpuDot;
constexpr uint32_t kCudaQuant = kCudaMatvec | kCudaDequant;

// clang-format off
inline constexpr TypeTraits kTypes[] = {
//   type             name     block bytes  caps                                          activations
    {GgmlType::F32,   "F32",   1,    4,     kCpuDequant | kFloatMatmul | kCudaDequant},
    {GgmlType::F16,   "F16",   1,    2,     kCpuDequant | kFloatMatmul | kCudaDequant},
    {GgmlType::Q4_0,  "Q4_0",  32,   18,    kCpuQuant | kCudaQuant},
    {GgmlType::Q4_1,  "Q4_1",  32,   20,    kCpuQuant | kCudaQuant,                       ActQuant::Q8_1},
    {GgmlType::Q5_0,  "Q5_0",  32,   22,    kCpuQuant | kCudaQuant},
    {GgmlType::Q5_1,  "Q5_1",  32,   24,    kCpuDequant | kCudaDequant},
    {GgmlType::Q8_0,  "Q8_0",  32,   34,    kCpuQuant | kCudaQuant},
    {GgmlType::Q8_1,  "Q8_1",  32,   36,    0},
    {GgmlType::Q2_K,  "Q2_K",  256,  84,    kCpuDequant | kCudaDequant},
    {GgmlType::Q3_K,  "Q3_K",  256,  110,   kCpuDequant | kCudaDequant},
    {GgmlType::Q4_K,  "Q4_K",  256,  144,   kCpuQuant | kCudaQuant,                       ActQuant::Q8_K},
    {GgmlType::Q5_K,  "Q5_K",  256,  176,   kCpuDequant | kCudaDequant},
    {GgmlType::Q6_K,  "Q6_K",  256,  210,   kCpuQuant | kCudaQuant,                       ActQuant::Q8_K},
    {GgmlType::Q8_K,  "Q8_K",  256,  292,   kCpuDequant},
    {GgmlType::I8,    "I8",    1,    1,     0},
    {GgmlType::I16,   "I16",   1,    2,     0},
    {GgmlType::I32,   "I32",   1,    4,     0},
    {GgmlType::I64,   "I64",   1,    8,     0},
    {GgmlType::F64,   "F64",   1,    8,     0},
    {GgmlType::BF16,  "BF16",  1,    2,     kCpuDequant},
    {GgmlType::MXFP4, "MXFP4", 32,   17,    kCpuDequant},
};
// clang-format on

}  // namespace type_table_detail

// Every row of the table, for code that walks all types (tests, tools).
constexpr const auto& type_table() { return type_table_detail::kTypes; }

// The row of a GGUF type number; {name nullptr, sizes 0, no caps} for a
// number this library does not know.
constexpr TypeTraits type_traits(uint32_t type) {
    for (const TypeTraits& t : type_table_detail::kTypes) {
        if (static_cast<uint32_t>(t.type) == type) return t;
    }
    return {static_cast<GgmlType>(type), nullptr, 0, 0, 0};
}

constexpr TypeTraits type_traits(GgmlType type) { return type_traits(static_cast<uint32_t>(type)); }

// The type's name for messages ("unknown" for a number not in the table).
constexpr const char* type_name(GgmlType type) {
    const char* name = type_traits(type).name;
    return name != nullptr ? name : "unknown";
}

// Whether each backend's matmul takes weights of the type: the CPU through a
// float product or a dot-product kernel; the GPU through a float product or,
// for a quantized type, its matrix-vector kernel (decode) and dequantization
// for cuBLAS (prefill, and decode of a type without a matrix-vector kernel).
constexpr bool cpu_matmul_takes(GgmlType type) {
    return type_traits(type).can(kFloatMatmul) || type_traits(type).can(kCpuDot);
}
constexpr bool cuda_matmul_takes(GgmlType type) {
    return type_traits(type).can(kFloatMatmul) || type_traits(type).can(kCudaDequant);
}

// A type the weight loader accepts for a weight matrix: one that the matmul
// of every backend takes, so that a model file loads on every device or on
// none.
constexpr bool is_weight_matrix_type(GgmlType type) { return cpu_matmul_takes(type) && cuda_matmul_takes(type); }

}  // namespace worker
