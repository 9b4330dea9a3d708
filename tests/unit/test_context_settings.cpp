// Context settings: cuda_init_ex and WorkerContextParams through the C ABI,
// the environment as their defaults, one parsing rule for both, the log
// callback, and the CPU kernels' level per context.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/settings.h"
#include "cpu/cpu_features.h"
#include "cpu/quant_dot.h"
#include "cpu/vec.h"
#include "support/abi_helpers.h"
#include "support/gguf_writer.h"
#include "worker_ffi.h"

namespace {

using worker::Settings;
using worker::cpu::CpuIsa;
using worker::test::ContextPtr;
using worker::test::ModelPtr;

// Every variable a context reads, unset for the life of the object (and
// whatever the test set, unset again at the end).
class CleanEnvironment : public ::testing::Test {
protected:
    static constexpr const char* kVariables[] = {
        "WORKER_CPU_THREADS",        "WORKER_CPU_ISA",           "WORKER_CPU_WEIGHTS", "WORKER_CUDA_GRAPHS",
        "WORKER_CUDA_STAGING_BYTES", "WORKER_HEALTH_TIMEOUT_MS", "WORKER_LOG",         "WORKER_CPU_SCALAR"};
    void SetUp() override { clear(); }
    void TearDown() override { clear(); }
    static void clear() {
        for (const char* name : kVariables) ::unsetenv(name);
    }
};

std::string detail() { return cuda_last_error_detail(); }

// cuda_init_ex on the CPU device; the code in `err`.
ContextPtr cpu_context(const WorkerContextParams* params, int& err) {
    err = -1;
    return ContextPtr(cuda_init_ex(WORKER_DEVICE_CPU, params, &err));
}

int all_cores() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

// ---- defaults ------------------------------------------------------------------------

class ContextSettings : public CleanEnvironment {};

TEST_F(ContextSettings, TheInitMacroAndNullGiveTheBuiltInDefaultsWithoutEnvironment) {
    const WorkerContextParams init = WORKER_CONTEXT_PARAMS_INIT;
    EXPECT_EQ(init.struct_size, sizeof(WorkerContextParams));
    for (const WorkerContextParams* params : {&init, static_cast<const WorkerContextParams*>(nullptr)}) {
        const Settings s = Settings::from_params(params);
        EXPECT_EQ(s.cpu_threads, all_cores());
        EXPECT_EQ(s.cpu_isa_cap, CpuIsa::avx512);
        EXPECT_EQ(s.cpu_isa, worker::cpu::cpu_isa_supported());
        EXPECT_FALSE(s.cpu_private_weights);
        EXPECT_TRUE(s.cuda_graphs);
        EXPECT_EQ(s.cuda_staging_bytes, size_t{1} << 20);
        EXPECT_EQ(s.health_timeout_ms, 10000);
        EXPECT_EQ(s.log_level, worker::LogLevel::none);
        EXPECT_EQ(s.log_callback, nullptr);
    }
    int err = -1;
    ContextPtr a = cpu_context(&init, err);
    ASSERT_NE(a, nullptr) << detail();
    EXPECT_EQ(err, CUDA_SUCCESS);
    ContextPtr b = cpu_context(nullptr, err);
    ASSERT_NE(b, nullptr) << detail();
    EXPECT_EQ(err, CUDA_SUCCESS);
    EXPECT_STREQ(cuda_last_error_detail(), "");
}

TEST_F(ContextSettings, TheEnvironmentSuppliesEveryDefault) {
    ::setenv("WORKER_CPU_THREADS", "3", 1);
    ::setenv("WORKER_CPU_ISA", "scalar", 1);
    ::setenv("WORKER_CPU_WEIGHTS", "private", 1);
    ::setenv("WORKER_CUDA_GRAPHS", "0", 1);
    ::setenv("WORKER_CUDA_STAGING_BYTES", "65536", 1);
    ::setenv("WORKER_HEALTH_TIMEOUT_MS", "250", 1);
    ::setenv("WORKER_LOG", "debug", 1);
    const Settings s = Settings::from_environment();
    EXPECT_EQ(s.cpu_threads, 3);
    EXPECT_EQ(s.cpu_isa_cap, CpuIsa::scalar);
    EXPECT_EQ(s.cpu_isa, CpuIsa::scalar);
    EXPECT_TRUE(s.cpu_private_weights);
    EXPECT_FALSE(s.cuda_graphs);
    EXPECT_EQ(s.cuda_staging_bytes, 65536u);
    EXPECT_EQ(s.health_timeout_ms, 250);
    EXPECT_EQ(s.log_level, worker::LogLevel::debug);
    // The same through params left at their defaults.
    const WorkerContextParams init = WORKER_CONTEXT_PARAMS_INIT;
    const Settings p = Settings::from_params(&init);
    EXPECT_EQ(p.cpu_threads, 3);
    EXPECT_EQ(p.cpu_isa, CpuIsa::scalar);
    EXPECT_TRUE(p.cpu_private_weights);
    EXPECT_FALSE(p.cuda_graphs);
    EXPECT_EQ(p.cuda_staging_bytes, 65536u);
    EXPECT_EQ(p.health_timeout_ms, 250);
    EXPECT_EQ(p.log_level, worker::LogLevel::debug);
}

TEST_F(ContextSettings, AnExplicitFieldWinsOverTheEnvironment) {
    ::setenv("WORKER_CPU_THREADS", "3", 1);
    ::setenv("WORKER_CPU_ISA", "scalar", 1);
    ::setenv("WORKER_CPU_WEIGHTS", "private", 1);
    ::setenv("WORKER_CUDA_GRAPHS", "0", 1);
    ::setenv("WORKER_CUDA_STAGING_BYTES", "65536", 1);
    ::setenv("WORKER_HEALTH_TIMEOUT_MS", "250", 1);
    ::setenv("WORKER_LOG", "1", 1);
    WorkerContextParams params = WORKER_CONTEXT_PARAMS_INIT;
    params.cpu_threads = 5;
    params.cpu_isa = WORKER_CPU_ISA_AVX512;
    params.cpu_weights = WORKER_CPU_WEIGHTS_MAPPED;
    params.cuda_graphs = 1;
    params.cuda_staging_bytes = 2u << 20;
    params.health_timeout_ms = 1234;
    params.log_level = WORKER_LOG_ERROR;
    const Settings s = Settings::from_params(&params);
    EXPECT_EQ(s.cpu_threads, 5);
    EXPECT_EQ(s.cpu_isa_cap, CpuIsa::avx512);
    EXPECT_EQ(s.cpu_isa, worker::cpu::cpu_isa_supported());
    EXPECT_FALSE(s.cpu_private_weights);
    EXPECT_TRUE(s.cuda_graphs);
    EXPECT_EQ(s.cuda_staging_bytes, 2u << 20);
    EXPECT_EQ(s.health_timeout_ms, 1234);
    EXPECT_EQ(s.log_level, worker::LogLevel::error);
}

// WORKER_CPU_SCALAR was the name before WORKER_CPU_ISA; it is gone.
TEST_F(ContextSettings, TheLegacyScalarVariableIsIgnored) {
    ::setenv("WORKER_CPU_SCALAR", "1", 1);
    EXPECT_EQ(Settings::from_environment().cpu_isa, worker::cpu::cpu_isa_supported());
}

// ---- invalid values --------------------------------------------------------------------

struct BadField {
    const char* field;
    std::string value;
    void (*set)(WorkerContextParams&);
};

TEST_F(ContextSettings, AnInvalidFieldIsRefusedNamingFieldAndValue) {
    const BadField cases[] = {
        {"cpu_threads", "-1", [](WorkerContextParams& p) { p.cpu_threads = -1; }},
        {"cpu_threads", "1025", [](WorkerContextParams& p) { p.cpu_threads = 1025; }},
        {"cpu_isa", "4", [](WorkerContextParams& p) { p.cpu_isa = 4; }},
        {"cpu_isa", "-1", [](WorkerContextParams& p) { p.cpu_isa = -1; }},
        {"cuda_graphs", "2", [](WorkerContextParams& p) { p.cuda_graphs = 2; }},
        {"cuda_graphs", "-2", [](WorkerContextParams& p) { p.cuda_graphs = -2; }},
        {"cuda_staging_bytes", "65535", [](WorkerContextParams& p) { p.cuda_staging_bytes = 65535; }},
        {"cuda_staging_bytes", "268435457", [](WorkerContextParams& p) { p.cuda_staging_bytes = (256u << 20) + 1; }},
        {"health_timeout_ms", "-5", [](WorkerContextParams& p) { p.health_timeout_ms = -5; }},
        {"health_timeout_ms", "3600001", [](WorkerContextParams& p) { p.health_timeout_ms = 3600001; }},
        {"cpu_weights", "3", [](WorkerContextParams& p) { p.cpu_weights = 3; }},
        {"log_level", "5", [](WorkerContextParams& p) { p.log_level = 5; }},
        {"log_level", "-2", [](WorkerContextParams& p) { p.log_level = -2; }},
    };
    for (const BadField& c : cases) {
        WorkerContextParams params = WORKER_CONTEXT_PARAMS_INIT;
        c.set(params);
        int err = -1;
        ContextPtr ctx = cpu_context(&params, err);
        EXPECT_EQ(ctx, nullptr) << c.field << " " << c.value;
        EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER) << c.field << " " << c.value;
        const std::string expected = std::string("params->") + c.field + " is " + c.value + ";";
        EXPECT_NE(detail().find(expected), std::string::npos) << detail() << " (expected '" << expected << "')";
    }
}

