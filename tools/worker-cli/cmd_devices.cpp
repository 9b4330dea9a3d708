// worker-cli devices / version: what this build and this machine offer.
#include <cstdio>

#include "command.h"
#include "options.h"
#include "worker_ffi.h"

namespace worker::cli {
namespace {

void no_options(const std::vector<std::string>& args) {
    if (!args.empty()) throw UsageError{"unknown option '" + args[0] + "'"};
}

int run_version(const std::vector<std::string>& args) {
    no_options(args);
    std::printf("%s\n", version_line().c_str());
    return 0;
}

int run_devices(const std::vector<std::string>& args) {
    no_options(args);
    std::printf("%s\n", version_line().c_str());
    const int count = cuda_get_device_count();
    std::printf("CUDA devices: %d\n", count);
    for (int i = 0; i < count; ++i) std::printf("  device %d\n", i);
    std::printf("CPU reference device: --device cpu (id %d)\n", WORKER_DEVICE_CPU);
    return 0;
}

const bool registered =
    register_command(
        {"version", "print the library version (also: worker-cli --version)",
         "usage: worker-cli version\n\nPrints the library version and whether the CUDA backend is built in.\n",
         &run_version}) &&
    register_command({"devices", "list the devices this build can use",
                      "usage: worker-cli devices\n\nLists the CUDA devices this build and machine can use, and the CPU "
                      "reference device.\n",
                      &run_devices});

}  // namespace
}  // namespace worker::cli
