// Rules of the CUDA backend that run on the host and so can be checked
// without a GPU: the power-of-two scale that brings a prefill activation row
// into half's range (cuda/half_scaling.h), and the classification of CUDA
// errors as sticky with the per-device "lost" state that follows
// (cuda/cuda_check.h). What they drive on a GPU is covered by test_gpu.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "core/error.h"
#include "half_scaling.h"
#include "quant/blocks.h"
#ifdef WORKER_HAVE_CUDA
#include "cuda_check.h"
#endif

namespace worker {
namespace {

// The half scaling is plain host code: it runs in every build.

// The row's largest magnitude lands in [2^13, 2^14) after scaling, for every
// magnitude a float can have, and scaling is exact (a power of two).
TEST(CudaHalfScaling, BringsEveryRowMaximumIntoHalfRange) {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<float> mantissa(0.5f, 1.0f);
    for (int e = -149; e <= 128; ++e) {
        for (int k = 0; k < 8; ++k) {
            const float m = std::ldexp(mantissa(rng), e);
            if (m == 0.0f || std::isinf(m)) continue;
            const int s = cuda::half_scale_exponent(m);
            const double scaled = std::ldexp(static_cast<double>(m), s);
            ASSERT_GE(scaled, 8192.0) << m;
            ASSERT_LT(scaled, 16384.0) << m;
        }
    }
    EXPECT_EQ(cuda::half_scale_exponent(0.0f), 0);
    EXPECT_EQ(cuda::half_scale_exponent(std::numeric_limits<float>::infinity()), 0);
    EXPECT_EQ(cuda::half_scale_exponent(std::numeric_limits<float>::quiet_NaN()), 0);
    EXPECT_EQ(cuda::half_scale_exponent(std::numeric_limits<float>::max()), 14 - 128);
}

// A row that overflows half unscaled (values past 65504) keeps half's
// precision once scaled: every element rounds to within 2^-11 of itself
// after scaling back. Unscaled, the same row would hold inf.
TEST(CudaHalfScaling, LargeRowsKeepHalfPrecision) {
    std::mt19937_64 rng(11);
    std::normal_distribution<float> dist(0.0f, 3e5f);
    std::vector<float> row(4096);
    float max_abs = 0.0f;
    for (float& v : row) {
        v = dist(rng);
        max_abs = std::max(max_abs, std::fabs(v));
    }
    ASSERT_GT(max_abs, 65504.0f);
    const int s = cuda::half_scale_exponent(max_abs);
    bool unscaled_overflows = false;
    for (const float v : row) {
        const float back = std::ldexp(quant::fp16_to_f32(quant::f32_to_fp16(std::ldexp(v, s))), -s);
        if (std::fabs(v) >= std::ldexp(1.0f, -14 - s)) {  // normal in half once scaled
            ASSERT_LE(std::fabs(back - v), std::fabs(v) * 0x1p-11f) << v;
        }
        unscaled_overflows = unscaled_overflows || std::isinf(quant::fp16_to_f32(quant::f32_to_fp16(v)));
    }
    EXPECT_TRUE(unscaled_overflows);
}

// A row already inside half's normal range gets the same bits scaled and
// unscaled: scaling commutes with rounding to half.
TEST(CudaHalfScaling, RowsThatFitHalfGetTheSameBits) {
    std::mt19937_64 rng(13);
    std::normal_distribution<float> dist(0.0f, 4.0f);
    std::vector<float> row(2048);
    float max_abs = 0.0f;
    for (float& v : row) {
        v = dist(rng);
        max_abs = std::max(max_abs, std::fabs(v));
    }
    const int s = cuda::half_scale_exponent(max_abs);
    for (const float v : row) {
        if (std::fabs(v) < 6.103515625e-05f) continue;  // half subnormals: scaling gains precision there
        const float direct = quant::fp16_to_f32(quant::f32_to_fp16(v));
        const float scaled = std::ldexp(quant::fp16_to_f32(quant::f32_to_fp16(std::ldexp(v, s))), -s);
        ASSERT_EQ(direct, scaled) << v;
    }
}

#ifdef WORKER_HAVE_CUDA

// The errors the runtime documents as poisoning the context are sticky;
// configuration, allocation and capture errors are not.
TEST(CudaDeviceLost, StickyErrorsAreTheContextPoisoningOnes) {
    for (const cudaError_t e : {cudaErrorIllegalAddress, cudaErrorLaunchFailure, cudaErrorMisalignedAddress,
                                cudaErrorIllegalInstruction, cudaErrorHardwareStackError, cudaErrorInvalidPc,
                                cudaErrorAssert, cudaErrorLaunchTimeout, cudaErrorInvalidAddressSpace,
                                cudaErrorContained, cudaErrorECCUncorrectable}) {
        EXPECT_TRUE(cuda::is_sticky_error(e)) << cudaGetErrorName(e);
    }
    for (const cudaError_t e : {cudaSuccess, cudaErrorMemoryAllocation, cudaErrorInvalidValue,
                                cudaErrorInvalidConfiguration, cudaErrorLaunchOutOfResources, cudaErrorNotReady,
                                cudaErrorStreamCaptureInvalidated, cudaErrorStreamCaptureUnsupported,
                                cudaErrorNoKernelImageForDevice, cudaErrorInvalidDevice}) {
        EXPECT_FALSE(cuda::is_sticky_error(e)) << cudaGetErrorName(e);
    }
}

// A device marked lost stays lost, keeps the first cause, and reports the
// device-lost code and message; other devices are untouched. (Device ids
// past any real GPU: nothing here talks to a device.)
TEST(CudaDeviceLost, LostDeviceReportsItsFirstCause) {
    const int lost = 1000, other = 1001;
    EXPECT_EQ(cuda::device_lost_message(lost), "");
    EXPECT_NO_THROW(cuda::check_device_not_lost(lost));
    try {
        cuda::fail_device_lost(lost, cudaErrorIllegalAddress, "a stream synchronisation (sample)");
        FAIL() << "fail_device_lost returned";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), CUDA_ERROR_KERNEL_LAUNCH_FAILED);
        EXPECT_EQ(e.message().rfind("GPU 1000 lost: cudaErrorIllegalAddress", 0), 0u) << e.message();
        EXPECT_NE(e.message().find("a stream synchronisation (sample)"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("restart the process"), std::string::npos) << e.message();
    }
    try {
        cuda::fail_device_lost(lost, cudaErrorLaunchFailure, "a later call");
        FAIL() << "fail_device_lost returned";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("cudaErrorIllegalAddress"), std::string::npos) << "the first cause is kept";
        EXPECT_EQ(e.message().find("a later call"), std::string::npos);
    }
    try {
        cuda::check_device_not_lost(lost);
        FAIL() << "a lost device passed the check";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), CUDA_ERROR_KERNEL_LAUNCH_FAILED);
        EXPECT_EQ(e.message(), cuda::device_lost_message(lost));
    }
    EXPECT_NO_THROW(cuda::check_device_not_lost(other));
}

#else

TEST(CudaDeviceLost, Skipped) {
    GTEST_SKIP() << "this build has no CUDA backend: cuda/cuda_check.h needs the CUDA runtime's headers";
}

#endif

}  // namespace
}  // namespace worker
