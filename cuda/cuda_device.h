// CUDA runtime queries used by the device-independent core.
#pragma once

#include <cstdint>

namespace worker::cuda {

// Number of usable CUDA devices; 0 when there is no GPU or no driver.
int device_count() noexcept;
// Makes `device` current on this thread and initialises its primary context.
// Throws Error on failure.
void init_device(int device);
// Total minus free memory of the device as the driver reports it.
uint64_t used_device_memory(int device);
// Throws Error(CUDA_ERROR_KERNEL_LAUNCH_FAILED or CUDA_ERROR_UNKNOWN) when a
// sticky error is pending or a synchronising round-trip fails.
void check_device_health(int device);

}  // namespace worker::cuda
