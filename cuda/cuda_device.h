// CUDA runtime queries used by the device-independent core.
#pragma once

#include <cstdint>

namespace worker::cuda {

// Number of usable CUDA devices; 0 when there is no GPU or no driver.
int device_count() noexcept;
// Makes `device` current on this thread and initialises its primary context.
// Throws Error on failure.
void init_device(int device);
// Bytes this process holds on the device through the library (every live
// allocation of every model and inference on it).
uint64_t process_device_memory(int device);
// Throws Error(CUDA_ERROR_KERNEL_LAUNCH_FAILED or CUDA_ERROR_UNKNOWN) when a
// sticky error is pending, a small copy round-trip fails, or the device does
// not complete it within `timeout_ms` (an unresponsive device).
void check_device_health(int device, int timeout_ms);

}  // namespace worker::cuda
