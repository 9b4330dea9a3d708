// A real model cut to its first blocks with the GGUF writer: the same
// metadata (block_count lowered), tokenizer, tensor types and bytes, so the
// GPU tests can use a real model small enough to travel with test data.
#pragma once

#include <cstdint>
#include <string>

namespace worker::test {

// Writes `source_path` reduced to its first `n_layers` blocks to `out_path`.
// Throws Error (from the parser) or std::exception (from the writer).
void write_reduced_model(const std::string& source_path, uint32_t n_layers, const std::string& out_path);

// tests/data/models/smollm2-135m-q4_1-4layers.gguf when it exists; else,
// when the full SmolLM2 is in the model cache, that model cut to 4 blocks
// into the test temp directory; else "".
std::string reduced_smollm2_path();

// gemma-3-270m cut to 4 blocks from the model cache (it is not committed:
// the Gemma terms govern its redistribution); "" without the cache.
std::string reduced_gemma3_path();

}  // namespace worker::test