TEST_F(ContextSettings, TheLimitsOfEveryRangeAreAccepted) {
    WorkerContextParams params = WORKER_CONTEXT_PARAMS_INIT;
    params.cpu_threads = 1;
    params.cuda_staging_bytes = 65536;
    params.health_timeout_ms = 1;
    params.log_level = WORKER_LOG_NONE;
    params.cuda_graphs = 0;
    int err = -1;
    EXPECT_NE(cpu_context(&params, err), nullptr) << detail();
    params.cpu_threads = 1024;
    params.cuda_staging_bytes = 256u << 20;
    params.health_timeout_ms = 3600000;
    params.log_level = WORKER_LOG_DEBUG;
    const Settings s = Settings::from_params(&params);
    EXPECT_EQ(s.cpu_threads, 1024);
    EXPECT_EQ(s.cuda_staging_bytes, 256u << 20);
    EXPECT_EQ(s.health_timeout_ms, 3600000);
    EXPECT_EQ(s.log_level, worker::LogLevel::debug);
}

struct BadVariable {
    const char* name;
    const char* value;
};

// One rule for every variable: unset or empty is the default; anything
// else must be valid, and cuda_init (which reads the same defaults) fails
// naming the variable and its value.
TEST_F(ContextSettings, AnInvalidVariableIsRefusedNamingVariableAndValue) {
    const BadVariable cases[] = {
        {"WORKER_CPU_THREADS", "abc"},
        {"WORKER_CPU_THREADS", "0"},
        {"WORKER_CPU_THREADS", "4x"},
        {"WORKER_CPU_THREADS", "-2"},
        {"WORKER_CPU_THREADS", " 4"},
        {"WORKER_CPU_ISA", "avx3"},
        {"WORKER_CPU_WEIGHTS", "sometimes"},
        {"WORKER_CUDA_GRAPHS", "yes"},
        {"WORKER_CUDA_STAGING_BYTES", "10"},
        {"WORKER_HEALTH_TIMEOUT_MS", "0"},
        {"WORKER_LOG", "loud"},
        {"WORKER_CUDA_STAGING_BYTES", "99999999999999999999"},
    };
    for (const BadVariable& c : cases) {
        ::setenv(c.name, c.value, 1);
        int err = -1;
        ContextPtr plain(cuda_init(WORKER_DEVICE_CPU, &err));
        EXPECT_EQ(plain, nullptr) << c.name << "=" << c.value;
        EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER) << c.name << "=" << c.value;
        const std::string expected = std::string(c.name) + " is '" + c.value + "'";
        EXPECT_NE(detail().find(expected), std::string::npos) << detail();
        ContextPtr ex = cpu_context(nullptr, err);
        EXPECT_EQ(ex, nullptr);
        EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
        ::unsetenv(c.name);
    }
}

