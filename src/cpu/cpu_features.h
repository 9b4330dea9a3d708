// Runtime detection of the x86 features the vectorised CPU kernels need.
#pragma once

namespace worker::cpu {

// AVX2 + FMA + F16C, as the AVX2 kernels use all three. F16C is read from
// CPUID directly because not every compiler's __builtin_cpu_supports knows it.
// False when the environment sets WORKER_CPU_SCALAR=1 (portable kernels only).
bool has_avx2_fma_f16c();
// AVX-VNNI (the VEX-encoded 256-bit vpdpbusd), from CPUID leaf 7 sub-leaf 1.
bool has_avx_vnni();

}  // namespace worker::cpu
