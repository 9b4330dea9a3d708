#include "cuda_device.h"

#include <cuda_runtime.h>

#include "core/error.h"

namespace worker::cuda {

namespace {

void check(cudaError_t status, int device, const char* what) {
    if (status == cudaSuccess) return;
    const CudaErrorCode code =
        status == cudaErrorMemoryAllocation ? CUDA_ERROR_OUT_OF_MEMORY
        : (status == cudaErrorLaunchFailure || status == cudaErrorIllegalAddress) ? CUDA_ERROR_KERNEL_LAUNCH_FAILED
                                                                                   : CUDA_ERROR_UNKNOWN;
    fail(code, "GPU ", device, ": ", what, " failed: ", cudaGetErrorName(status), " (", cudaGetErrorString(status), ")");
}

}  // namespace

int device_count() noexcept {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();  // clear the non-sticky error so later calls start clean
        return 0;
    }
    return count;
}

void init_device(int device) {
    check(cudaSetDevice(device), device, "cudaSetDevice");
    check(cudaFree(nullptr), device, "context initialisation");
}

uint64_t used_device_memory(int device) {
    if (cudaSetDevice(device) != cudaSuccess) return 0;
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) return 0;
    return static_cast<uint64_t>(total_bytes - free_bytes);
}

void check_device_health(int device) {
    check(cudaSetDevice(device), device, "cudaSetDevice");
    check(cudaPeekAtLastError(), device, "pending error check");
    check(cudaDeviceSynchronize(), device, "device synchronisation");
}

}  // namespace worker::cuda
