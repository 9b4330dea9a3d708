#include "core/context.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/fault.h"
#include "worker_types.h"

#ifdef WORKER_HAVE_CUDA
#include "cuda_device.h"
#endif

namespace worker {

namespace {

int cpu_thread_count() {
    if (const char* env = std::getenv("WORKER_CPU_THREADS")) {
        char* end = nullptr;
        const long n = std::strtol(env, &end, 10);
        if (end != env && *end == '\0' && n >= 1 && n <= 1024) return static_cast<int>(n);
    }
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

// WORKER_CPU_WEIGHTS: "mapped" (default) or "private".
bool private_weights_setting() {
    const char* env = std::getenv("WORKER_CPU_WEIGHTS");
    if (env == nullptr || std::string(env).empty() || std::string(env) == "mapped") return false;
    if (std::string(env) == "private") return true;
    fail(CUDA_ERROR_INVALID_PARAMETER, "WORKER_CPU_WEIGHTS is '", env, "'; expected 'mapped' or 'private'");
}

uint64_t resident_set_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (f == nullptr) return 0;
    unsigned long long total = 0, resident = 0;
    const int n = std::fscanf(f, "%llu %llu", &total, &resident);
    std::fclose(f);
    if (n != 2) return 0;
    return static_cast<uint64_t>(resident) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

int cuda_device_count() noexcept {
#ifdef WORKER_HAVE_CUDA
    return cuda::device_count();
#else
    return 0;
#endif
}

std::shared_ptr<Context> Context::create(int device) {
    fault::check(fault::Site::Boundary);
    if (device == WORKER_DEVICE_CPU) {
        return std::shared_ptr<Context>(new Context(device, cpu_thread_count(), private_weights_setting()));
    }
    if (device < WORKER_DEVICE_CPU) {
        fail(CUDA_ERROR_INVALID_DEVICE, "device id ", device, " is invalid: use a GPU id >= 0 or WORKER_DEVICE_CPU (-1)");
    }
#ifdef WORKER_HAVE_CUDA
    const int count = cuda::device_count();
    if (count == 0) fail(CUDA_ERROR_DEVICE_NOT_FOUND, "GPU ", device, " requested but no CUDA device was found");
    if (device >= count) {
        fail(CUDA_ERROR_INVALID_DEVICE, "GPU ", device, " requested but only ", count, " CUDA device(s) exist");
    }
    cuda::init_device(device);
    return std::shared_ptr<Context>(new Context(device, cpu_thread_count(), false));
#else
    fail(CUDA_ERROR_DEVICE_NOT_FOUND, "GPU ", device,
         " requested but this library was built without its CUDA backend (WORKER_CUDA=OFF)");
#endif
}

uint64_t Context::process_memory_usage() const {
#ifdef WORKER_HAVE_CUDA
    if (!is_cpu()) return cuda::process_device_memory(device_);
#endif
    return resident_set_bytes();
}

void Context::check_health() const {
    fault::check(fault::Site::Boundary);
#ifdef WORKER_HAVE_CUDA
    if (!is_cpu()) {
        // WORKER_HEALTH_TIMEOUT_MS: how long the device may take to answer (default 10 s).
        int timeout_ms = 10000;
        if (const char* env = std::getenv("WORKER_HEALTH_TIMEOUT_MS")) {
            char* end = nullptr;
            const long v = std::strtol(env, &end, 10);
            if (end != env && *end == '\0' && v > 0 && v <= 3600000) timeout_ms = static_cast<int>(v);
        }
        cuda::check_device_health(device_, timeout_ms);
    }
#endif
}

}  // namespace worker
