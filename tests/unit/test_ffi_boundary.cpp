// The extern "C" boundary: NULL for every pointer, error codes and messages,
// the thread-local detail, and that no exception of any kind escapes.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "core/fault.h"
#include "worker_ffi.h"

namespace {

class FfiBoundary : public ::testing::Test {
protected:
    void TearDown() override { worker::fault::disarm_all(); }
};

TEST_F(FfiBoundary, ErrorMessagesAreStaticForEveryValue) {
    const int codes[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 99};
    for (int code : codes) {
        const char* m = cuda_error_message(code);
        ASSERT_NE(m, nullptr);
        EXPECT_GT(std::strlen(m), 0u);
        EXPECT_STRNE(m, "unknown error code") << code;
    }
    for (int code : {-1, 9, 98, 100, 1 << 30}) EXPECT_STREQ(cuda_error_message(code), "unknown error code");
    EXPECT_EQ(cuda_error_message(5), cuda_error_message(5));  // the same static string
}

TEST_F(FfiBoundary, ErrorCodeValuesAreFixed) {
    EXPECT_EQ(CUDA_SUCCESS, 0);
    EXPECT_EQ(CUDA_ERROR_INVALID_DEVICE, 1);
    EXPECT_EQ(CUDA_ERROR_OUT_OF_MEMORY, 2);
    EXPECT_EQ(CUDA_ERROR_MODEL_LOAD_FAILED, 3);
    EXPECT_EQ(CUDA_ERROR_INFERENCE_FAILED, 4);
    EXPECT_EQ(CUDA_ERROR_INVALID_PARAMETER, 5);
    EXPECT_EQ(CUDA_ERROR_KERNEL_LAUNCH_FAILED, 6);
    EXPECT_EQ(CUDA_ERROR_VRAM_RESIDENCY_FAILED, 7);
    EXPECT_EQ(CUDA_ERROR_DEVICE_NOT_FOUND, 8);
    EXPECT_EQ(CUDA_ERROR_UNKNOWN, 99);
}

// The library's runtime version, the header's macros and the version the
// build declares (CMake's project(VERSION), which names the .so and the
// packages: WORKER_VERSION_STRING) must all say the same release, packed as
// the header documents: (major << 16) | (minor << 8) | patch.
TEST_F(FfiBoundary, VersionIsTheReleaseTheBuildDeclares) {
    unsigned major = 0, minor = 0, patch = 0;
    char rest = 0;
    ASSERT_EQ(std::sscanf(WORKER_VERSION_STRING, "%u.%u.%u%c", &major, &minor, &patch, &rest), 3)
        << "WORKER_VERSION_STRING '" << WORKER_VERSION_STRING << "' is not MAJOR.MINOR.PATCH";
    ASSERT_LT(minor, 256u);
    ASSERT_LT(patch, 256u);
    EXPECT_EQ(WORKER_VERSION_MAJOR, static_cast<int>(major)) << "include/worker_types.h vs CMakeLists.txt";
    EXPECT_EQ(WORKER_VERSION_MINOR, static_cast<int>(minor)) << "include/worker_types.h vs CMakeLists.txt";
    EXPECT_EQ(WORKER_VERSION_PATCH, static_cast<int>(patch)) << "include/worker_types.h vs CMakeLists.txt";
    const uint32_t v = cuda_api_version();
    EXPECT_EQ(v >> 16, major);
    EXPECT_EQ((v >> 8) & 0xFFu, minor);
    EXPECT_EQ(v & 0xFFu, patch);
}

TEST_F(FfiBoundary, DeviceSelection) {
    int err = -1;
    const int count = cuda_get_device_count();
    ASSERT_GE(count, 0);
    EXPECT_EQ(cuda_init(-2, &err), nullptr);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_DEVICE);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("-2"), std::string::npos);
    EXPECT_EQ(cuda_init(count + 5, &err), nullptr);
    EXPECT_EQ(err, count == 0 ? CUDA_ERROR_DEVICE_NOT_FOUND : CUDA_ERROR_INVALID_DEVICE);
    if (count == 0) {
        EXPECT_EQ(cuda_init(0, &err), nullptr);
        EXPECT_EQ(err, CUDA_ERROR_DEVICE_NOT_FOUND);
    }
    CudaContext* ctx = cuda_init(WORKER_DEVICE_CPU, &err);
    ASSERT_NE(ctx, nullptr);
    EXPECT_EQ(err, CUDA_SUCCESS);
    EXPECT_STREQ(cuda_last_error_detail(), "");
    EXPECT_TRUE(cuda_check_device_health(ctx, &err));
    EXPECT_EQ(err, CUDA_SUCCESS);
    EXPECT_GT(cuda_get_process_vram_usage(ctx), 0u);
    cuda_destroy(ctx);
}

