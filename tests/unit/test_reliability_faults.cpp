// Fault injection: the N-th host allocation (and the model file's opening)
// fails, swept over every N for a model load and for a short generation on a
// tiny synthetic model. Each run must end in success or a clean error code
// with a detail; the context and the model stay usable; LeakSanitizer (the
// ASan build of the test command) checks that nothing leaks.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <string>

#include "core/fault.h"
#include "support/abi_helpers.h"
#include "support/gguf_writer.h"

// ---- a failing operator new for this test binary ------------------------------
namespace {
std::atomic<long> g_countdown{0};  // > 0: the allocation that brings it to 0 fails
std::atomic<long> g_allocations{0};
// Only allocations made while a library call runs (on any thread, so the CPU
// backend's workers count too) are candidates; the test's own are not.
std::atomic<bool> g_in_library{false};

void* allocate(size_t size) {
    if (g_in_library.load(std::memory_order_relaxed) && g_countdown.load(std::memory_order_relaxed) > 0) {
        g_allocations.fetch_add(1, std::memory_order_relaxed);
        if (g_countdown.fetch_sub(1) == 1) throw std::bad_alloc();
    }
    void* p = std::malloc(size == 0 ? 1 : size);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}
}  // namespace

void* operator new(size_t size) { return allocate(size); }
void* operator new[](size_t size) { return allocate(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept {
    try {
        return allocate(size);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
    try {
        return allocate(size);
    } catch (...) {
        return nullptr;
    }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace {

using worker::test::ContextPtr;
using worker::test::ModelPtr;

class ReliabilityFaults : public ::testing::Test {
protected:
    void SetUp() override {
        path_ = (std::filesystem::temp_directory_path() / ("worker_faults_" + std::to_string(::getpid()) + ".gguf")).string();
        worker::test::SyntheticModelSpec spec;
        spec.n_layer = 1;
        spec.n_embd = 32;
        spec.n_head = 2;
        spec.n_head_kv = 1;
        spec.head_dim = 16;
        spec.n_ff = 64;
        spec.weight_type = worker::GgmlType::Q8_0;
        worker::test::write_synthetic_model(path_, spec);
    }
    void TearDown() override {
        g_countdown = 0;
        g_in_library = false;
        worker::fault::disarm_all();
        std::filesystem::remove(path_);
    }
    std::string path_;
};

// Runs one library call with allocation failures armed.
template <typename Call>
auto in_library(Call&& call) {
    g_in_library = true;
    auto result = call();
    g_in_library = false;
    return result;
}

// Arms the allocation countdown at n, runs body, disarms; true when the
// n-th allocation was reached (so larger n may still fail something).
template <typename Body>
bool with_failing_allocation(long n, Body&& body) {
    g_allocations = 0;
    g_countdown = n;
    body();
    const bool reached = g_countdown.load() <= 0;
    g_countdown = 0;
    return reached;
}

// A greedy generation whose library calls (only) see the armed faults.
worker::test::Generation faulty_generation(CudaModel* model, const char* prompt, int max_tokens) {
    worker::test::Generation g;
    WorkerInferenceParams p = WORKER_INFERENCE_PARAMS_INIT;
    p.max_tokens = max_tokens;
    p.temperature = 0.0f;
    int err = -1;
    InferenceResult* r = in_library([&] { return cuda_inference_start_ex(model, prompt, &p, &err); });
    if (r == nullptr) {
        g.error = err;
        g.detail = cuda_last_error_detail();
        return g;
    }
    char piece[1024];
    while (in_library([&] { return cuda_inference_next_token(r, piece, sizeof piece, nullptr, &err); })) {
        g.pieces.emplace_back(piece);
    }
    g.error = err;
    if (err != CUDA_SUCCESS) {
        g.detail = cuda_last_error_detail();
        // A failed step ends the inference: later calls say so, they do not
        // resume from a half-written KV cache.
        int again = -1;
        EXPECT_FALSE(cuda_inference_next_token(r, piece, sizeof piece, nullptr, &again));
        EXPECT_EQ(again, CUDA_ERROR_INFERENCE_FAILED) << cuda_last_error_detail();
    }
    in_library([&] {
        cuda_inference_free(r);
        return 0;
    });
    return g;
}

TEST_F(ReliabilityFaults, EveryAllocationOfALoadFailsCleanly) {
    int err = -1;
    ContextPtr ctx(cuda_init(WORKER_DEVICE_CPU, &err));
    ASSERT_NE(ctx, nullptr);
    long n = 1;
    for (;; ++n) {
        CudaModel* model = nullptr;
        int code = -1;
        const bool reached = with_failing_allocation(
            n, [&] { model = in_library([&] { return cuda_load_model(ctx.get(), path_.c_str(), nullptr, &code); }); });
        if (!reached) {
            ASSERT_NE(model, nullptr) << "load without a fault failed: " << cuda_last_error_detail();
            cuda_unload_model(model);
            break;
        }
        if (model == nullptr) {
            EXPECT_NE(code, CUDA_SUCCESS) << "n=" << n;
            EXPECT_STRNE(cuda_last_error_detail(), "") << "n=" << n;
        } else {
            cuda_unload_model(model);  // the failure was absorbed (e.g. a cache that is optional)
        }
        // The context stays usable.
        ASSERT_TRUE(cuda_check_device_health(ctx.get(), &code)) << "n=" << n;
    }
    RecordProperty("allocations_swept", n);
    std::printf("swept %ld allocation failure points over a load\n", n);
    EXPECT_GT(n, 10);
}

TEST_F(ReliabilityFaults, EveryAllocationOfAGenerationFailsCleanly) {
    int err = -1;
    ContextPtr ctx(cuda_init(WORKER_DEVICE_CPU, &err));
    ModelPtr model(cuda_load_model(ctx.get(), path_.c_str(), nullptr, &err));
    ASSERT_NE(model, nullptr) << cuda_last_error_detail();
    const auto reference = worker::test::generate_greedy(model.get(), "hello world", 3);
    ASSERT_EQ(reference.error, CUDA_SUCCESS) << reference.detail;

    long n = 1;
    for (;; ++n) {
        worker::test::Generation g;
        const bool reached = with_failing_allocation(n, [&] { g = faulty_generation(model.get(), "hello world", 3); });
        if (!reached) {
            EXPECT_EQ(g.error, CUDA_SUCCESS);
            EXPECT_EQ(g.pieces, reference.pieces);
            break;
        }
        if (g.error != CUDA_SUCCESS) {
            EXPECT_FALSE(g.detail.empty()) << "n=" << n;
        }
        // The model stays usable and still produces the same text.
        const auto again = worker::test::generate_greedy(model.get(), "hello world", 3);
        ASSERT_EQ(again.error, CUDA_SUCCESS) << "n=" << n << ": " << again.detail;
        ASSERT_EQ(again.pieces, reference.pieces) << "n=" << n;
    }
    RecordProperty("allocations_swept", n);
    std::printf("swept %ld allocation failure points over a generation\n", n);
    EXPECT_GT(n, 5);
}

// The library's own allocation sites (model state, KV cache and activations;
// on a GPU every cudaMalloc) fail one after the other, on the CPU device and,
// when there is one, on GPU 0.
class ReliabilityDeviceFaults : public ReliabilityFaults, public ::testing::WithParamInterface<int> {};

TEST_P(ReliabilityDeviceFaults, EveryDeviceAllocationFailsCleanly) {
    const int device = GetParam();
    if (device >= 0 && cuda_get_device_count() == 0) GTEST_SKIP() << "no CUDA device: cuda_get_device_count() returned 0";
    int err = -1;
    ContextPtr ctx(cuda_init(device, &err));
    ASSERT_NE(ctx, nullptr) << cuda_last_error_detail();
    ModelPtr reference_model(cuda_load_model(ctx.get(), path_.c_str(), nullptr, &err));
    ASSERT_NE(reference_model, nullptr) << cuda_last_error_detail();
    const auto reference = worker::test::generate_greedy(reference_model.get(), "hello world", 3);
    ASSERT_EQ(reference.error, CUDA_SUCCESS) << reference.detail;
    reference_model.reset();

    uint64_t n = 1;
    for (;; ++n) {
        worker::fault::arm(worker::fault::Site::Allocation, n, worker::fault::Kind::WorkerError);
        ModelPtr model(cuda_load_model(ctx.get(), path_.c_str(), nullptr, &err));
        worker::test::Generation g;
        if (model) g = worker::test::generate_greedy(model.get(), "hello world", 3);
        const bool reached = worker::fault::count(worker::fault::Site::Allocation) >= n;
        worker::fault::disarm_all();
        if (!reached) {
            ASSERT_NE(model, nullptr);
            EXPECT_EQ(g.pieces, reference.pieces);
            break;
        }
        if (!model) {
            EXPECT_EQ(err, CUDA_ERROR_OUT_OF_MEMORY) << "n=" << n << ": " << cuda_last_error_detail();
        } else {
            EXPECT_EQ(g.error, CUDA_ERROR_OUT_OF_MEMORY) << "n=" << n << ": " << g.detail;
            // The model stays usable: the next generation is the reference one.
            const auto again = worker::test::generate_greedy(model.get(), "hello world", 3);
            ASSERT_EQ(again.error, CUDA_SUCCESS) << "n=" << n << ": " << again.detail;
            EXPECT_EQ(again.pieces, reference.pieces) << "n=" << n;
        }
    }
    RecordProperty("allocation_sites_swept", static_cast<int>(n));
    std::printf("swept %llu library allocation sites over a load and a generation on device %d\n",
                static_cast<unsigned long long>(n), device);
    EXPECT_GE(n, 3u);
}

INSTANTIATE_TEST_SUITE_P(Devices, ReliabilityDeviceFaults, ::testing::Values(WORKER_DEVICE_CPU, 0),
                         [](const ::testing::TestParamInfo<int>& device_info) {
                             return device_info.param < 0 ? std::string("Cpu") : std::string("Gpu0");
                         });

TEST_F(ReliabilityFaults, FileOpenFailureIsCleanAndRecoverable) {
    int err = -1;
    ContextPtr ctx(cuda_init(WORKER_DEVICE_CPU, &err));
    worker::fault::arm(worker::fault::Site::FileRead, 1, worker::fault::Kind::WorkerError);
    EXPECT_EQ(cuda_load_model(ctx.get(), path_.c_str(), nullptr, &err), nullptr);
    EXPECT_EQ(err, CUDA_ERROR_MODEL_LOAD_FAILED);
    EXPECT_NE(std::string(cuda_last_error_detail()).find("injected"), std::string::npos);
    worker::fault::disarm_all();
    ModelPtr model(cuda_load_model(ctx.get(), path_.c_str(), nullptr, &err));
    EXPECT_NE(model, nullptr) << cuda_last_error_detail();
}

}  // namespace
