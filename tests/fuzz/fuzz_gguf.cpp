// libFuzzer target: the GGUF parser and validator on arbitrary bytes. Any
// outcome other than a parsed file or a worker::Error is a finding.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "gguf/gguf_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        auto file = worker::gguf::File::parse(data, size, "fuzz-input");
        // Touch what a loader would touch: every tensor's data range.
        volatile uint8_t sink = 0;
        for (const auto& t : file->tensors()) {
            if (t.n_bytes > 0) sink = sink ^ file->tensor_data(t)[t.n_bytes - 1];
        }
        for (const auto& [key, value] : file->metadata()) sink = sink ^ static_cast<uint8_t>(key.size() + value.size());
    } catch (const worker::Error& e) {
        if (e.code() != CUDA_ERROR_MODEL_LOAD_FAILED || e.message().empty()) __builtin_trap();
    }
    return 0;
}
