#include "cpu/cpu_features.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace worker::cpu {

namespace {

// WORKER_CPU_SCALAR=1 makes the CPU backend use its portable scalar kernels
// only, e.g. to check that they give the SIMD kernels' bits.
bool scalar_forced() {
    static const bool forced = [] {
        const char* v = std::getenv("WORKER_CPU_SCALAR");
        return v != nullptr && std::strcmp(v, "1") == 0;
    }();
    return forced;
}

}  // namespace

bool has_avx2_fma_f16c() {
#if defined(__x86_64__)
    static const bool supported = [] {
        if (scalar_forced()) return false;
        __builtin_cpu_init();  // may run from a static initializer, before the runtime has done it
        unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
        if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
        const bool f16c = (ecx & (1u << 29)) != 0;
        return f16c && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }();
    return supported;
#else
    return false;
#endif
}

bool has_avx_vnni() {
#if defined(__x86_64__)
    static const bool supported = [] {
        if (scalar_forced()) return false;
        unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
        if (__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) == 0) return false;
        return (eax & (1u << 4)) != 0;
    }();
    return supported;
#else
    return false;
#endif
}

}  // namespace worker::cpu
