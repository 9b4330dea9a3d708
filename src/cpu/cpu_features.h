// Runtime detection of the x86 features the vectorised CPU kernels need.
#pragma once

namespace worker::cpu {

// The instruction-set levels of the CPU kernels, lowest first. Every level
// gives the same bits (the kernels sum in one order); higher is faster.
enum class CpuIsa { scalar = 0, avx2 = 1, avx512 = 2 };

// The highest level this CPU (and its OS) supports.
CpuIsa cpu_isa_supported();
// The level of the free kernel functions (dot_kernel, quantize_q8, dot_f32,
// ...), which have no context: cpu_isa_supported() capped by WORKER_CPU_ISA
// (scalar|avx2|avx512), read once per process. A context's CPU backend runs
// at its own level instead (Settings::cpu_isa), through the tables that take
// a level (batch_kernels, quantize_activations, vec_kernels).
CpuIsa cpu_isa();
// "scalar", "avx2" or "avx512".
const char* cpu_isa_name(CpuIsa isa);

// AVX2 + FMA + F16C, as the AVX2 kernels use all three. F16C is read from
// CPUID directly because not every compiler's __builtin_cpu_supports knows it.
// False when the level is capped to scalar.
bool has_avx2_fma_f16c();
// AVX-VNNI (the VEX-encoded 256-bit vpdpbusd), from CPUID leaf 7 sub-leaf 1;
// false when cpu_isa() is scalar.
bool has_avx_vnni();
// AVX512F/BW/DQ/VL + AVX512-VNNI with the OS saving the opmask and ZMM
// state (XGETBV), on top of AVX2 + FMA + F16C; false when the level is capped
// below avx512.
bool has_avx512();
// The same, whatever the cap (tests compare the levels on one machine).
bool cpu_supports_avx512();
bool cpu_avx2_fma_f16c_supported();
bool cpu_has_avx_vnni();

}  // namespace worker::cpu
