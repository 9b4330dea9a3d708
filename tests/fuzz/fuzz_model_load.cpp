// libFuzzer target: the model loader on GGUF files that parse but are
// hostile. The custom mutator (support/gguf_mutator.h) changes metadata
// values and types (architecture, hyper-parameters, rope and sliding-window
// keys, tokenizer keys) and tensors (shapes, types, names, data) and writes a
// file the parser accepts, which the real loader (Model::load, through a
// memfd path) then reads: read_config, the tokenizer, every tensor's shape
// and type. A refused file must give CUDA_ERROR_MODEL_LOAD_FAILED (or
// OUT_OF_MEMORY) with a detail; a model that is accepted must run: a short
// greedy generation may refuse the prompt (CUDA_ERROR_INVALID_PARAMETER) but
// never fail a forward step, crash or read out of bounds (ASan).
// Seeds: seed_fuzz_model_load.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "core/context.h"
#include "core/error.h"
#include "core/inference.h"
#include "core/model.h"
#include "support/gguf_mutator.h"
#include "support/memory_file.h"
#include "support/model_load_options.h"
#include "worker_types.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // One worker thread: the inputs are tiny, and threads would only add noise.
    setenv("WORKER_CPU_THREADS", "1", 1);
    return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
    // Mostly structural; now and then bytes, which the parser mostly refuses.
    if (seed % 16 != 0) {
        const size_t n = worker::fuzz::mutate_gguf(data, size, max_size, seed, worker::fuzz::model_load_options());
        if (n != 0) return n;
    }
    return LLVMFuzzerMutate(data, size, max_size);
}

namespace {

// Loading may refuse the file. Once loaded, the model must run: the prompt
// may be refused (empty without a BOS, longer than the context) but a forward
// step that fails means the loader accepted a model it cannot run, which it
// must refuse instead (CUDA_ERROR_INFERENCE_FAILED is a finding).
void expect_documented(const worker::Error& e, bool loading) {
    const bool code_ok = loading ? e.code() == CUDA_ERROR_MODEL_LOAD_FAILED || e.code() == CUDA_ERROR_OUT_OF_MEMORY
                                 : e.code() == CUDA_ERROR_OUT_OF_MEMORY || e.code() == CUDA_ERROR_INVALID_PARAMETER;
    if (!code_ok || e.message().empty()) {
        std::fprintf(stderr, "fuzz_model_load: %s: code %d: %s\n", loading ? "load" : "inference",
                     static_cast<int>(e.code()), e.message().c_str());
        __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::shared_ptr<worker::Context> context = worker::Context::create(WORKER_DEVICE_CPU);
    static worker::fuzz::MemoryFile file;
    file.assign(data, size);

    std::shared_ptr<worker::Model> model;
    try {
        model = worker::Model::load(context, file.path());
    } catch (const worker::Error& e) {
        expect_documented(e, true);
        return 0;
    }

    // Accepted: it must run. Special-token text and bytes of every length.
    worker::InferenceParams params;
    params.sampling.temperature = 0.0f;
    params.max_tokens = 3;
    for (const char* prompt : {"Hi <|im_start|> \xC3\xA9t\xC3\xA9 123", ""}) {
        try {
            auto inference = worker::Inference::start(model, prompt, params);
            while (inference->peek() != nullptr) inference->pop();
            for (int32_t id : inference->generated_tokens()) {
                if (id < 0 || static_cast<uint32_t>(id) >= model->config().vocab_size) __builtin_trap();
            }
        } catch (const worker::Error& e) {
            expect_documented(e, false);
        }
    }
    return 0;
}
