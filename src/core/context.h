// A device the library runs on: the CPU reference device or one CUDA GPU,
// with the settings it was created with.
#pragma once

#include <cstdint>
#include <memory>

#include "core/settings.h"

namespace worker {

// Number of CUDA devices usable by this process (0 without a GPU, without a
// driver, or in a build without the CUDA backend). Never throws.
int cuda_device_count() noexcept;

class Context {
public:
    // Throws Error: CUDA_ERROR_INVALID_DEVICE for an id < -1 or past the last
    // GPU, CUDA_ERROR_DEVICE_NOT_FOUND when a GPU is asked for and none exists.
    static std::shared_ptr<Context> create(int device, Settings settings);
    // With the settings of the environment (Settings::from_environment()).
    static std::shared_ptr<Context> create(int device);

    int device() const { return device_; }
    bool is_cpu() const { return device_ < 0; }
    // Fixed for the life of the context; the backends and the loader read
    // their settings here.
    const Settings& settings() const { return settings_; }

    // CPU: resident set size of the process. GPU: device memory this process
    // holds through the library on the device (all models and inferences).
    uint64_t process_memory_usage() const;
    // Throws Error describing the fault when the device is not healthy.
    void check_health() const;

private:
    Context(int device, Settings settings) : device_(device), settings_(settings) {}

    int device_;
    Settings settings_;
};

}  // namespace worker
