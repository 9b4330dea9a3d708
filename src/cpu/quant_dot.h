// Dot products of one quantized weight row with activations quantized to
// 8-bit blocks of 32 — the inner loop of every matmul on the CPU. The weights
// are read in their stored block format; nothing is expanded to f32.
#pragma once

#include <cstdint>

#include "cpu/cpu_features.h"
#include "quant/ggml_type.h"

namespace worker::cpu {

// 32 activations as int8 with one scale, plus d times the sum of the int8
// values (formats with a per-block offset — Q4_1, Q4_K — multiply it by the
// offset, once per block rather than once per element).
struct BlockQ8 {
    float d;
    float dsum;
    int8_t qs[32];
    // Q8_K only: the sums of qs[0..15] and qs[16..31] (llama.cpp's bsums),
    // which the K-quant kernels weight with integer scales and mins.
    int16_t bsum[2];
};

// Quantizes n (a multiple of 32) floats into n / 32 blocks.
void quantize_q8(const float* x, BlockQ8* out, int64_t n);
// The scalar form of quantize_q8, which the AVX2 one matches exactly.
void quantize_q8_scalar(const float* x, BlockQ8* out, int64_t n);

// Quantizes activations for a product with weights of `weight_type` exactly
// as llama.cpp's CPU backend does (Q8_0 with a half scale for Q4_0/Q5_0/Q8_0,
// Q8_1 with half scale and half d*sum for Q4_1, Q8_K — one float scale per
// 256 — for the K-quants), so that logits agree with llama.cpp's closely
// enough to keep the same top tokens; the results only differ from
// quantize_q8 by rounding.
void quantize_activations(GgmlType weight_type, const float* x, BlockQ8* out, int64_t n);
// The same with the kernels of `level` (never above what the CPU has); the
// bits are the same at every level.
void quantize_activations(GgmlType weight_type, const float* x, BlockQ8* out, int64_t n, CpuIsa level);

// sum_j w[j] * x[j] over n_blocks blocks of 32 elements. `w` points at the
// row's first block; K-quant rows hold n_blocks / 8 super-blocks.
using DotFn = float (*)(const void* w, const BlockQ8* x, int64_t n_blocks);

// The fastest kernel this CPU runs at cpu_isa() for the type, or nullptr when the type has
// no quantized kernel (F32/F16 use float paths).
DotFn dot_kernel(GgmlType type);
// out[t] = dot of the row with x + t * x_stride for t = 0..3: four tokens of a
// prefill batch share each unpacked weight block. A batch goes through it in
// groups of four tokens from its first, the rest through the DotFn, as
// llama.cpp's batched kernels do: for Q4_K the two sum in different steps
// (llama.cpp's repacked gemm scales every 64 weights, its gemv every 256).
using Dot4Fn = void (*)(const void* w, const BlockQ8* x, int64_t x_stride, int64_t n_blocks, float* out);
Dot4Fn dot4_kernel(GgmlType type);
// The portable four-token kernel, the reference for the SIMD ones.
Dot4Fn dot4_kernel_scalar(GgmlType type);
// The kernels for a batch of n tokens (n = 1: a single token), as llama.cpp
// chooses its own by batch size: `dot4` for each group of four tokens from
// the batch's first, `dot1` for the n % 4 left. They sum as llama.cpp's
// kernels do for that batch size, to the last bit.
struct BatchKernels {
    Dot4Fn dot4;
    DotFn dot1;
};
BatchKernels batch_kernels(GgmlType type, int64_t n);
// The kernels of `level` (a context's Settings::cpu_isa), never above what the CPU has.
BatchKernels batch_kernels(GgmlType type, int64_t n, CpuIsa level);
BatchKernels batch_kernels_scalar(GgmlType type, int64_t n);
// The AVX2 kernel even where AVX-VNNI is present (nullptr without AVX2), so
// tests can check the two give the same sums.
DotFn dot_kernel_avx2(GgmlType type);
// The portable scalar kernel, which is also the reference the SIMD ones are tested against.
DotFn dot_kernel_scalar(GgmlType type);
// The AVX-512 and the plain AVX2 batch kernels whatever WORKER_CPU_ISA says
// ({nullptr, nullptr} where the CPU lacks them), so tests can compare every
// level on one machine.
BatchKernels batch_kernels_avx512(GgmlType type, int64_t n);
BatchKernels batch_kernels_avx2(GgmlType type, int64_t n);
// quantize_q8 in its AVX-512 form; `ran` false (and nothing written) where
// the CPU lacks AVX-512.
void quantize_q8_avx512_or_null(const float* x, BlockQ8* out, int64_t n, bool& ran);
// Name of the instruction set dot_kernel() selected ("avx512", "avx-vnni",
// "avx2" or "scalar"); WORKER_CPU_ISA caps it.
const char* dot_kernel_isa();
// The same for the kernels of `level`.
const char* dot_kernel_isa(CpuIsa level);

}  // namespace worker::cpu
