#include "cpu/thread_pool.h"

#include <algorithm>
#include <utility>

#include "core/error.h"
#include "core/fault.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WORKER_CPU_RELAX() _mm_pause()
#else
#define WORKER_CPU_RELAX() std::this_thread::yield()
#endif

namespace worker::cpu {

namespace {
// A few tens of microseconds of spinning (a pause is ~40-140 cycles): longer
// than the gap between two ops of a decode step, short enough that spinning
// threads do not steal much from others on a busy machine.
constexpr int kSpinIterations = 2000;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
    try {
        threads_.reserve(static_cast<size_t>(n_threads_ - 1));
        for (int i = 1; i < n_threads_; ++i) {
            fault::check(fault::Site::ThreadStart);
            threads_.emplace_back([this, i] { worker(i); });
        }
    } catch (const std::exception& e) {
        // A thread or memory limit: stop the threads already started (a
        // joinable std::thread destroyed would end the process).
        const size_t started = threads_.size();
        stop_workers();
        fail(CUDA_ERROR_OUT_OF_MEMORY, "cpu: cannot start worker thread ", started + 1, " of ", n_threads_ - 1, " (",
             e.what(),
             "); lower the CPU device's thread count (cpu_threads, WORKER_CPU_THREADS) or raise the process limits");
    } catch (...) {
        stop_workers();
        throw;
    }
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::stop_workers() noexcept {
    stop_.store(true);
    wake_.fetch_add(1);
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
}

void ThreadPool::work(uint32_t generation, const ChunkFn* job, int64_t n_chunks, int thread) {
    uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
        // A different generation or a closed job: what this thread read of the
        // job may be stale, so it must not run anything.
        if ((s >> 32) != generation) return;
        const uint32_t next = static_cast<uint32_t>(s);
        if (next == kClosed || next >= n_chunks) return;
        if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) continue;
        try {
            (*job)(next, thread);
        } catch (...) {
            if (!failed_.exchange(true, std::memory_order_acq_rel)) error_ = std::current_exception();
        }
        if (completed_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_chunks) completed_.notify_all();
        s = state_.load(std::memory_order_acquire);
    }
}

void ThreadPool::worker(int index) {
    uint32_t seen = 0;
    for (;;) {
        uint32_t now = wake_.load(std::memory_order_acquire);
        for (int spin = 0; now == seen && spin < kSpinIterations; ++spin) {
            WORKER_CPU_RELAX();
            now = wake_.load(std::memory_order_acquire);
        }
        if (now == seen) {
            wake_.wait(seen, std::memory_order_acquire);
            continue;
        }
        seen = now;
        if (stop_.load()) return;
        const uint64_t s = state_.load(std::memory_order_acquire);
        const ChunkFn* job = job_.load(std::memory_order_acquire);
        const int64_t n_chunks = n_chunks_.load(std::memory_order_acquire);
        work(static_cast<uint32_t>(s >> 32), job, n_chunks, index);
    }
}

void ThreadPool::run(int64_t n_chunks, const ChunkFn& fn) {
    if (n_chunks <= 0) return;
    if (n_threads_ == 1 || n_chunks == 1) {
        for (int64_t c = 0; c < n_chunks; ++c) fn(c, 0);
        return;
    }
    ++generation_;
    failed_.store(false, std::memory_order_relaxed);
    error_ = nullptr;
    job_.store(&fn, std::memory_order_release);
    n_chunks_.store(n_chunks, std::memory_order_release);
    completed_.store(0, std::memory_order_release);
    state_.store(static_cast<uint64_t>(generation_) << 32, std::memory_order_release);
    wake_.fetch_add(1, std::memory_order_acq_rel);
    wake_.notify_all();
    work(generation_, &fn, n_chunks, 0);
    // Chunks claimed by other threads may still be running.
    for (int spin = 0; completed_.load(std::memory_order_acquire) != n_chunks; ++spin) {
        if (spin < kSpinIterations) {
            WORKER_CPU_RELAX();
        } else {
            const int64_t done = completed_.load(std::memory_order_acquire);
            if (done != n_chunks) completed_.wait(done, std::memory_order_acquire);
        }
    }
    state_.store(static_cast<uint64_t>(generation_) << 32 | kClosed, std::memory_order_release);
    // Every chunk has finished (completed_ was read with acquire after each
    // writer's release), so error_ is settled and no thread touches fn any more.
    if (failed_.load(std::memory_order_acquire)) std::rethrow_exception(std::exchange(error_, nullptr));
}

void ThreadPool::parallel_for(int64_t n, int64_t min_per_chunk, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    const int64_t max_chunks = static_cast<int64_t>(n_threads_) * 8;
    const int64_t n_chunks = std::clamp<int64_t>(n / std::max<int64_t>(1, min_per_chunk), 1, max_chunks);
    if (n_threads_ == 1 || n_chunks == 1) {
        fn(0, n);
        return;
    }
    run(n_chunks, [&](int64_t c, int) { fn(n * c / n_chunks, n * (c + 1) / n_chunks); });
}

}  // namespace worker::cpu
