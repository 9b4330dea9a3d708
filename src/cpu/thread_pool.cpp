#include "cpu/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WORKER_CPU_RELAX() _mm_pause()
#else
#define WORKER_CPU_RELAX() std::this_thread::yield()
#endif

namespace worker::cpu {

namespace {
// A few tens of microseconds of spinning (a pause is ~40-140 cycles): longer
// than the gap between two ops of a decode step, short enough that a thread
// descheduled on a busy machine costs little before everyone sleeps instead.
constexpr int kSpinIterations = 2000;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
    for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true);
    generation_.fetch_add(1);
    generation_.notify_all();
    for (std::thread& t : threads_) t.join();
}

void ThreadPool::worker(int index) {
    uint32_t seen = 0;
    for (;;) {
        uint32_t now = generation_.load(std::memory_order_acquire);
        for (int spin = 0; now == seen && spin < kSpinIterations; ++spin) {
            WORKER_CPU_RELAX();
            now = generation_.load(std::memory_order_acquire);
        }
        if (now == seen) {
            generation_.wait(seen, std::memory_order_acquire);
            continue;
        }
        seen = now;
        if (stop_.load()) return;
        (*job_)(index, n_threads_);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
}

void ThreadPool::run(const std::function<void(int, int)>& job) {
    if (n_threads_ == 1) {
        job(0, 1);
        return;
    }
    job_ = &job;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    job(0, n_threads_);
    for (int spin = 0; spin < kSpinIterations; ++spin) {
        if (pending_.load(std::memory_order_acquire) == 0) return;
        WORKER_CPU_RELAX();
    }
    // The workers may have been descheduled: sleep rather than burn their core.
    for (int left = pending_.load(std::memory_order_acquire); left != 0;
         left = pending_.load(std::memory_order_acquire)) {
        pending_.wait(left, std::memory_order_acquire);
    }
}

void ThreadPool::parallel_for(int64_t n, int64_t min_per_thread, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    if (n_threads_ == 1 || n < 2 * min_per_thread) {
        fn(0, n);
        return;
    }
    run([&](int t, int nt) {
        const int64_t begin = n * t / nt;
        const int64_t end = n * (t + 1) / nt;
        if (begin < end) fn(begin, end);
    });
}

}  // namespace worker::cpu
