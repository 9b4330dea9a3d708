#include "gpu/test_kernels.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace worker::test {

namespace {

__global__ void store_through_invalid_address(int* p) { *p = 1; }

__device__ __forceinline__ uint64_t global_ns() {
    uint64_t t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

__global__ void spin(uint64_t ns, int* sink) {
    const uint64_t start = global_ns();
    while (global_ns() - start < ns) {
    }
    if (threadIdx.x == 0 && sink != nullptr) *sink = 0;  // keeps the loop from being removed
}

constexpr int kSpinThreads = 1024;

}  // namespace

std::string fault_the_device(int device) {
    cudaError_t status = cudaSetDevice(device);
    if (status != cudaSuccess) return cudaGetErrorName(status);
    cudaStream_t stream = nullptr;
    status = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
    if (status != cudaSuccess) return cudaGetErrorName(status);
    // The null page: mapped neither on the device nor (for a GPU that can
    // reach host memory) on the host.
    store_through_invalid_address<<<1, 1, 0, stream>>>(nullptr);
    status = cudaGetLastError();
    if (status == cudaSuccess) status = cudaStreamSynchronize(stream);
    cudaStreamDestroy(stream);
    return cudaGetErrorName(status);
}

std::string occupy_the_device(int device, int ms) {
    cudaError_t status = cudaSetDevice(device);
    if (status != cudaSuccess) return cudaGetErrorName(status);
    int sms = 0, per_sm = 0;
    status = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
    if (status == cudaSuccess) status = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, spin, kSpinThreads, 0);
    if (status != cudaSuccess) return cudaGetErrorName(status);
    cudaStream_t stream = nullptr;
    status = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
    if (status != cudaSuccess) return cudaGetErrorName(status);
    spin<<<sms * per_sm, kSpinThreads, 0, stream>>>(static_cast<uint64_t>(ms) * 1000000u, nullptr);
    status = cudaGetLastError();
    cudaStreamDestroy(stream);  // the kernel runs on; the stream's resources go when it ends
    return status == cudaSuccess ? "" : cudaGetErrorName(status);
}

}  // namespace worker::test