TEST_F(ContextSettings, AnEmptyVariableIsTheDefault) {
    for (const char* name : kVariables) ::setenv(name, "", 1);
    const Settings s = Settings::from_environment();
    EXPECT_EQ(s.cpu_threads, all_cores());
    EXPECT_EQ(s.cuda_staging_bytes, size_t{1} << 20);
    int err = -1;
    EXPECT_NE(ContextPtr(cuda_init(WORKER_DEVICE_CPU, &err)), nullptr) << detail();
}

TEST_F(ContextSettings, AnExplicitFieldIsNotHeldUpByAnInvalidVariableItReplaces) {
    ::setenv("WORKER_CPU_THREADS", "many", 1);
    WorkerContextParams params = WORKER_CONTEXT_PARAMS_INIT;
    params.cpu_threads = 2;
    int err = -1;
    EXPECT_NE(cpu_context(&params, err), nullptr) << detail();
}

// ---- struct_size ---------------------------------------------------------------------

TEST_F(ContextSettings, StructSizeOutsideTheKnownRangeIsRefused) {
    for (const uint32_t size : {0u, 3u, static_cast<uint32_t>(sizeof(WorkerContextParams) + 1), 4096u}) {
        WorkerContextParams params = WORKER_CONTEXT_PARAMS_INIT;
        params.struct_size = size;
        int err = -1;
        EXPECT_EQ(cpu_context(&params, err), nullptr) << size;
        EXPECT_EQ(err, CUDA_ERROR_INVALID_PARAMETER);
        EXPECT_NE(detail().find("params->struct_size is " + std::to_string(size)), std::string::npos) << detail();
    }
}

