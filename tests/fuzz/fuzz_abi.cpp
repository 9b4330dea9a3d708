// libFuzzer target: the whole ABI sequence load -> start -> next_token over
// four small valid models that differ where the ABI's work differs: a llama
// with the writer's byte-level BPE (F32), a gemma3 with the SentencePiece
// vocabulary of llama-spm (Q8_0, tied output), a qwen2 with the gpt-2 BPE
// vocabulary (Q4_0, biases), both vocabularies cut to 1024 tokens, and a
// phi3 (F16, fused QKV). The input picks a
// model, optionally a second one whose inference is stepped in turn with the
// first (and freed first or last), the sampling parameters, a stop string,
// the buffer size and the prompt. Every call must return a documented
// result; every piece must be valid UTF-8; a too-small buffer loses no piece;
// nothing may crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/gguf_writer.h"
#include "support/memory_file.h"
#include "support/reduce_model.h"
#include "tokenizer/utf8.h"
#include "worker_ffi.h"

namespace {

CudaContext* g_context = nullptr;
std::vector<CudaModel*> g_models;

template <typename T>
T take(const uint8_t*& data, size_t& size) {
    T value{};
    const size_t n = size < sizeof(T) ? size : sizeof(T);
    std::memcpy(&value, data, n);
    data += n;
    size -= n;
    return value;
}

worker::test::SyntheticModelSpec small(const char* arch, worker::GgmlType type, const std::string& vocab) {
    worker::test::SyntheticModelSpec spec;
    spec.arch = arch;
    spec.n_layer = 1;
    spec.n_embd = 32;
    spec.n_head = 2;
    spec.n_head_kv = 1;
    spec.head_dim = 16;
    spec.n_ff = 64;
    spec.context_length = 64;
    spec.sliding_window = 8;
    spec.weight_type = type;
    spec.embedding_type = type;
    if (!vocab.empty()) {
        spec.tokenizer_from = std::string(WORKER_SHARED_TESTDATA) + "/vocab/" + vocab;
        spec.output_weight = false;  // tied
    }
    return spec;
}

std::vector<uint8_t> file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Loads the model from a memfd that stays as it is while the process lives
// (the CPU device refuses to step a model whose file changed, and unlinking
// a file counts). A model with a borrowed vocabulary keeps its first 1024
// tokens (reduce_model keeps the merges and special tokens among them),
// which keeps steps fast enough to fuzz.
void load(const worker::test::SyntheticModelSpec& spec) {
    const std::string base = "/tmp/worker_fuzz_abi_" + std::to_string(::getpid());
    worker::test::write_synthetic_model(base + ".gguf", spec);
    std::string path = base + ".gguf";
    if (!spec.tokenizer_from.empty()) {
        worker::test::reduce_model(path, base + "-cut.gguf", {0, 1024});
        path = base + "-cut.gguf";
    }
    const std::vector<uint8_t> bytes = file_bytes(path);
    ::unlink((base + ".gguf").c_str());
    ::unlink((base + "-cut.gguf").c_str());
    static std::vector<std::unique_ptr<worker::fuzz::MemoryFile>> files;
    files.push_back(std::make_unique<worker::fuzz::MemoryFile>());
    files.back()->assign(bytes.data(), bytes.size());
    int err = -1;
    CudaModel* model = cuda_load_model(g_context, files.back()->path().c_str(), nullptr, &err);
    if (model == nullptr) {
        std::fprintf(stderr, "fuzz_abi: cannot load the %s model: %s\n", spec.arch.c_str(), cuda_last_error_detail());
        __builtin_trap();
    }
    g_models.push_back(model);
}

// Steps an inference once: false when it is finished (or failed as documented).
bool step(InferenceResult* r, int buffer_size) {
    char buf[256];
    int err = -1;
    if (cuda_inference_next_token(r, buf, buffer_size, nullptr, &err)) {
        if (!worker::tokenizer::utf8_is_valid(buf)) __builtin_trap();
        return true;
    }
    if (err == CUDA_SUCCESS) return false;
    if (err != CUDA_ERROR_INVALID_PARAMETER || cuda_last_error_detail()[0] == '\0') {
        std::fprintf(stderr, "fuzz_abi: next_token failed with %d: %s\n", err, cuda_last_error_detail());
        __builtin_trap();
    }
    // Too small a buffer: the piece is kept, and a big buffer gets it.
    if (cuda_inference_next_token(r, buf, sizeof buf, nullptr, &err)) {
        if (!worker::tokenizer::utf8_is_valid(buf)) __builtin_trap();
        return true;
    }
    if (err != CUDA_SUCCESS) __builtin_trap();
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    int err = -1;
    g_context = cuda_init(WORKER_DEVICE_CPU, &err);
    if (g_context == nullptr) __builtin_trap();
    load(small("llama", worker::GgmlType::F32, ""));
    load(small("gemma3", worker::GgmlType::Q8_0, "ggml-vocab-llama-spm.gguf"));
    load(small("qwen2", worker::GgmlType::Q4_0, "ggml-vocab-gpt-2.gguf"));
    load(small("phi3", worker::GgmlType::F16, ""));
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const uint8_t select = take<uint8_t>(data, size);
    const uint8_t flags = take<uint8_t>(data, size);
    WorkerInferenceParams p = WORKER_INFERENCE_PARAMS_INIT;
    p.max_tokens = take<int8_t>(data, size);
    p.temperature = take<float>(data, size);
    p.seed = take<uint16_t>(data, size);
    p.top_k = take<int16_t>(data, size);
    p.top_p = take<float>(data, size);
    p.min_p = take<float>(data, size);
    p.repetition_penalty = take<float>(data, size);
    const int buffer_size = take<uint8_t>(data, size);
    const uint8_t stop_length = take<uint8_t>(data, size) % 8;
    const std::string prompt(reinterpret_cast<const char*>(data), size);
    if (prompt.find('\0') != std::string::npos) return 0;
    // A stop string: a piece of the prompt (it may well be generated again).
    const std::string stop = prompt.substr(prompt.size() / 2, stop_length);
    const char* stops[] = {stop.c_str()};
    if (!stop.empty()) {
        p.stop = stops;
        p.n_stop = 1;
    }

    CudaModel* first = g_models[select % g_models.size()];
    CudaModel* second = (flags & 1) ? g_models[(select + 1 + (flags >> 2)) % g_models.size()] : nullptr;
    InferenceResult* runs[2] = {nullptr, nullptr};
    int live = 0;
    for (CudaModel* model : {first, second}) {
        if (model == nullptr) continue;
        int err = -1;
        InferenceResult* r = cuda_inference_start_ex(model, prompt.c_str(), &p, &err);
        if (r == nullptr) {
            // Only what the caller passed may be refused (parameters, prompt):
            // a valid model that cannot start is a finding.
            if (err != CUDA_ERROR_INVALID_PARAMETER || cuda_last_error_detail()[0] == '\0') {
                std::fprintf(stderr, "fuzz_abi: start failed with %d: %s\n", err, cuda_last_error_detail());
                __builtin_trap();
            }
            continue;
        }
        runs[live++] = r;
    }
    // Step the inferences in turn; each may finish at its own time.
    bool going[2] = {runs[0] != nullptr, runs[1] != nullptr};
    for (int steps = 0; steps < 64 && (going[0] || going[1]); ++steps) {
        for (int i = 0; i < 2; ++i)
            if (going[i]) going[i] = step(runs[i], buffer_size);
    }
    // Freed in either order. A freed handle stays dead: freeing it again does
    // nothing to the other inference, and a call on it is refused.
    if (flags & 2) std::swap(runs[0], runs[1]);
    cuda_inference_free(runs[0]);
    cuda_inference_free(runs[0]);
    char piece[16];
    int err = -1;
    if (runs[1] != nullptr) {
        const bool more = cuda_inference_next_token(runs[1], piece, sizeof piece, nullptr, &err);
        if (!more && err == CUDA_ERROR_INVALID_PARAMETER && std::strstr(cuda_last_error_detail(), "not a live") != nullptr) {
            std::fprintf(stderr, "fuzz_abi: freeing one inference twice killed the other\n");
            __builtin_trap();
        }
    }
    cuda_inference_free(runs[1]);
    for (InferenceResult* dead : runs) {
        if (dead != nullptr && (cuda_inference_next_token(dead, piece, sizeof piece, nullptr, &err) ||
                                err != CUDA_ERROR_INVALID_PARAMETER)) {
            std::fprintf(stderr, "fuzz_abi: a freed handle answered (%d)\n", err);
            __builtin_trap();
        }
    }
    return 0;
}
