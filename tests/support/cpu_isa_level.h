// ctest runs the CPU golden and op tests once per instruction-set level
// (isa.<level>.* entries, tests/CMakeLists.txt) with WORKER_CPU_ISA=<level>
// and WORKER_TEST_CPU_ISA=<level>. WORKER_CPU_ISA is only a cap, so on a CPU
// without that level the kernels would quietly run a lower one and the entry
// would test nothing new: this environment makes such a program exit 77 (a
// skip for those ctest entries) saying which level the CPU lacks, and checks
// that the level asked for is the one that runs. Register it in the program:
//
//     const auto* const kIsa = ::testing::AddGlobalTestEnvironment(new worker::test::RequestedCpuIsa);
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "cpu/cpu_features.h"

namespace worker::test {

class RequestedCpuIsa : public ::testing::Environment {
public:
    void SetUp() override {
        const char* requested = std::getenv("WORKER_TEST_CPU_ISA");
        if (requested == nullptr || *requested == '\0') return;
        const char* cap = std::getenv("WORKER_CPU_ISA");
        ASSERT_TRUE(cap != nullptr && std::string(cap) == requested)
            << "WORKER_TEST_CPU_ISA=" << requested << " needs WORKER_CPU_ISA=" << requested;
        const std::string running = cpu::cpu_isa_name(cpu::cpu_isa());
        if (running != requested) {
            // GTEST_SKIP here would count as passed; 77 is the entries' SKIP_RETURN_CODE.
            std::printf(
                "skipped: instruction-set level %s not available on this CPU (or OS): its kernels would "
                "run at %s\n",
                requested, running.c_str());
            std::fflush(stdout);
            std::exit(77);
        }
        std::printf("[ cpu isa  ] kernels at level %s, as asked\n", running.c_str());
    }
};

}  // namespace worker::test