TEST_F(FfiBoundary, NullForEveryPointer) {
    int err = -1;
    char buf[32];
    int index = 0;
    const WorkerInferenceParams params = WORKER_INFERENCE_PARAMS_INIT;
    CudaContext* ctx = cuda_init(WORKER_DEVICE_CPU, &err);
    ASSERT_NE(ctx, nullptr);

    EXPECT_EQ(cuda_init(WORKER_DEVICE_CPU, nullptr), nullptr);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("error_code is NULL"), std::string::npos);

    EXPECT_EQ(cuda_load_model(nullptr, "m.gguf", nullptr, &err), nullptr);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_EQ(cuda_load_model(ctx, nullptr, nullptr, &err), nullptr);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_EQ(cuda_load_model(ctx, "m.gguf", nullptr, nullptr), nullptr);

    EXPECT_EQ(cuda_inference_start(nullptr, "p", 1, 0.f, 0, &err), nullptr);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_EQ(cuda_inference_start(nullptr, "p", 1, 0.f, 0, nullptr), nullptr);
    EXPECT_EQ(cuda_inference_start_ex(nullptr, "p", &params, &err), nullptr);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_EQ(cuda_inference_start_ex(nullptr, "p", nullptr, &err), nullptr);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_EQ(cuda_inference_start_ex(nullptr, nullptr, &params, nullptr), nullptr);

    EXPECT_FALSE(cuda_inference_next_token(nullptr, buf, sizeof buf, &index, &err));
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_FALSE(cuda_inference_next_token(nullptr, nullptr, 0, nullptr, &err));
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_FALSE(cuda_inference_next_token(nullptr, nullptr, 0, nullptr, nullptr));

    EXPECT_FALSE(cuda_check_vram_residency(nullptr, &err));
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_FALSE(cuda_check_vram_residency(nullptr, nullptr));
    EXPECT_FALSE(cuda_check_device_health(nullptr, &err));
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_FALSE(cuda_check_device_health(ctx, nullptr));

    EXPECT_EQ(cuda_model_get_vram_usage(nullptr), 0u);
    EXPECT_EQ(cuda_get_vram_usage(nullptr), 0u);
    EXPECT_EQ(cuda_get_process_vram_usage(nullptr), 0u);
    cuda_inference_free(nullptr);
    cuda_unload_model(nullptr);
    cuda_destroy(nullptr);
    cuda_destroy(ctx);
}

TEST_F(FfiBoundary, ForeignAndFreedHandlesAreRecognised) {
    int err = -1;
    CudaContext* ctx = cuda_init(WORKER_DEVICE_CPU, &err);
    ASSERT_NE(ctx, nullptr);
    cuda_destroy(ctx);
    EXPECT_FALSE(cuda_check_device_health(ctx, &err));
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("not a live context"), std::string::npos);
    cuda_destroy(ctx);  // double destroy is ignored

    alignas(16) char junk[64] = {};
    EXPECT_EQ(cuda_load_model(reinterpret_cast<CudaContext*>(junk), "x", nullptr, &err), nullptr);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_FALSE(cuda_inference_next_token(reinterpret_cast<InferenceResult*>(junk), junk, 8, nullptr, &err));
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
    EXPECT_EQ(cuda_get_vram_usage(reinterpret_cast<CudaModel*>(junk)), 0u);
    cuda_unload_model(reinterpret_cast<CudaModel*>(junk));
    cuda_inference_free(reinterpret_cast<InferenceResult*>(junk));
}

