#include "core/settings.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <thread>

#include "core/error.h"
#include "core/versioned.h"

namespace worker {

namespace {

// One setting's two sources: the WorkerContextParams field and the
// environment variable that supplies its default.
struct Source {
    const char* field;
    const char* variable;
};

constexpr Source kCpuThreads{"cpu_threads", "WORKER_CPU_THREADS"};
constexpr Source kCpuIsa{"cpu_isa", "WORKER_CPU_ISA"};
constexpr Source kCpuWeights{"cpu_weights", "WORKER_CPU_WEIGHTS"};
constexpr Source kCudaGraphs{"cuda_graphs", "WORKER_CUDA_GRAPHS"};
constexpr Source kStagingBytes{"cuda_staging_bytes", "WORKER_CUDA_STAGING_BYTES"};
constexpr Source kHealthTimeout{"health_timeout_ms", "WORKER_HEALTH_TIMEOUT_MS"};
constexpr Source kLogLevel{"log_level", "WORKER_LOG"};

// The variable's value; nullptr when it is unset or empty (the built-in default).
const char* environment(const Source& source) {
    const char* value = std::getenv(source.variable);
    return value != nullptr && *value != '\0' ? value : nullptr;
}

[[noreturn]] void invalid_variable(const Source& source, const char* value, const char* expected) {
    fail(CUDA_ERROR_INVALID_PARAMETER, source.variable, " is '", value, "'; expected ", expected);
}

template <typename Value>
[[noreturn]] void invalid_field(const Source& source, Value value, const char* expected) {
    fail(CUDA_ERROR_INVALID_PARAMETER, "params->", source.field, " is ", value, "; expected ", expected);
}

// A whole unsigned decimal number in [low, high]: digits only.
bool parse_integer(const char* text, long long low, long long high, long long& out) {
    if (!std::isdigit(static_cast<unsigned char>(text[0]))) return false;
    errno = 0;
    char* end = nullptr;
    const long long value = std::strtoll(text, &end, 10);
    if (*end != '\0' || errno == ERANGE || value < low || value > high) return false;
    out = value;
    return true;
}

// The environment's integer for `source` in [low, high], else `fallback`.
long long integer_default(const Source& source, long long low, long long high, long long fallback) {
    const char* text = environment(source);
    if (text == nullptr) return fallback;
    long long value = 0;
    if (!parse_integer(text, low, high, value)) {
        invalid_variable(source, text, str_cat("an integer in [", low, ", ", high, "]").c_str());
    }
    return value;
}

template <typename Value>
struct Choice {
    const char* name;
    Value value;
};

// The environment's choice for `source`, else `fallback`.
template <typename Value>
Value choice_default(const Source& source, std::initializer_list<Choice<Value>> choices, const char* expected,
                     Value fallback) {
    const char* text = environment(source);
    if (text == nullptr) return fallback;
    for (const Choice<Value>& choice : choices) {
        if (std::strcmp(text, choice.name) == 0) return choice.value;
    }
    invalid_variable(source, text, expected);
}

int all_cores() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(std::min<unsigned>(n, Settings::kMaxCpuThreads));
}

int cpu_threads_default() {
    return static_cast<int>(integer_default(kCpuThreads, 1, Settings::kMaxCpuThreads, all_cores()));
}

constexpr const char* kIsaNames = "scalar, avx2 or avx512";
cpu::CpuIsa cpu_isa_cap_default() {
    return choice_default<cpu::CpuIsa>(
        kCpuIsa, {{"scalar", cpu::CpuIsa::scalar}, {"avx2", cpu::CpuIsa::avx2}, {"avx512", cpu::CpuIsa::avx512}},
        kIsaNames, cpu::CpuIsa::avx512);
}

bool private_weights_default() {
    return choice_default<bool>(kCpuWeights, {{"mapped", false}, {"private", true}}, "mapped or private", false);
}

bool cuda_graphs_default() { return choice_default<bool>(kCudaGraphs, {{"0", false}, {"1", true}}, "0 or 1", true); }

size_t staging_bytes_default() {
    return static_cast<size_t>(integer_default(kStagingBytes, Settings::kMinStagingBytes, Settings::kMaxStagingBytes,
                                               Settings::kDefaultStagingBytes));
}

int health_timeout_default() {
    return static_cast<int>(
        integer_default(kHealthTimeout, 1, Settings::kMaxHealthTimeoutMs, Settings::kDefaultHealthTimeoutMs));
}

// WORKER_LOG: 0 or 1 (info), as before levels existed, or a level's name.
LogLevel log_level_default(LogLevel fallback) {
    return choice_default<LogLevel>(kLogLevel,
                                    {{"0", LogLevel::none},
                                     {"1", LogLevel::info},
                                     {"none", LogLevel::none},
                                     {"error", LogLevel::error},
                                     {"warn", LogLevel::warn},
                                     {"info", LogLevel::info},
                                     {"debug", LogLevel::debug}},
                                    "0, 1, none, error, warn, info or debug", fallback);
}

cpu::CpuIsa running_level(cpu::CpuIsa cap) {
    const cpu::CpuIsa supported = cpu::cpu_isa_supported();
    return static_cast<int>(cap) < static_cast<int>(supported) ? cap : supported;
}

// ---- one function per field: its value in WorkerContextParams, or its default ----

int cpu_threads_from(int32_t value) {
    if (value == 0) return cpu_threads_default();
    if (value < 1 || value > Settings::kMaxCpuThreads) {
        invalid_field(kCpuThreads, value, "0 (the default) or 1..1024");
    }
    return value;
}

cpu::CpuIsa cpu_isa_cap_from(int32_t value) {
    switch (value) {
        case WORKER_CPU_ISA_AUTO: return cpu_isa_cap_default();
        case WORKER_CPU_ISA_SCALAR: return cpu::CpuIsa::scalar;
        case WORKER_CPU_ISA_AVX2: return cpu::CpuIsa::avx2;
        case WORKER_CPU_ISA_AVX512: return cpu::CpuIsa::avx512;
        default: invalid_field(kCpuIsa, value, "WORKER_CPU_ISA_AUTO (0), _SCALAR (1), _AVX2 (2) or _AVX512 (3)");
    }
}

bool private_weights_from(int32_t value) {
    switch (value) {
        case WORKER_CPU_WEIGHTS_DEFAULT: return private_weights_default();
        case WORKER_CPU_WEIGHTS_MAPPED: return false;
        case WORKER_CPU_WEIGHTS_PRIVATE: return true;
        default: invalid_field(kCpuWeights, value, "WORKER_CPU_WEIGHTS_DEFAULT (0), _MAPPED (1) or _PRIVATE (2)");
    }
}

bool cuda_graphs_from(int32_t value) {
    if (value == -1) return cuda_graphs_default();
    if (value != 0 && value != 1) invalid_field(kCudaGraphs, value, "-1 (the default), 0 or 1");
    return value == 1;
}

size_t staging_bytes_from(uint64_t value) {
    if (value == 0) return staging_bytes_default();
    if (value < Settings::kMinStagingBytes || value > Settings::kMaxStagingBytes) {
        invalid_field(kStagingBytes, value, "0 (the default) or 65536..268435456");
    }
    return static_cast<size_t>(value);
}

int health_timeout_from(int32_t value) {
    if (value == 0) return health_timeout_default();
    if (value < 1 || value > Settings::kMaxHealthTimeoutMs) {
        invalid_field(kHealthTimeout, value, "0 (the default) or 1..3600000");
    }
    return value;
}

// The default is WORKER_LOG, else info when there is a callback to send to.
LogLevel log_level_from(int32_t value, bool has_callback) {
    if (value == WORKER_LOG_DEFAULT) return log_level_default(has_callback ? LogLevel::info : LogLevel::none);
    if (value < WORKER_LOG_NONE || value > WORKER_LOG_DEBUG) {
        invalid_field(kLogLevel, value, "WORKER_LOG_DEFAULT (-1) or WORKER_LOG_NONE (0) .. WORKER_LOG_DEBUG (4)");
    }
    return static_cast<LogLevel>(value);
}

}  // namespace

