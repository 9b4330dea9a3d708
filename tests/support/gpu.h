// GPU tests: skip with a visible reason when no CUDA device is usable, so a
// machine without a GPU never reports them as passed. On a GPU machine set
// WORKER_TEST_REQUIRE_GPU=1 (scripts/gpu-check.sh does) to make a missing
// device a failure instead.
#pragma once

#include <cstdlib>
#include <string>

#include "core/context.h"

namespace worker::test {

// "" when a GPU is usable, otherwise why not.
inline std::string gpu_unavailable_reason() {
#ifndef WORKER_HAVE_CUDA
    return "no CUDA device: this build has no CUDA backend (WORKER_CUDA=OFF or no nvcc)";
#else
    if (::worker::cuda_device_count() == 0) return "no CUDA device: cuda_get_device_count() returned 0";
    return "";
#endif
}

}  // namespace worker::test

#define WORKER_REQUIRE_GPU()                                                                   \
    do {                                                                                       \
        const std::string worker_gpu_reason = ::worker::test::gpu_unavailable_reason();        \
        if (!worker_gpu_reason.empty()) {                                                      \
            const char* required = std::getenv("WORKER_TEST_REQUIRE_GPU");                     \
            if (required != nullptr && std::string(required) == "1") FAIL() << worker_gpu_reason; \
            GTEST_SKIP() << worker_gpu_reason;                                                 \
        }                                                                                      \
    } while (0)
