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

}  // namespace

Settings Settings::from_environment() { return from_params(nullptr); }

Settings Settings::from_params(const WorkerContextParams* params) {
    WorkerContextParams p = WORKER_CONTEXT_PARAMS_INIT;
    if (params != nullptr) {
        // Callers compiled against a shorter struct give a smaller
        // struct_size: the fields past it keep their defaults.
        const size_t size = params->struct_size;
        if (size < sizeof(uint32_t) || size > sizeof(WorkerContextParams)) {
            fail(CUDA_ERROR_INVALID_PARAMETER, "params->struct_size is ", size, "; expected between ", sizeof(uint32_t),
                 " and ", sizeof(WorkerContextParams));
        }
        std::memcpy(&p, params, size);
    }
    Settings s;

    if (p.cpu_threads == 0) {
        s.cpu_threads = cpu_threads_default();
    } else if (p.cpu_threads < 1 || p.cpu_threads > kMaxCpuThreads) {
        invalid_field(kCpuThreads, p.cpu_threads, "0 (the default) or 1..1024");
    } else {
        s.cpu_threads = p.cpu_threads;
    }

    switch (p.cpu_isa) {
        case WORKER_CPU_ISA_AUTO:
            s.cpu_isa_cap = cpu_isa_cap_default();
            break;
        case WORKER_CPU_ISA_SCALAR:
            s.cpu_isa_cap = cpu::CpuIsa::scalar;
            break;
        case WORKER_CPU_ISA_AVX2:
            s.cpu_isa_cap = cpu::CpuIsa::avx2;
            break;
        case WORKER_CPU_ISA_AVX512:
            s.cpu_isa_cap = cpu::CpuIsa::avx512;
            break;
        default:
            invalid_field(kCpuIsa, p.cpu_isa, "WORKER_CPU_ISA_AUTO (0), _SCALAR (1), _AVX2 (2) or _AVX512 (3)");
    }
    s.cpu_isa = running_level(s.cpu_isa_cap);

    switch (p.cpu_weights) {
        case WORKER_CPU_WEIGHTS_DEFAULT:
            s.cpu_private_weights = private_weights_default();
            break;
        case WORKER_CPU_WEIGHTS_MAPPED:
            s.cpu_private_weights = false;
            break;
        case WORKER_CPU_WEIGHTS_PRIVATE:
            s.cpu_private_weights = true;
            break;
        default:
            invalid_field(kCpuWeights, p.cpu_weights, "WORKER_CPU_WEIGHTS_DEFAULT (0), _MAPPED (1) or _PRIVATE (2)");
    }

    if (p.cuda_graphs == -1) {
        s.cuda_graphs = cuda_graphs_default();
    } else if (p.cuda_graphs != 0 && p.cuda_graphs != 1) {
        invalid_field(kCudaGraphs, p.cuda_graphs, "-1 (the default), 0 or 1");
    } else {
        s.cuda_graphs = p.cuda_graphs == 1;
    }

    if (p.cuda_staging_bytes == 0) {
        s.cuda_staging_bytes = staging_bytes_default();
    } else if (p.cuda_staging_bytes < kMinStagingBytes || p.cuda_staging_bytes > kMaxStagingBytes) {
        invalid_field(kStagingBytes, p.cuda_staging_bytes, "0 (the default) or 65536..268435456");
    } else {
        s.cuda_staging_bytes = static_cast<size_t>(p.cuda_staging_bytes);
    }

    if (p.health_timeout_ms == 0) {
        s.health_timeout_ms = health_timeout_default();
    } else if (p.health_timeout_ms < 1 || p.health_timeout_ms > kMaxHealthTimeoutMs) {
        invalid_field(kHealthTimeout, p.health_timeout_ms, "0 (the default) or 1..3600000");
    } else {
        s.health_timeout_ms = p.health_timeout_ms;
    }

    s.log_callback = p.log_callback;
    s.log_user_data = p.log_user_data;
    if (p.log_level == WORKER_LOG_DEFAULT) {
        s.log_level = log_level_default(p.log_callback != nullptr ? LogLevel::info : LogLevel::none);
    } else if (p.log_level < WORKER_LOG_NONE || p.log_level > WORKER_LOG_DEBUG) {
        invalid_field(kLogLevel, p.log_level, "WORKER_LOG_DEFAULT (-1) or WORKER_LOG_NONE (0) .. WORKER_LOG_DEBUG (4)");
    } else {
        s.log_level = static_cast<LogLevel>(p.log_level);
    }
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
