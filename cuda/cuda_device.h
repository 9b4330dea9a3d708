// CUDA runtime queries used by the device-independent core.
#pragma once

#include <cstdint>

namespace worker::cuda {

// Number of usable CUDA devices; 0 when there is no GPU or no driver.
int device_count() noexcept;
// Makes `device` current on this thread and initialises its primary context.
// Throws Error on failure, and the device-lost Error (cuda_check.h) for a
// device lost earlier in this process.
void init_device(int device);
// Bytes this process holds on the device through the library: the sum of
// every live VRAM ledger on it (device_memory.h says what that counts).
uint64_t process_device_memory(int device);
// Whether the device's streaming multiprocessors still run work: a
// one-thread kernel on the probe's own stream writes a fresh number that a
// 4-byte copy brings back. The stream, the event and both buffers are made
// once per device and kept for the process (freeing device memory would
// synchronise the whole device). The probe runs on a thread of its own and
// the caller waits for it at most `timeout_ms`: the whole call is bounded by
// the timeout even when a CUDA call hangs, and while an earlier probe is still
// stuck the next call says so at once. Throws
// - the device-lost Error (CUDA_ERROR_KERNEL_LAUNCH_FAILED) for a lost device
//   or a sticky error seen by the probe;
// - Error(CUDA_ERROR_UNKNOWN, "... unresponsive ...") when the probe does not
//   complete in time;
// - Error(CUDA_ERROR_UNKNOWN) when the number read back is not the one written.
void check_device_health(int device, int timeout_ms);

}  // namespace worker::cuda