// A caller built against a shorter struct: only its bytes are read, the
// fields past it take their defaults whatever follows in memory.
TEST_F(ContextSettings, AShorterStructReadsOnlyItsOwnFields) {
    alignas(WorkerContextParams) unsigned char bytes[sizeof(WorkerContextParams)];
    std::memset(bytes, 0xA5, sizeof bytes);
    WorkerContextParams head = WORKER_CONTEXT_PARAMS_INIT;
    head.struct_size = offsetof(WorkerContextParams, cpu_isa);
    head.cpu_threads = 2;
    std::memcpy(bytes, &head, offsetof(WorkerContextParams, cpu_isa));
    const auto* params = reinterpret_cast<const WorkerContextParams*>(bytes);
    int err = -1;
    ContextPtr ctx = cpu_context(params, err);
    ASSERT_NE(ctx, nullptr) << detail();
    const Settings s = Settings::from_params(params);
    EXPECT_EQ(s.cpu_threads, 2);
    EXPECT_EQ(s.cpu_isa, worker::cpu::cpu_isa_supported());
    EXPECT_TRUE(s.cuda_graphs);
    EXPECT_EQ(s.log_callback, nullptr);
    // Only struct_size itself: every field its default.
    head.struct_size = sizeof(uint32_t);
    std::memcpy(bytes, &head, sizeof(uint32_t));
    EXPECT_EQ(Settings::from_params(params).cpu_threads, all_cores());
}

TEST_F(ContextSettings, NullErrorCodeAndBadDevicesAreReported) {
    const WorkerContextParams params = WORKER_CONTEXT_PARAMS_INIT;
    EXPECT_EQ(cuda_init_ex(WORKER_DEVICE_CPU, &params, nullptr), nullptr);
    EXPECT_NE(detail().find("cuda_init_ex: error_code is NULL"), std::string::npos) << detail();
    int err = -1;
    EXPECT_EQ(cuda_init_ex(-2, &params, &err), nullptr);
    EXPECT_EQ(err, CUDA_ERROR_INVALID_DEVICE);
    if (cuda_get_device_count() == 0) {
        EXPECT_EQ(cuda_init_ex(0, &params, &err), nullptr);
        EXPECT_EQ(err, CUDA_ERROR_DEVICE_NOT_FOUND);
    }
}

// ---- logging ---------------------------------------------------------------------------

struct Received {
    std::vector<int> levels;
    std::vector<std::string> messages;
};

void collect(int level, const char* message, void* user_data) {
    auto* r = static_cast<Received*>(user_data);
    r->levels.push_back(level);
    r->messages.emplace_back(message);
}

std::string small_model(const std::string& name, worker::GgmlType type = worker::GgmlType::Q8_0) {
    worker::test::SyntheticModelSpec spec;
    spec.weight_type = type;
    if (type == worker::GgmlType::Q4_K || type == worker::GgmlType::Q6_K) {
        spec.n_embd = 256;
        spec.n_head = 4;
        spec.n_head_kv = 2;
        spec.head_dim = 64;
        spec.n_ff = 512;
    }
    const std::string path = ::testing::TempDir() + name;
    worker::test::write_synthetic_model(path, spec);
    return path;
}

class ContextLog : public CleanEnvironment {};

