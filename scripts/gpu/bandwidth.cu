// Device-to-device copy bandwidth of GPU 0, the ceiling a batch-1 decode
// step can reach: prints bytes moved (read + written) per second in GB/s.
// Built and run by scripts/gpu-check.sh; exits non-zero on any CUDA error.
#include <cuda_runtime.h>

#include <cstdio>

#define CHECK(call)                                                                                      \
    do {                                                                                                 \
        const cudaError_t status = (call);                                                               \
        if (status != cudaSuccess) {                                                                     \
            std::fprintf(stderr, "%s failed: %s\n", #call, cudaGetErrorString(status));                  \
            return 1;                                                                                    \
        }                                                                                                \
    } while (0)

int main() {
    const size_t bytes = size_t{1} << 30;
    void* a = nullptr;
    void* b = nullptr;
    CHECK(cudaMalloc(&a, bytes));
    CHECK(cudaMalloc(&b, bytes));
    CHECK(cudaMemset(a, 1, bytes));
    cudaEvent_t start, stop;
    CHECK(cudaEventCreate(&start));
    CHECK(cudaEventCreate(&stop));
    CHECK(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice));  // warm-up
    const int reps = 20;
    CHECK(cudaEventRecord(start));
    for (int i = 0; i < reps; ++i) CHECK(cudaMemcpyAsync(i % 2 ? a : b, i % 2 ? b : a, bytes, cudaMemcpyDeviceToDevice));
    CHECK(cudaEventRecord(stop));
    CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    CHECK(cudaEventElapsedTime(&ms, start, stop));
    const double gbps = 2.0 * static_cast<double>(bytes) * reps / (ms / 1e3) / 1e9;
    std::printf("%.1f\n", gbps);
    CHECK(cudaFree(a));
    CHECK(cudaFree(b));
    return 0;
}