Settings Settings::from_environment() { return from_params(nullptr); }

Settings Settings::from_params(const WorkerContextParams* params) {
    WorkerContextParams p = WORKER_CONTEXT_PARAMS_INIT;
    if (params != nullptr) p = read_versioned(*params, p, sizeof(uint32_t));
    Settings s;
    s.cpu_threads = cpu_threads_from(p.cpu_threads);
    s.cpu_isa_cap = cpu_isa_cap_from(p.cpu_isa);
    s.cpu_isa = running_level(s.cpu_isa_cap);
    s.cpu_private_weights = private_weights_from(p.cpu_weights);
    s.cuda_graphs = cuda_graphs_from(p.cuda_graphs);
    s.cuda_staging_bytes = staging_bytes_from(p.cuda_staging_bytes);
    s.health_timeout_ms = health_timeout_from(p.health_timeout_ms);
    s.log_level = log_level_from(p.log_level, p.log_callback != nullptr);
    s.log_callback = p.log_callback;
    s.log_user_data = p.log_user_data;
    return s;
}

void Settings::log(LogLevel level, const std::string& message) const noexcept {
    if (!logs(level)) return;
    if (log_callback != nullptr) {
        log_callback(static_cast<int>(level), message.c_str(), log_user_data);
    } else {
        std::fprintf(stderr, "[worker_cuda] %s\n", message.c_str());
    }
}

cpu::CpuIsa environment_cpu_isa_cap() noexcept {
    try {
        return cpu_isa_cap_default();
    } catch (...) {
        return cpu::CpuIsa::avx512;
    }
}

}  // namespace worker