TEST_F(ContextLog, ACallbackReceivesTheLoadMessagesInsteadOfStderr) {
    const std::string path = small_model("log_callback.gguf");
    Received received;
    WorkerContextParams params = WORKER_CONTEXT_PARAMS_INIT;
    params.log_callback = collect;
    params.log_user_data = &received;
    int err = -1;
    ContextPtr ctx = cpu_context(&params, err);
    ASSERT_NE(ctx, nullptr) << detail();
    ::testing::internal::CaptureStderr();
    ModelPtr model(cuda_load_model(ctx.get(), path.c_str(), nullptr, &err));
    const std::string printed = ::testing::internal::GetCapturedStderr();
    ASSERT_NE(model, nullptr) << detail();
    EXPECT_EQ(printed, "");
    ASSERT_GE(received.messages.size(), 2u);
    for (size_t i = 0; i < received.messages.size(); ++i) {
        EXPECT_EQ(received.levels[i], WORKER_LOG_INFO);
        EXPECT_NE(received.messages[i].find("load '" + path + "'"), std::string::npos) << received.messages[i];
        EXPECT_EQ(received.messages[i].find('\n'), std::string::npos);
    }
    EXPECT_NE(received.messages.back().find("ready in"), std::string::npos) << received.messages.back();
}

TEST_F(ContextLog, TheLevelFiltersWhatTheCallbackReceives) {
    const std::string path = small_model("log_level.gguf");
    for (const int level : {WORKER_LOG_NONE, WORKER_LOG_ERROR, WORKER_LOG_WARN}) {
        Received received;
        WorkerContextParams params = WORKER_CONTEXT_PARAMS_INIT;
        params.log_callback = collect;
        params.log_user_data = &received;
        params.log_level = level;
        int err = -1;
        ContextPtr ctx = cpu_context(&params, err);
        ASSERT_NE(ctx, nullptr) << detail();
        ModelPtr model(cuda_load_model(ctx.get(), path.c_str(), nullptr, &err));
        ASSERT_NE(model, nullptr) << detail();
        EXPECT_TRUE(received.messages.empty()) << "level " << level << ": " << received.messages.front();
    }
    // WORKER_LOG=0 silences a callback left at the default level.
    ::setenv("WORKER_LOG", "0", 1);
    Received received;
    WorkerContextParams params = WORKER_CONTEXT_PARAMS_INIT;
    params.log_callback = collect;
    params.log_user_data = &received;
    int err = -1;
    ContextPtr ctx = cpu_context(&params, err);
    ModelPtr model(cuda_load_model(ctx.get(), path.c_str(), nullptr, &err));
    ASSERT_NE(model, nullptr) << detail();
    EXPECT_TRUE(received.messages.empty());
}

TEST_F(ContextLog, WithoutACallbackMessagesGoToStderrOnlyWhenAsked) {
    const std::string path = small_model("log_stderr.gguf");
    for (const bool asked : {false, true}) {
        WorkerContextParams params = WORKER_CONTEXT_PARAMS_INIT;
        params.log_level = asked ? WORKER_LOG_INFO : WORKER_LOG_DEFAULT;
        int err = -1;
        ContextPtr ctx = cpu_context(&params, err);
        ASSERT_NE(ctx, nullptr) << detail();
        ::testing::internal::CaptureStderr();
        ModelPtr model(cuda_load_model(ctx.get(), path.c_str(), nullptr, &err));
        const std::string printed = ::testing::internal::GetCapturedStderr();
        ASSERT_NE(model, nullptr) << detail();
        if (asked) {
            EXPECT_NE(printed.find("[worker_cuda] load '" + path + "'"), std::string::npos) << printed;
        } else {
            EXPECT_EQ(printed, "");
        }
    }
}

// ---- the CPU kernels' level, per context ---------------------------------------------------

