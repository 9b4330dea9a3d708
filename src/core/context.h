// A device the library runs on: the CPU reference device or one CUDA GPU.
#pragma once

#include <cstdint>
#include <memory>

namespace worker {

// Number of CUDA devices usable by this process (0 without a GPU, without a
// driver, or in a build without the CUDA backend). Never throws.
int cuda_device_count() noexcept;

class Context {
public:
    // Throws Error: CUDA_ERROR_INVALID_DEVICE for an id < -1 or past the last
    // GPU, CUDA_ERROR_DEVICE_NOT_FOUND when a GPU is asked for and none exists.
    static std::shared_ptr<Context> create(int device);

    int device() const { return device_; }
    bool is_cpu() const { return device_ < 0; }
    // Worker threads of the CPU device: all cores, or WORKER_CPU_THREADS.
    int cpu_threads() const { return cpu_threads_; }
    // CPU device: whether models keep their weights in private memory (read
    // once at load, immune to changes of the file) rather than mapped from
    // the file (the default): WORKER_CPU_WEIGHTS=private|mapped.
    bool private_weights() const { return private_weights_; }

    // CPU: resident set size of the process. GPU: device memory this process
    // holds through the library on the device (all models and inferences).
    uint64_t process_memory_usage() const;
    // Throws Error describing the fault when the device is not healthy.
    void check_health() const;

private:
    Context(int device, int cpu_threads, bool private_weights)
        : device_(device), cpu_threads_(cpu_threads), private_weights_(private_weights) {}

    int device_;
    int cpu_threads_;
    bool private_weights_;
};

}  // namespace worker
