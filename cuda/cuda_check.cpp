#include "cuda_check.h"

#include <atomic>
#include <map>
#include <mutex>

namespace worker::cuda {

namespace {

// Lost devices of this process and the message each reports. Never
// destroyed: handles may be freed during exit.
std::mutex& lost_mutex() {
    static auto* m = new std::mutex();
    return *m;
}
std::map<int, std::string>& lost_devices() {
    static auto* devices = new std::map<int, std::string>();
    return *devices;
}
// Whether any device was lost: every op checks its device, and this keeps
// that check to one load while none is.
std::atomic<bool> any_lost{false};

}  // namespace

bool is_sticky_error(cudaError_t status) {
    switch (status) {
        // Documented in driver_types.h as "leaves the process in an
        // inconsistent state ... the process must be terminated and relaunched".
        case cudaErrorContained:
        case cudaErrorIllegalAddress:
        case cudaErrorLaunchTimeout:
        case cudaErrorAssert:
        case cudaErrorHardwareStackError:
        case cudaErrorIllegalInstruction:
        case cudaErrorMisalignedAddress:
        case cudaErrorInvalidAddressSpace:
        case cudaErrorInvalidPc:
        case cudaErrorLaunchFailure:
        case cudaErrorTensorMemoryLeak:
        case cudaErrorExternalDevice:
        // Uncorrectable hardware errors: the context cannot be trusted either.
        case cudaErrorECCUncorrectable:
        case cudaErrorNvlinkUncorrectable: return true;
        default: return false;
    }
}

void fail_device_lost(int device, cudaError_t status, const std::string& where) {
    std::string message;
    {
        std::lock_guard<std::mutex> lock(lost_mutex());
        auto& lost = lost_devices();
        auto it = lost.find(device);
        if (it == lost.end()) {
            const std::string cause = str_cat(cudaGetErrorName(status), " (", cudaGetErrorString(status),
                                              "), first seen at ", where);
            it = lost.emplace(device, str_cat("GPU ", device, " lost: ", cause,
                                              ". A kernel fault poisons the GPU's CUDA context for the whole "
                                              "process: every model and inference on GPU ",
                                              device, " fails from now on; free them and restart the process"))
                     .first;
            any_lost.store(true);
        }
        message = it->second;
    }
    throw Error(CUDA_ERROR_KERNEL_LAUNCH_FAILED, message);
}

std::string device_lost_message(int device) {
    std::lock_guard<std::mutex> lock(lost_mutex());
    const auto it = lost_devices().find(device);
    return it == lost_devices().end() ? std::string() : it->second;
}

void check_device_not_lost(int device) {
    if (!any_lost.load(std::memory_order_relaxed)) return;
    std::string message = device_lost_message(device);
    if (!message.empty()) throw Error(CUDA_ERROR_KERNEL_LAUNCH_FAILED, std::move(message));
}

int current_device() noexcept {
    int device = -1;
    if (cudaGetDevice(&device) != cudaSuccess) return -1;
    return device;
}

void check_cuda(cudaError_t status, const char* what) {
    if (status == cudaSuccess) return;
    const int device = current_device();
    if (is_sticky_error(status)) fail_device_lost(device, status, what);
    const CudaErrorCode code = status == cudaErrorMemoryAllocation ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_UNKNOWN;
    cudaGetLastError();  // a non-sticky error: clear it so that the next call starts clean
    fail(code, "GPU ", device, ": ", what, " failed: ", cudaGetErrorName(status), " (", cudaGetErrorString(status),
         ")");
}

void check_launch(const char* kernel) {
    const cudaError_t status = cudaGetLastError();
    if (status == cudaSuccess) return;
    const int device = current_device();
    if (is_sticky_error(status)) {
        fail_device_lost(device, status, str_cat("the launch of ", kernel, " (the fault is in work queued before it)"));
    }
    fail(CUDA_ERROR_KERNEL_LAUNCH_FAILED, "GPU ", device, ": kernel ", kernel, " failed to launch: ",
         cudaGetErrorName(status), " (", cudaGetErrorString(status), ")");
}

const char* cublas_status_name(cublasStatus_t status) {
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

void check_cublas(cublasStatus_t status, const char* what) {
    if (status == CUBLAS_STATUS_SUCCESS) return;
    const int device = current_device();
    // cuBLAS turns a poisoned context into an execution or internal failure:
    // ask the runtime whether a sticky error is what it saw.
    const cudaError_t pending = cudaPeekAtLastError();
    if (is_sticky_error(pending)) fail_device_lost(device, pending, str_cat(what, " (", cublas_status_name(status), ")"));
    const CudaErrorCode code = status == CUBLAS_STATUS_ALLOC_FAILED ? CUDA_ERROR_OUT_OF_MEMORY
                               : status == CUBLAS_STATUS_EXECUTION_FAILED ? CUDA_ERROR_KERNEL_LAUNCH_FAILED
                                                                          : CUDA_ERROR_INFERENCE_FAILED;
    fail(code, "GPU ", device, ": ", what, " failed: ", cublas_status_name(status));
}

}  // namespace worker::cuda
