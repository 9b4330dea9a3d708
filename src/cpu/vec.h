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

}  // namespace worker::cpu
