// A persistent pool of worker threads for the CPU backend. Ops run hundreds of
// times per token, so workers spin briefly before sleeping on a futex: waking a
// sleeping thread per op would cost more than a small op itself.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace worker::cpu {

class ThreadPool {
public:
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }
    // Runs job(thread, n_threads) on every thread, the caller being thread 0,
    // and returns when all have finished. Not reentrant.
    void run(const std::function<void(int, int)>& job);
    // Splits [0, n) into contiguous ranges, one per thread; fn(begin, end).
    // Runs inline when n is below `min_per_thread` * 2.
    void parallel_for(int64_t n, int64_t min_per_thread, const std::function<void(int64_t, int64_t)>& fn);

private:
    void worker(int index);

    int n_threads_;
    std::vector<std::thread> threads_;
    const std::function<void(int, int)>* job_ = nullptr;
    std::atomic<uint32_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<bool> stop_{false};
};

}  // namespace worker::cpu
