#include "cpu/cpu_features.h"

#include "core/settings.h"

#include <cstdint>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace worker::cpu {

namespace {

#if defined(__x86_64__)
bool cpu_avx2_fma_f16c() {
    static const bool supported = [] {
        __builtin_cpu_init();  // may run from a static initializer, before the runtime has done it
        unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
        if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
        const bool f16c = (ecx & (1u << 29)) != 0;
        return f16c && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }();
    return supported;
}

// XCR0, read by xgetbv (only where CPUID says OSXSAVE).
uint64_t xcr0() {
    uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<uint64_t>(hi) << 32) | lo;
}
#endif

}  // namespace

bool cpu_supports_avx512() {
#if defined(__x86_64__)
    static const bool supported = [] {
        if (!cpu_avx2_fma_f16c()) return false;
        unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
        if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
        if ((ecx & (1u << 27)) == 0) return false;  // OSXSAVE: xgetbv is usable
        // The OS saves XMM, YMM (bits 1-2), the opmasks and both halves of
        // the ZMM registers (bits 5-7).
        constexpr uint64_t kState = 0x6 | 0xE0;
        if ((xcr0() & kState) != kState) return false;
        if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
        const bool f = (ebx & (1u << 16)) != 0, dq = (ebx & (1u << 17)) != 0, bw = (ebx & (1u << 30)) != 0,
                   vl = (ebx & (1u << 31)) != 0, vnni = (ecx & (1u << 11)) != 0;
        return f && dq && bw && vl && vnni;
    }();
    return supported;
#else
    return false;
#endif
}

CpuIsa cpu_isa_supported() {
    static const CpuIsa isa = [] {
#if defined(__x86_64__)
        if (cpu_avx2_fma_f16c()) return cpu_supports_avx512() ? CpuIsa::avx512 : CpuIsa::avx2;
#endif
        return CpuIsa::scalar;
    }();
    return isa;
}

CpuIsa cpu_isa() {
    static const CpuIsa isa = [] {
        const CpuIsa cap = environment_cpu_isa_cap();
        return static_cast<int>(cpu_isa_supported()) < static_cast<int>(cap) ? cpu_isa_supported() : cap;
    }();
    return isa;
}

const char* cpu_isa_name(CpuIsa isa) {
    switch (isa) {
        case CpuIsa::avx512:
            return "avx512";
        case CpuIsa::avx2:
            return "avx2";
        default:
            return "scalar";
    }
}

bool has_avx2_fma_f16c() { return cpu_isa() != CpuIsa::scalar; }

bool cpu_has_avx_vnni() {
#if defined(__x86_64__)
    static const bool supported = [] {
        if (!cpu_avx2_fma_f16c()) return false;
        unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
        if (__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) == 0) return false;
        return (eax & (1u << 4)) != 0;
    }();
    return supported;
#else
    return false;
#endif
}

bool has_avx_vnni() { return cpu_isa() != CpuIsa::scalar && cpu_has_avx_vnni(); }

bool has_avx512() { return cpu_isa() == CpuIsa::avx512; }

bool cpu_avx2_fma_f16c_supported() {
#if defined(__x86_64__)
    return cpu_avx2_fma_f16c();
#else
    return false;
#endif
}

}  // namespace worker::cpu
