// Turning CUDA runtime and cuBLAS status codes into worker::Error. Every
// runtime call and every kernel launch of the CUDA backend goes through one
// of these, so a failure always names the call or the kernel and the GPU.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "core/error.h"

namespace worker::cuda {

// A failed runtime call that is not a launch: allocation failures become
// CUDA_ERROR_OUT_OF_MEMORY, faults surfacing from earlier kernels
// CUDA_ERROR_INFERENCE_FAILED, anything else CUDA_ERROR_UNKNOWN.
inline void check_cuda(cudaError_t status, const char* what) {
    if (status == cudaSuccess) return;
    int device = -1;
    cudaGetDevice(&device);
    CudaErrorCode code = CUDA_ERROR_UNKNOWN;
    switch (status) {
        case cudaErrorMemoryAllocation: code = CUDA_ERROR_OUT_OF_MEMORY; break;
        case cudaErrorLaunchFailure:
        case cudaErrorIllegalAddress:
        case cudaErrorMisalignedAddress:
        case cudaErrorIllegalInstruction:
        case cudaErrorInvalidPc:
        case cudaErrorHardwareStackError:
        case cudaErrorAssert:
        case cudaErrorLaunchTimeout: code = CUDA_ERROR_INFERENCE_FAILED; break;
        default: break;
    }
    if (status == cudaErrorMemoryAllocation) cudaGetLastError();  // not sticky: clear it for the next call
    fail(code, "GPU ", device, ": ", what, " failed: ", cudaGetErrorName(status), " (", cudaGetErrorString(status),
         ")");
}

// Called right after every kernel launch: a launch error (bad configuration,
// too many resources, no kernel image for this GPU) is
// CUDA_ERROR_KERNEL_LAUNCH_FAILED naming the kernel.
inline void check_launch(const char* kernel) {
    const cudaError_t status = cudaGetLastError();
    if (status == cudaSuccess) return;
    int device = -1;
    cudaGetDevice(&device);
    fail(CUDA_ERROR_KERNEL_LAUNCH_FAILED, "GPU ", device, ": kernel ", kernel, " failed to launch: ",
         cudaGetErrorName(status), " (", cudaGetErrorString(status), ")");
}

inline const char* cublas_status_name(cublasStatus_t status) {
    switch (status) {
        case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
        case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
        default: return "unknown cuBLAS status";
    }
}

inline void check_cublas(cublasStatus_t status, const char* what) {
    if (status == CUBLAS_STATUS_SUCCESS) return;
    int device = -1;
    cudaGetDevice(&device);
    const CudaErrorCode code = status == CUBLAS_STATUS_ALLOC_FAILED ? CUDA_ERROR_OUT_OF_MEMORY
                               : status == CUBLAS_STATUS_EXECUTION_FAILED ? CUDA_ERROR_KERNEL_LAUNCH_FAILED
                                                                          : CUDA_ERROR_INFERENCE_FAILED;
    fail(code, "GPU ", device, ": ", what, " failed: ", cublas_status_name(status));
}

}  // namespace worker::cuda
