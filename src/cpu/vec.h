// Float vector helpers for the attention loops, dispatched at run time to AVX2
// where the CPU has it (the compiler cannot vectorise a float reduction on
// its own without relaxing IEEE ordering for the whole library).
#pragma once

#include <cstdint>

#include "cpu/cpu_features.h"

namespace worker::cpu {

// sum_i a[i] * b[i]
float dot_f32(const float* a, const float* b, int64_t n);
// y[i] += s * x[i]
void axpy_f32(float s, const float* x, float* y, int64_t n);
// x[i] = float(half(x[i])): rounds to half precision in place.
void round_to_f16(float* x, int64_t n);
// dst[i] = half(src[i]), round to nearest even.
void to_f16(const float* src, uint16_t* dst, int64_t n);

// ---- llama.cpp's own rounding, reproduced bit for bit ----
// llama.cpp's CPU backend (ggml) on an AVX-512 machine evaluates e^x with its
// own polynomial, sums 16 lanes at a time and reduces them in a fixed tree.
// The functions below give the same bits with AVX2 or plain C++, so that our
// CPU forward pass reproduces llama.cpp's to the last bit on any x86-64.

// ggml's e^x (ggml_v_expf, AVX-512 form): a degree-5 polynomial scaled by 2^n.
float exp_ggml(float x);
// y[i] = exp_ggml(x[i])
void exp_ggml(const float* x, float* y, int64_t n);
// y[i] = g[i] / (1 + exp_ggml(-g[i])) * u[i] over whole groups of 16 and with
// the C library's expf for the n % 16 left over, as ggml_vec_swiglu_f32.
void swiglu_ggml(const float* g, const float* u, float* y, int64_t n);
// The sum of 16 floats in the order of _mm512_reduce_add_ps.
float reduce16(const float* v);
// scores[k] = q . rows[k] (the halves widened to float) for `count` rows
// `stride` halves apart, summed as llama.cpp sums them: `lanes16` as its
// batched F16 matrix product (one accumulator of 16 lanes; n % 16 == 0),
// otherwise as ggml_vec_dot_f16 (four accumulators of 16 lanes over steps of
// 64, the rest in double).
void dot_f16_rows_ggml(const float* q, const uint16_t* rows, int64_t stride, int64_t count, int64_t n, bool lanes16,
                       float* scores);
// o[d] = sum_k w[k] * rows[k][d] for rows first..first+count-1 (k counts
// from the cache's row 0, where llama.cpp's sums start), with the products
// of row k in lane k % 16 (`lanes16`) or k % 64 (four accumulators of 16
// lanes), reduced as llama.cpp reduces them. `acc` holds 64 * n floats.
void wsum_f16_rows_ggml(const float* w, const uint16_t* rows, int64_t stride, int64_t first, int64_t count, int64_t n,
                        bool lanes16, float* acc, float* o);

// The portable forms, which the AVX2 ones match bit for bit (tests compare them).
void exp_ggml_rows_scalar(const float* x, float* y, int64_t n);
void swiglu_ggml_scalar(const float* g, const float* u, float* y, int64_t n);
void dot_f16_rows_ggml_scalar(const float* q, const uint16_t* rows, int64_t stride, int64_t count, int64_t n,
                              bool lanes16, float* scores);
void wsum_f16_rows_ggml_scalar(const float* w, const uint16_t* rows, int64_t stride, int64_t first, int64_t count,
                               int64_t n, bool lanes16, float* acc, float* o);

// The kernels of one instruction-set level, all giving the same bits.
struct VecKernels {
    void (*exp_rows)(const float*, float*, int64_t);
    void (*swiglu)(const float*, const float*, float*, int64_t);
    void (*dot_f16_rows)(const float*, const uint16_t*, int64_t, int64_t, int64_t, bool, float*);
    void (*wsum_f16_rows)(const float*, const uint16_t*, int64_t, int64_t, int64_t, int64_t, bool, float*, float*);
    void (*to_f16)(const float*, uint16_t*, int64_t);
    void (*round_to_f16)(float*, int64_t);
    void (*axpy)(float, const float*, float*, int64_t);
    float (*dot)(const float*, const float*, int64_t);
};
// The kernels of `level` (a context's Settings::cpu_isa), never above what
// the CPU has. The free functions above run those of cpu_isa().
const VecKernels& vec_kernels(CpuIsa level);
// The AVX-512 forms, whatever WORKER_CPU_ISA says, for tests that compare
// them with the scalar ones: false (k untouched) where the CPU lacks AVX-512.
bool vec_avx512_kernels(VecKernels& k);

}  // namespace worker::cpu