// The tables a level selects: the portable kernels at scalar, the AVX-512
// ones at avx512 where the CPU has them, never above what it has.
TEST(ContextCpuIsa, EachLevelSelectsItsOwnKernels) {
    using worker::GgmlType;
    namespace cpu = worker::cpu;
    const cpu::VecKernels& scalar = cpu::vec_kernels(CpuIsa::scalar);
    EXPECT_EQ(scalar.swiglu, &cpu::swiglu_ggml_scalar);
    EXPECT_EQ(scalar.exp_rows, &cpu::exp_ggml_rows_scalar);
    EXPECT_EQ(scalar.dot_f16_rows, &cpu::dot_f16_rows_ggml_scalar);
    EXPECT_EQ(scalar.wsum_f16_rows, &cpu::wsum_f16_rows_ggml_scalar);
    EXPECT_STREQ(cpu::dot_kernel_isa(CpuIsa::scalar), "scalar");
    for (const GgmlType type : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K}) {
        for (const int64_t n : {1, 4, 9}) {
            const cpu::BatchKernels at_scalar = cpu::batch_kernels(type, n, CpuIsa::scalar);
            const cpu::BatchKernels portable = cpu::batch_kernels_scalar(type, n);
            EXPECT_EQ(at_scalar.dot1, portable.dot1);
            EXPECT_EQ(at_scalar.dot4, portable.dot4);
            if (cpu::cpu_supports_avx512()) {
                const cpu::BatchKernels at_avx512 = cpu::batch_kernels(type, n, CpuIsa::avx512);
                const cpu::BatchKernels wide = cpu::batch_kernels_avx512(type, n);
                EXPECT_EQ(at_avx512.dot1, wide.dot1);
                EXPECT_EQ(at_avx512.dot4, wide.dot4);
                EXPECT_NE(at_avx512.dot1, portable.dot1);
            }
        }
    }
    if (cpu::cpu_supports_avx512()) {
        cpu::VecKernels wide{};
        ASSERT_TRUE(cpu::vec_avx512_kernels(wide));
        EXPECT_EQ(cpu::vec_kernels(CpuIsa::avx512).swiglu, wide.swiglu);
        EXPECT_NE(cpu::vec_kernels(CpuIsa::avx512).swiglu, scalar.swiglu);
        EXPECT_STREQ(cpu::dot_kernel_isa(CpuIsa::avx512), "avx512");
    }
    if (cpu::cpu_avx2_fma_f16c_supported()) {
        EXPECT_NE(cpu::vec_kernels(CpuIsa::avx2).swiglu, scalar.swiglu);
        EXPECT_NE(cpu::batch_kernels(GgmlType::Q8_0, 1, CpuIsa::avx2).dot1,
                  cpu::batch_kernels_scalar(GgmlType::Q8_0, 1).dot1);
    } else {
        // No AVX2: asking for it runs the portable kernels.
        EXPECT_EQ(cpu::vec_kernels(CpuIsa::avx2).swiglu, scalar.swiglu);
    }
}

// A cap above the CPU runs at what the CPU has; a cap below it runs lower.
TEST_F(ContextSettings, TheRunningLevelIsTheCapOrWhatTheCpuHas) {
    const CpuIsa supported = worker::cpu::cpu_isa_supported();
    for (const int cap : {WORKER_CPU_ISA_SCALAR, WORKER_CPU_ISA_AVX2, WORKER_CPU_ISA_AVX512}) {
        WorkerContextParams params = WORKER_CONTEXT_PARAMS_INIT;
        params.cpu_isa = cap;
        const Settings s = Settings::from_params(&params);
        const auto asked = static_cast<CpuIsa>(cap - 1);
        EXPECT_EQ(s.cpu_isa_cap, asked);
        EXPECT_EQ(s.cpu_isa, static_cast<int>(asked) < static_cast<int>(supported) ? asked : supported);
    }
}

// Two contexts of one process at different levels, side by side: every
// level gives the same bits, so the same tokens, for each weight type whose
// kernels differ by level (Q6_K with a prompt of 8+ tokens takes the tiled
// batch kernels).
TEST_F(ContextSettings, ContextsAtDifferentLevelsGenerateTheSameTokens) {
    const std::string prompt = "the cat sat on the mat and looked at the dog";
    for (const worker::GgmlType type : {worker::GgmlType::Q4_0, worker::GgmlType::Q4_K, worker::GgmlType::Q6_K}) {
        const std::string path = small_model("levels_" + std::to_string(static_cast<int>(type)) + ".gguf", type);
        std::vector<std::vector<std::string>> outputs;
        for (const int cap : {WORKER_CPU_ISA_SCALAR, WORKER_CPU_ISA_AVX2, WORKER_CPU_ISA_AVX512}) {
            WorkerContextParams params = WORKER_CONTEXT_PARAMS_INIT;
            params.cpu_isa = cap;
            params.cpu_threads = 2;
            int err = -1;
            ContextPtr ctx = cpu_context(&params, err);
            ASSERT_NE(ctx, nullptr) << detail();
            ModelPtr model(cuda_load_model(ctx.get(), path.c_str(), nullptr, &err));
            ASSERT_NE(model, nullptr) << detail();
            const worker::test::Generation g = worker::test::generate_greedy(model.get(), prompt, 12);
            ASSERT_EQ(g.error, CUDA_SUCCESS) << g.detail;
            EXPECT_FALSE(g.pieces.empty());
            outputs.push_back(g.pieces);
        }
        EXPECT_EQ(outputs[0], outputs[1]) << "scalar vs avx2, type " << static_cast<int>(type);
        EXPECT_EQ(outputs[0], outputs[2]) << "scalar vs avx512, type " << static_cast<int>(type);
    }
}

}  // namespace
