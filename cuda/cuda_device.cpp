#include "cuda_device.h"

#include <cuda_runtime.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "core/error.h"
#include "device_memory.h"

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

uint64_t process_device_memory(int device) { return process_device_bytes(device); }

void check_device_health(int device, int timeout_ms) {
    check(cudaSetDevice(device), device, "cudaSetDevice");
    check(cudaPeekAtLastError(), device, "pending error check");
    // A round-trip on a stream of its own: 4 bytes to the device and back,
    // polled rather than waited for, so that a hung device is reported
    // instead of hanging the caller.
    cudaStream_t stream = nullptr;
    check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), device, "cudaStreamCreate (health probe)");
    cudaEvent_t done = nullptr;
    void* probe = nullptr;
    void* host = nullptr;
    auto cleanup = [&] {
        if (done != nullptr) cudaEventDestroy(done);
        if (probe != nullptr) cudaFree(probe);
        if (host != nullptr) cudaFreeHost(host);
        cudaStreamDestroy(stream);
    };
    try {
        check(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), device, "cudaEventCreate (health probe)");
        check(cudaMalloc(&probe, 256), device, "cudaMalloc (health probe)");
        check(cudaHostAlloc(&host, 4, cudaHostAllocDefault), device, "cudaHostAlloc (health probe)");
        const uint32_t pattern = 0x5EA1C0DEu;
        std::memcpy(host, &pattern, 4);
        check(cudaMemcpyAsync(probe, host, 4, cudaMemcpyHostToDevice, stream), device, "copy to the device (health probe)");
        std::memset(host, 0, 4);
        check(cudaMemcpyAsync(host, probe, 4, cudaMemcpyDeviceToHost, stream), device, "copy from the device (health probe)");
        check(cudaEventRecord(done, stream), device, "cudaEventRecord (health probe)");
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            const cudaError_t status = cudaEventQuery(done);
            if (status == cudaSuccess) break;
            if (status != cudaErrorNotReady) check(status, device, "health probe");
            if (std::chrono::steady_clock::now() >= deadline) {
                // The probe may still complete later: leave its memory to the
                // driver rather than free it under a pending copy.
                done = nullptr;
                probe = nullptr;
                host = nullptr;
                fail(CUDA_ERROR_UNKNOWN, "GPU ", device, ": unresponsive: a 4-byte copy round-trip did not complete within ",
                     timeout_ms, " ms");
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        uint32_t back = 0;
        std::memcpy(&back, host, 4);
        if (back != pattern) {
            fail(CUDA_ERROR_UNKNOWN, "GPU ", device, ": the health probe read back ", back, " instead of ", pattern);
        }
    } catch (...) {
        cleanup();
        throw;
    }
    cleanup();
}

}  // namespace worker::cuda
