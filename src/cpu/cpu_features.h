// Runtime detection of the x86 features the vectorised CPU kernels need.
#pragma once

namespace worker::cpu {

// AVX2 + FMA + F16C, as the AVX2 kernels use all three. F16C is read from
// CPUID directly because not every compiler's __builtin_cpu_supports knows it.
bool has_avx2_fma_f16c();

}  // namespace worker::cpu
