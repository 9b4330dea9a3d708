#include "core/context.h"

#include <unistd.h>

#include <cstdio>

#include "core/error.h"
#include "core/fault.h"
#include "worker_types.h"

#ifdef WORKER_HAVE_CUDA
#include "cuda_device.h"
#endif

namespace worker {

namespace {

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

std::shared_ptr<Context> Context::create(int device) { return create(device, Settings::from_environment()); }

std::shared_ptr<Context> Context::create(int device, Settings settings) {
    fault::check(fault::Site::Boundary);
    if (device == WORKER_DEVICE_CPU) return std::shared_ptr<Context>(new Context(device, settings));
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
    return std::shared_ptr<Context>(new Context(device, settings));
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
        cuda::check_device_health(device_, settings_.health_timeout_ms);
    }
#endif
}

}  // namespace worker
