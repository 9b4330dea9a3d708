// The GPU as a whole: the health probe (a kernel, bounded by its timeout even
// when every multiprocessor is busy) and a kernel fault, after which every
// handle on the device reports it lost, nothing hangs, and everything can
// still be freed. The fault and the busy device come from kernels only the
// tests have (tests/gpu/test_kernels.cu). ctest runs every test in a process
// of its own: the fault poisons its process's CUDA context for good. Without
// a GPU every test skips with the reason.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "support/gguf_writer.h"
#include "support/gpu.h"
#include "worker_ffi.h"
#ifdef WORKER_HAVE_CUDA
#include "gpu/test_kernels.h"
#endif

namespace worker {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// A context on GPU 0 whose health probe waits at most `timeout_ms`.
CudaContext* context_with_timeout(int timeout_ms, int& err) {
    WorkerContextParams params = WORKER_CONTEXT_PARAMS_INIT;
    params.health_timeout_ms = timeout_ms;
    return cuda_init_ex(0, &params, &err);
}

TEST(GpuHealth, ProbeAnswersAndKeepsAnswering) {
    WORKER_REQUIRE_GPU();
    int err = -1;
    CudaContext* ctx = context_with_timeout(2000, err);
    ASSERT_NE(ctx, nullptr) << cuda_last_error_detail();
    for (int i = 0; i < 20; ++i) {
        const auto start = Clock::now();
        EXPECT_TRUE(cuda_check_device_health(ctx, &err)) << cuda_last_error_detail();
        EXPECT_EQ(err, CUDA_SUCCESS);
        EXPECT_LT(seconds_since(start), 2.0);
    }
    // The probe's buffers are kept for the process, outside every ledger.
    EXPECT_EQ(cuda_get_process_vram_usage(ctx), 0u);
    cuda_destroy(ctx);
}

// Every multiprocessor busy for 3 s: the probe's kernel cannot start, so the
// probe (which a copy alone would pass: the copy engine still answers) must
// report the device unresponsive, and the call must return after about its
// 300 ms timeout, not after the busy kernels. Once they end, the device is
// healthy again.
TEST(GpuHealth, BusyMultiprocessorsMakeTheProbeTimeOutWithoutHoldingTheCaller) {
    WORKER_REQUIRE_GPU();
#ifdef WORKER_HAVE_CUDA
    int err = -1;
    CudaContext* ctx = context_with_timeout(300, err);
    ASSERT_NE(ctx, nullptr) << cuda_last_error_detail();
    CudaContext* patient = context_with_timeout(2000, err);
    ASSERT_NE(patient, nullptr) << cuda_last_error_detail();
    CudaContext* relaxed = context_with_timeout(5000, err);
    ASSERT_NE(relaxed, nullptr) << cuda_last_error_detail();
    ASSERT_TRUE(cuda_check_device_health(patient, &err)) << cuda_last_error_detail();  // probe objects made
    const auto busy_since = Clock::now();
    ASSERT_EQ(test::occupy_the_device(0, 3000), "");
    for (int i = 0; i < 2; ++i) {
        const auto start = Clock::now();
        EXPECT_FALSE(cuda_check_device_health(ctx, &err));
        const double took = seconds_since(start);
        EXPECT_EQ(err, CUDA_ERROR_UNKNOWN);
        EXPECT_NE(std::string(cuda_last_error_detail()).find("unresponsive"), std::string::npos)
            << cuda_last_error_detail();
        EXPECT_LT(took, 1.0) << "the call outlived its 300 ms timeout";
    }
    ASSERT_LT(seconds_since(busy_since), 2.5) << "the machine was too slow for this test to mean anything";
    std::this_thread::sleep_for(std::chrono::milliseconds(3500));
    EXPECT_TRUE(cuda_check_device_health(relaxed, &err)) << cuda_last_error_detail();
    cuda_destroy(relaxed);
    cuda_destroy(patient);
    cuda_destroy(ctx);
#endif
}

#ifdef WORKER_HAVE_CUDA
std::string synthetic_model(const char* name) {
    test::SyntheticModelSpec spec;
    spec.name = name;
    spec.n_embd = 256;
    spec.n_ff = 512;
    spec.head_dim = 64;
    spec.weight_type = GgmlType::Q4_0;
    spec.embedding_type = GgmlType::Q8_0;
    spec.context_length = 256;
    const std::string path = testing::TempDir() + "gpu_device_" + name + ".gguf";
    test::write_synthetic_model(path, spec);
    return path;
}
#endif

// A kernel fault (here: a test kernel storing through the null page) poisons
// the device's CUDA context for the process. Every handle on the device then
// fails with CUDA_ERROR_KERNEL_LAUNCH_FAILED and "GPU 0 lost" — the
// inference that saw it, another model in another context, the health
// check, residency, loads and new contexts — each call returns at once, and
// freeing everything works and returns the ledgers to zero. The CPU device is
// untouched.
TEST(GpuDeviceLost, KernelFaultLosesTheDeviceForEveryHandleAndTeardownIsClean) {
    WORKER_REQUIRE_GPU();
#ifdef WORKER_HAVE_CUDA
    const std::string path = synthetic_model("lost");
    int err = -1;
    CudaContext* ctx = cuda_init(0, &err);
    ASSERT_NE(ctx, nullptr) << cuda_last_error_detail();
    CudaContext* ctx2 = context_with_timeout(2000, err);
    ASSERT_NE(ctx2, nullptr) << cuda_last_error_detail();
    CudaModel* model = cuda_load_model(ctx, path.c_str(), nullptr, &err);
    ASSERT_NE(model, nullptr) << cuda_last_error_detail();
    CudaModel* model2 = cuda_load_model(ctx2, path.c_str(), nullptr, &err);
    ASSERT_NE(model2, nullptr) << cuda_last_error_detail();
    WorkerInferenceParams params = WORKER_INFERENCE_PARAMS_INIT;
    params.max_tokens = 16;
    params.temperature = 0.0f;
    InferenceResult* r = cuda_inference_start_ex(model, "Hello, world", &params, &err);
    ASSERT_NE(r, nullptr) << cuda_last_error_detail();
    char piece[256];
    ASSERT_TRUE(cuda_inference_next_token(r, piece, sizeof piece, nullptr, &err)) << cuda_last_error_detail();

    ASSERT_EQ(test::fault_the_device(0), "cudaErrorIllegalAddress");

    auto expect_lost = [&](const char* call) {
        EXPECT_EQ(err, CUDA_ERROR_KERNEL_LAUNCH_FAILED) << call;
        EXPECT_NE(std::string(cuda_last_error_detail()).find("GPU 0 lost"), std::string::npos)
            << call << ": " << cuda_last_error_detail();
    };
    const auto start = Clock::now();
    EXPECT_FALSE(cuda_inference_next_token(r, piece, sizeof piece, nullptr, &err));
    expect_lost("the inference that saw the fault");
    EXPECT_FALSE(cuda_inference_next_token(r, piece, sizeof piece, nullptr, &err));
    expect_lost("the same inference again");
    EXPECT_EQ(cuda_inference_start_ex(model2, "Hello", &params, &err), nullptr);
    expect_lost("an inference of another model in another context");
    EXPECT_FALSE(cuda_check_device_health(ctx2, &err));
    expect_lost("the health check");
    EXPECT_FALSE(cuda_check_vram_residency(model, &err));
    expect_lost("the residency check");
    EXPECT_EQ(cuda_load_model(ctx, path.c_str(), nullptr, &err), nullptr);
    expect_lost("a new model");
    EXPECT_EQ(cuda_init(0, &err), nullptr);
    expect_lost("a new context");
    EXPECT_LT(seconds_since(start), 10.0) << "calls on a lost device must not wait";

    cuda_inference_free(r);
    cuda_unload_model(model2);
    cuda_unload_model(model);
    EXPECT_EQ(cuda_get_process_vram_usage(ctx), 0u);
    cuda_destroy(ctx2);
    cuda_destroy(ctx);
    EXPECT_LT(seconds_since(start), 20.0) << "teardown on a lost device must not wait";

    CudaContext* cpu = cuda_init(WORKER_DEVICE_CPU, &err);
    ASSERT_NE(cpu, nullptr) << cuda_last_error_detail();
    CudaModel* cpu_model = cuda_load_model(cpu, path.c_str(), nullptr, &err);
    ASSERT_NE(cpu_model, nullptr) << cuda_last_error_detail();
    InferenceResult* cpu_r = cuda_inference_start_ex(cpu_model, "Hello", &params, &err);
    ASSERT_NE(cpu_r, nullptr) << cuda_last_error_detail();
    EXPECT_TRUE(cuda_inference_next_token(cpu_r, piece, sizeof piece, nullptr, &err)) << cuda_last_error_detail();
    cuda_inference_free(cpu_r);
    cuda_unload_model(cpu_model);
    cuda_destroy(cpu);
#endif
}

}  // namespace
}  // namespace worker
