// libFuzzer target: the whole ABI sequence load -> start -> next_token on a
// tiny synthetic model, with fuzzed sampling parameters, buffer sizes and
// prompt. Every call must return a documented result; nothing may crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "support/gguf_writer.h"
#include "worker_ffi.h"

namespace {

CudaContext* g_context = nullptr;
CudaModel* g_model = nullptr;

template <typename T>
T take(const uint8_t*& data, size_t& size) {
    T value{};
    const size_t n = size < sizeof(T) ? size : sizeof(T);
    std::memcpy(&value, data, n);
    data += n;
    size -= n;
    return value;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const std::string path = "/tmp/worker_fuzz_abi_" + std::to_string(::getpid()) + ".gguf";
    worker::test::SyntheticModelSpec spec;
    spec.n_layer = 1;
    spec.n_embd = 32;
    spec.n_head = 2;
    spec.n_head_kv = 1;
    spec.head_dim = 16;
    spec.n_ff = 64;
    spec.context_length = 64;
    worker::test::write_synthetic_model(path, spec);
    int err = -1;
    g_context = cuda_init(WORKER_DEVICE_CPU, &err);
    g_model = cuda_load_model(g_context, path.c_str(), nullptr, &err);
    ::unlink(path.c_str());
    if (g_model == nullptr) __builtin_trap();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    WorkerInferenceParams p = WORKER_INFERENCE_PARAMS_INIT;
    p.max_tokens = take<int8_t>(data, size);
    p.temperature = take<float>(data, size);
    p.seed = take<uint16_t>(data, size);
    p.top_k = take<int16_t>(data, size);
    p.top_p = take<float>(data, size);
    p.min_p = take<float>(data, size);
    p.repetition_penalty = take<float>(data, size);
    const int buffer_size = take<uint8_t>(data, size);
    const std::string prompt(reinterpret_cast<const char*>(data), size);
    if (prompt.find('\0') != std::string::npos) return 0;

    int err = -1;
    InferenceResult* r = cuda_inference_start_ex(g_model, prompt.c_str(), &p, &err);
    if (r == nullptr) {
        if (err == CUDA_SUCCESS || cuda_last_error_detail()[0] == '\0') __builtin_trap();
        return 0;
    }
    char buf[256];
    int steps = 0;
    while (steps++ < 64) {
        const bool got = cuda_inference_next_token(r, buf, buffer_size, nullptr, &err);
        if (got) continue;
        if (err == CUDA_SUCCESS) break;
        if (err != CUDA_ERROR_INVALID_PARAMETER) __builtin_trap();
        // Too small a buffer: the piece is kept; a big buffer gets it.
        if (!cuda_inference_next_token(r, buf, sizeof buf, nullptr, &err) && err != CUDA_SUCCESS) __builtin_trap();
    }
    cuda_inference_free(r);
    return 0;
}
