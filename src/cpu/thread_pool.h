// A persistent pool of worker threads for the CPU backend.
//
// Work is split into many small chunks that threads claim from a shared
// counter, the caller included. On a machine busier than it has cores, a
// worker may be descheduled for a whole time slice; with a static split the
// caller would wait for it at every op, whereas here whoever runs takes the
// chunks, and a late worker finds nothing left. Workers spin briefly before
// sleeping on a futex: ops come hundreds of times per token.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

namespace worker::cpu {

class ThreadPool {
public:
    using ChunkFn = std::function<void(int64_t chunk, int thread)>;

    // Throws Error(CUDA_ERROR_OUT_OF_MEMORY) when a worker thread cannot be
    // started (thread or memory limit), with no thread left running.
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }
    // Runs fn(chunk, thread) for every chunk in [0, n_chunks) and returns when
    // all are done; `thread` (0 = the caller) indexes per-thread scratch. Not
    // reentrant. When a chunk throws, the remaining chunks still run (so no
    // thread is left using fn) and the first exception is rethrown here.
    void run(int64_t n_chunks, const ChunkFn& fn);
    // Splits [0, n) into ranges of at least `min_per_chunk` items; fn(begin, end).
    void parallel_for(int64_t n, int64_t min_per_chunk, const std::function<void(int64_t, int64_t)>& fn);

private:
    void worker(int index);
    void stop_workers() noexcept;
    // Claims and runs chunks of job `generation` until none is left.
    void work(uint32_t generation, const ChunkFn* job, int64_t n_chunks, int thread);

    static constexpr uint32_t kClosed = 0xFFFFFFFFu;

    int n_threads_;
    std::vector<std::thread> threads_;
    // generation << 32 | next unclaimed chunk (kClosed once the job is over).
    std::atomic<uint64_t> state_{kClosed};
    std::atomic<const ChunkFn*> job_{nullptr};
    std::atomic<int64_t> n_chunks_{0};
    std::atomic<int64_t> completed_{0};
    std::atomic<uint32_t> wake_{0};
    std::atomic<bool> stop_{false};
    // First exception of the current job; written once, by whoever sets failed_.
    std::atomic<bool> failed_{false};
    std::exception_ptr error_;
    uint32_t generation_ = 0;
};

}  // namespace worker::cpu
