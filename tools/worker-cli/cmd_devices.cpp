// worker-cli devices / version: what this build and this machine offer.
#include <cstdio>

#include "command.h"
#include "worker_ffi.h"

namespace worker::cli {
namespace {

int run_version(const std::vector<std::string>&) {
    const uint32_t v = cuda_api_version();
    std::printf("worker_cuda %u.%u.%u\n", v >> 16, (v >> 8) & 0xFF, v & 0xFF);
    return 0;
}

int run_devices(const std::vector<std::string>&) {
    run_version({});
    const int count = cuda_get_device_count();
    std::printf("CUDA devices: %d\n", count);
    for (int i = 0; i < count; ++i) std::printf("  device %d\n", i);
    std::printf("CPU reference device: --device cpu (id %d)\n", WORKER_DEVICE_CPU);
    return 0;
}

const bool registered = register_command({"version", "print the library version", &run_version}) &&
                        register_command({"devices", "list the devices this build can use", &run_devices});

}  // namespace
}  // namespace worker::cli
