#include "cuda_device.h"

#include <cuda_runtime.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "core/error.h"
#include "cublas_loader.h"
#include "cuda_check.h"
#include "device_memory.h"
#include "kernels.h"

namespace worker::cuda {

namespace {

using Clock = std::chrono::steady_clock;

// A failed call on `device` (which may not be this thread's current one).
void check_on(cudaError_t status, int device, const char* what) {
    if (status == cudaSuccess) return;
    if (is_sticky_error(status)) fail_device_lost(device, status, what);
    cudaGetLastError();
    const CudaErrorCode code = status == cudaErrorMemoryAllocation ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_UNKNOWN;
    fail(code, "GPU ", device, ": ", what, " failed: ", cudaGetErrorName(status), " (", cudaGetErrorString(status),
         ")");
}

// The health probe of one device: its CUDA objects (made by the first probe,
// kept for the process) and the state of the probe in flight. Guarded by
// `mutex`; the CUDA objects are only touched by the one running probe.
struct Probe {
    std::mutex mutex;
    std::condition_variable finished;
    bool running = false;
    Clock::time_point started;
    const char* stage = "";  // the CUDA call the running probe is in
    uint32_t sequence = 0;
    // The outcome of the probe that last finished: "" when healthy.
    CudaErrorCode code = CUDA_SUCCESS;
    std::string message;

    cudaStream_t stream = nullptr;
    cudaEvent_t done = nullptr;
    uint32_t* device_word = nullptr;  // cudaMalloc'd, 256 bytes
    uint32_t* host_word = nullptr;    // pinned, not mapped
};

Probe& probe_of(int device) {
    static std::mutex mutex;
    static auto* probes = new std::map<int, Probe*>();  // never destroyed: probe threads may outlive main
    std::lock_guard<std::mutex> lock(mutex);
    Probe*& p = (*probes)[device];
    if (p == nullptr) p = new Probe();
    return *p;
}

void set_stage(Probe& p, const char* stage) {
    std::lock_guard<std::mutex> lock(p.mutex);
    p.stage = stage;
}

// The body of one probe, on its own thread.
void run_probe(Probe* p, int device, uint32_t sequence, Clock::time_point deadline, int timeout_ms) {
    CudaErrorCode code = CUDA_SUCCESS;
    std::string message;
    try {
        set_stage(*p, "cudaSetDevice");
        check_on(cudaSetDevice(device), device, "cudaSetDevice (health probe)");
        if (p->stream == nullptr) {
            set_stage(*p, "cudaStreamCreate");
            check_on(cudaStreamCreateWithFlags(&p->stream, cudaStreamNonBlocking), device,
                     "cudaStreamCreate (health probe)");
        }
        if (p->done == nullptr) {
            set_stage(*p, "cudaEventCreate");
            check_on(cudaEventCreateWithFlags(&p->done, cudaEventDisableTiming), device,
                     "cudaEventCreate (health probe)");
        }
        if (p->device_word == nullptr) {
            set_stage(*p, "cudaMalloc");
            void* word = nullptr;
            check_on(cudaMalloc(&word, 256), device, "cudaMalloc (health probe)");
            p->device_word = static_cast<uint32_t*>(word);
        }
        if (p->host_word == nullptr) {
            set_stage(*p, "cudaHostAlloc");
            void* word = nullptr;
            check_on(cudaHostAlloc(&word, sizeof(uint32_t), cudaHostAllocDefault), device,
                     "cudaHostAlloc (health probe)");
            p->host_word = static_cast<uint32_t*>(word);
        }
        set_stage(*p, "the probe kernel's launch");
        launch_health_probe(p->device_word, sequence, p->stream);
        set_stage(*p, "cudaMemcpyAsync");
        check_on(cudaMemcpyAsync(p->host_word, p->device_word, sizeof(uint32_t), cudaMemcpyDeviceToHost, p->stream),
                 device, "cudaMemcpyAsync (health probe)");
        set_stage(*p, "cudaEventRecord");
        check_on(cudaEventRecord(p->done, p->stream), device, "cudaEventRecord (health probe)");
        set_stage(*p, "waiting for the probe kernel");
        for (;;) {
            const cudaError_t status = cudaEventQuery(p->done);
            if (status == cudaSuccess) break;
            if (status != cudaErrorNotReady) check_on(status, device, "cudaEventQuery (health probe)");
            if (Clock::now() >= deadline) {
                // Left in flight: the next probe queues behind it on the same
                // stream and checks its own number.
                fail(CUDA_ERROR_UNKNOWN, "GPU ", device, ": unresponsive: a one-thread kernel and a 4-byte read-back ",
                     "did not complete within ", timeout_ms, " ms");
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        const uint32_t back = *p->host_word;
        if (back != sequence) {
            fail(CUDA_ERROR_UNKNOWN, "GPU ", device, ": the health probe read back ", back, " instead of ", sequence);
        }
    } catch (const Error& e) {
        code = e.code();
        message = e.message();
    } catch (const std::exception& e) {
        code = CUDA_ERROR_UNKNOWN;
        message = str_cat("GPU ", device, ": health probe: ", e.what());
    }
    std::lock_guard<std::mutex> lock(p->mutex);
    p->code = code;
    p->message = std::move(message);
    p->running = false;
    p->finished.notify_all();
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
    check_device_not_lost(device);
    require_cublas(device);
    check_on(cudaSetDevice(device), device, "cudaSetDevice");
    check_on(cudaFree(nullptr), device, "context initialisation");
}

uint64_t process_device_memory(int device) { return process_device_bytes(device); }

void check_device_health(int device, int timeout_ms) {
    check_device_not_lost(device);
    const Clock::time_point now = Clock::now();
    const Clock::time_point deadline = now + std::chrono::milliseconds(timeout_ms);
    Probe& p = probe_of(device);
    std::unique_lock<std::mutex> lock(p.mutex);
    if (p.running) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - p.started).count();
        fail(CUDA_ERROR_UNKNOWN, "GPU ", device, ": unresponsive: the health probe started ", ms,
             " ms ago has not finished (it is in ", p.stage, ")");
    }
    const uint32_t sequence = ++p.sequence;
    p.running = true;
    p.started = now;
    p.stage = "starting";
    try {
        std::thread(run_probe, &p, device, sequence, deadline, timeout_ms).detach();
    } catch (...) {
        p.running = false;
        throw;
    }
    if (!p.finished.wait_until(lock, deadline, [&] { return !p.running; })) {
        fail(CUDA_ERROR_UNKNOWN, "GPU ", device, ": unresponsive: the health probe did not finish within ", timeout_ms,
             " ms (it is in ", p.stage, ")");
    }
    if (p.code != CUDA_SUCCESS) throw Error(p.code, p.message);
}

}  // namespace worker::cuda
