// Turning CUDA runtime and cuBLAS status codes into worker::Error. Every
// runtime call and every kernel launch of the CUDA backend goes through one
// of these, so a failure always names the call or the kernel and the GPU.
//
// Sticky errors. A kernel fault (an illegal address, a trap, a hardware
// exception) poisons the device's CUDA context for the rest of the process:
// every later call on that device returns the same error, and only a new
// process can use the GPU again. Such an error is never blamed on the call
// or the inference that happened to see it: the device is marked lost, and
// from then on every model, inference and context on it reports
// CUDA_ERROR_KERNEL_LAUNCH_FAILED with a detail that starts "GPU N lost:"
// and names the first error and where it was seen. Freeing handles on a
// lost device still works (and returns its memory to the ledgers).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "core/error.h"

namespace worker::cuda {

// Whether `status` is one of the errors the CUDA runtime documents as
// leaving the process's context in an inconsistent state ("the process must
// be terminated and relaunched").
bool is_sticky_error(cudaError_t status);

// Marks `device` lost (the first cause is kept) and throws its device-lost
// Error. `where` says which call saw the error.
[[noreturn]] void fail_device_lost(int device, cudaError_t status, const std::string& where);

// Throws the device-lost Error when `device` was lost earlier; else nothing.
void check_device_not_lost(int device);

// "" while `device` works, else the device-lost message.
std::string device_lost_message(int device);

// The current device of this thread (-1 when the runtime cannot say).
int current_device() noexcept;

// A failed runtime call that is not a launch: sticky errors lose the device
// (see above), allocation failures become CUDA_ERROR_OUT_OF_MEMORY, anything
// else CUDA_ERROR_UNKNOWN.
void check_cuda(cudaError_t status, const char* what);

// Called right after every kernel launch: a launch error (bad configuration,
// too many resources, no kernel image for this GPU) is
// CUDA_ERROR_KERNEL_LAUNCH_FAILED naming the kernel. A sticky error seen
// here comes from an earlier kernel: the device is lost, and the message
// says that the launch only saw it.
void check_launch(const char* kernel);

const char* cublas_status_name(cublasStatus_t status);

// A failed cuBLAS call; a sticky error pending on the device (cuBLAS reports
// a faulted context as an execution failure) loses the device.
void check_cublas(cublasStatus_t status, const char* what);

}  // namespace worker::cuda