TEST_F(FfiBoundary, DetailIsSetOnFailureAndClearedOnSuccess) {
    int err = -1;
    EXPECT_EQ(cuda_init(-7, &err), nullptr);
    EXPECT_STRNE(cuda_last_error_detail(), "");
    CudaContext* ctx = cuda_init(WORKER_DEVICE_CPU, &err);
    ASSERT_NE(ctx, nullptr);
    EXPECT_STREQ(cuda_last_error_detail(), "");
    EXPECT_EQ(cuda_load_model(ctx, "/no/such/file.gguf", nullptr, &err), nullptr);
    EXPECT_EQ(err, CUDA_ERROR_MODEL_LOAD_FAILED);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("/no/such/file.gguf"), std::string::npos);
    EXPECT_TRUE(cuda_check_device_health(ctx, &err));
    EXPECT_STREQ(cuda_last_error_detail(), "");
    cuda_destroy(ctx);
}

TEST_F(FfiBoundary, DetailIsThreadLocal) {
    int err = -1;
    EXPECT_EQ(cuda_init(-9, &err), nullptr);
    std::string other;
    std::thread([&] { other = cuda_last_error_detail(); }).join();
    EXPECT_EQ(other, "");
    EXPECT_NE(std::string(cuda_last_error_detail()).find("-9"), std::string::npos);
}

TEST_F(FfiBoundary, NoExceptionEscapes) {
    using worker::fault::Kind;
    const std::pair<Kind, int> cases[] = {{Kind::WorkerError, CUDA_ERROR_UNKNOWN},
                                          {Kind::BadAlloc, CUDA_ERROR_OUT_OF_MEMORY},
                                          {Kind::StdException, CUDA_ERROR_UNKNOWN},
                                          {Kind::NonStd, CUDA_ERROR_UNKNOWN}};
    for (const auto& [kind, expected] : cases) {
        int err = -1;
        worker::fault::arm(worker::fault::Site::Boundary, 1, kind);
        EXPECT_EQ(cuda_init(WORKER_DEVICE_CPU, &err), nullptr);
        EXPECT_EQ(err, expected);
        EXPECT_STRNE(cuda_last_error_detail(), "");

        worker::fault::disarm_all();
        CudaContext* ctx = cuda_init(WORKER_DEVICE_CPU, &err);
        ASSERT_NE(ctx, nullptr);
        worker::fault::arm(worker::fault::Site::Boundary, 1, kind);
        EXPECT_FALSE(cuda_check_device_health(ctx, &err));
        EXPECT_EQ(err, expected);
        worker::fault::arm(worker::fault::Site::Boundary, 1, kind);
        EXPECT_EQ(cuda_load_model(ctx, "/tmp/x.gguf", nullptr, &err), nullptr);
        EXPECT_EQ(err, expected);
        worker::fault::disarm_all();
        // The context is still usable after the failures.
        EXPECT_TRUE(cuda_check_device_health(ctx, &err));
        cuda_destroy(ctx);
    }
}

TEST_F(FfiBoundary, InferenceParamsStructSizeIsChecked) {
    int err = -1;
    WorkerInferenceParams params = WORKER_INFERENCE_PARAMS_INIT;
    EXPECT_EQ(params.struct_size, sizeof(WorkerInferenceParams));
    EXPECT_EQ(params.top_p, 0.95f);
    params.struct_size = 4;
    // A struct_size outside the known range is refused before anything else.
    EXPECT_EQ(cuda_inference_start_ex(nullptr, "p", &params, &err), nullptr);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
}

}  // namespace
