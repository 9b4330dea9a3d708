// What tunes a context, in one struct: read once when the context is created
// (from WorkerContextParams, the environment supplying every default), then
// handed down to the CPU backend, the CUDA backend and the loader. Nothing
// below the context reads the environment.
//
// One parsing rule for every variable: unset or empty means the built-in
// default; any other value must be valid, else creating the context fails
// with CUDA_ERROR_INVALID_PARAMETER naming the variable and its value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "cpu/cpu_features.h"
#include "worker_types.h"

namespace worker {

enum class LogLevel : int { none = 0, error = 1, warn = 2, info = 3, debug = 4 };

struct Settings {
    static constexpr size_t kDefaultStagingBytes = size_t{1} << 20;
    static constexpr size_t kMinStagingBytes = size_t{64} << 10;
    static constexpr size_t kMaxStagingBytes = size_t{256} << 20;
    static constexpr int kMaxCpuThreads = 1024;
    static constexpr int kDefaultHealthTimeoutMs = 10000;
    static constexpr int kMaxHealthTimeoutMs = 3600000;

    // CPU device: worker threads.
    int cpu_threads = 1;
    // CPU kernels: the level asked for (a cap) and the one they run at (the
    // cap, or lower where the CPU lacks it).
    cpu::CpuIsa cpu_isa_cap = cpu::CpuIsa::avx512;
    cpu::CpuIsa cpu_isa = cpu::CpuIsa::scalar;
    // CPU device: weights read into private memory rather than mapped.
    bool cpu_private_weights = false;
    // GPU: decode steps captured in CUDA graphs.
    bool cuda_graphs = true;
    // GPU: bytes of each pinned upload staging buffer.
    size_t cuda_staging_bytes = kDefaultStagingBytes;
    // GPU: how long the health probe may take.
    int health_timeout_ms = kDefaultHealthTimeoutMs;
    // Messages up to this level go to the callback, or to stderr without one.
    LogLevel log_level = LogLevel::none;
    WorkerLogCallback log_callback = nullptr;
    void* log_user_data = nullptr;

    // The defaults: each from its environment variable when set, else built in.
    // Throws Error (CUDA_ERROR_INVALID_PARAMETER) naming a variable whose value
    // is invalid.
    static Settings from_environment();
    // `params` (NULL: from_environment()); a field at its "default" value takes
    // the environment's. Throws Error (CUDA_ERROR_INVALID_PARAMETER) naming the
    // field (params->...) or variable and the value for anything invalid,
    // including a struct_size outside [sizeof(uint32_t), sizeof(WorkerContextParams)].
    static Settings from_params(const WorkerContextParams* params);

    bool logs(LogLevel level) const { return level != LogLevel::none && level <= log_level; }
    // Sends one line to the callback, or to stderr (prefixed) without one.
    // Never throws.
    void log(LogLevel level, const std::string& message) const noexcept;
};

// The CPU kernels' level cap in WORKER_CPU_ISA, for code that has no context
// (the free kernel functions of src/cpu that tests and tools call): no cap
// when unset or invalid (creating a context reports an invalid value).
cpu::CpuIsa environment_cpu_isa_cap() noexcept;

}  // namespace worker
