// What the hardening regression tests (test_reliability_hardening*.cpp) share:
// a small synthetic model, inference parameters, address-space limits and the
// fixture with a CPU context. Each test file is its own executable.
#pragma once

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "support/abi_helpers.h"
#include "support/gguf_writer.h"

namespace hardening {

using worker::test::ContextPtr;
using worker::test::InferencePtr;
using worker::test::ModelPtr;

inline std::string temp_path(const std::string& name) { return ::testing::TempDir() + name; }

inline worker::test::SyntheticModelSpec small_spec() {
    worker::test::SyntheticModelSpec spec;
    spec.n_layer = 2;
    spec.n_embd = 64;
    spec.n_head = 4;
    spec.n_head_kv = 2;
    spec.head_dim = 16;
    spec.n_ff = 128;
    spec.context_length = 4096;
    spec.weight_type = worker::GgmlType::Q8_0;
    return spec;
}

inline std::string write_model(const std::string& name, const worker::test::SyntheticModelSpec& spec) {
    const std::string path = temp_path(name);
    worker::test::write_synthetic_model(path, spec);
    return path;
}

inline WorkerInferenceParams params(int max_tokens, float temperature) {
    WorkerInferenceParams p = WORKER_INFERENCE_PARAMS_INIT;
    p.max_tokens = max_tokens;
    p.temperature = temperature;
    p.seed = 7;
    return p;
}

inline bool sanitized() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
    return true;
#else
    return false;
#endif
#else
    return false;
#endif
}

// Caps this process's address space at what it uses now plus `room` bytes.
inline bool limit_address_space(uint64_t room) {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) pages = 0;
        std::fclose(f);
    }
    if (pages == 0) return false;
    const rlim_t limit = static_cast<rlim_t>(pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + room;
    const rlimit rl{limit, limit};
    return ::setrlimit(RLIMIT_AS, &rl) == 0;
}

class Hardening : public ::testing::Test {
protected:
    void SetUp() override {
        int err = -1;
        ctx_.reset(cuda_init(WORKER_DEVICE_CPU, &err));
        ASSERT_NE(ctx_, nullptr) << cuda_last_error_detail();
    }
    CudaModel* load(const std::string& path, int* err) {
        return cuda_load_model(ctx_.get(), path.c_str(), nullptr, err);
    }

    ContextPtr ctx_;
};

inline void truncate_file(const std::string& path, off_t size) { ASSERT_EQ(::truncate(path.c_str(), size), 0); }

}  // namespace hardening
