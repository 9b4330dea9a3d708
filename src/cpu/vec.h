// Float vector helpers for the attention loops, dispatched at run time to AVX2
// where the CPU has it (the compiler cannot vectorise a float reduction on
// its own without relaxing IEEE ordering for the whole library).
#pragma once

#include <cstdint>

namespace worker::cpu {

// sum_i a[i] * b[i]
float dot_f32(const float* a, const float* b, int64_t n);
// y[i] += s * x[i]
void axpy_f32(float s, const float* x, float* y, int64_t n);
// The same with x stored as IEEE half (the KV cache).
float dot_f16(const float* a, const uint16_t* b, int64_t n);
void axpy_f16(float s, const uint16_t* x, float* y, int64_t n);
// Attention over a half cache, one call per (query, head) so the per-key
// work is not a call through a pointer: scores[k] = q . rows[k] for `count`
// rows `stride` halves apart, and o += sum_k w[k] * rows[k].
void dot_f16_rows(const float* q, const uint16_t* rows, int64_t stride, int64_t count, int64_t n, float* scores);
void axpy_f16_rows(const float* w, const uint16_t* rows, int64_t stride, int64_t count, int64_t n, float* o);
// x[i] = float(half(x[i])): rounds to half precision in place.
void round_to_f16(float* x, int64_t n);
// dst[i] = half(src[i]), round to nearest even.
void to_f16(const float* src, uint16_t* dst, int64_t n);

}  // namespace worker::cpu
