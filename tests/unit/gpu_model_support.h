// What the whole-model GPU suites (test_gpu_model*.cpp, one test_gpu binary)
// share: synthetic model files and a prompt that fits any vocabulary.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "support/gguf_writer.h"

namespace worker::gpu_test {

inline std::vector<int32_t> prompt_for(uint32_t vocab) {
    std::vector<int32_t> p = {1, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100};
    for (int32_t& id : p) id = static_cast<int32_t>(static_cast<uint32_t>(id) % vocab);
    return p;
}

inline std::string synthetic(const test::SyntheticModelSpec& spec) {
    const std::string path = ::testing::TempDir() + "gpu_" + spec.arch + "_" + spec.name + ".gguf";
    test::write_synthetic_model(path, spec);
    return path;
}

// A llama of real widths (Q4_0 blocks, Q8_0 embeddings) with `context_length`.
inline std::string synthetic_llama(const char* name, uint32_t context_length) {
    test::SyntheticModelSpec spec;
    spec.name = name;
    spec.n_embd = 256;
    spec.n_ff = 512;
    spec.head_dim = 64;
    spec.n_head = 4;
    spec.n_head_kv = 4;
    spec.weight_type = GgmlType::Q4_0;
    spec.embedding_type = GgmlType::Q8_0;
    spec.context_length = context_length;
    return synthetic(spec);
}

}  // namespace worker::gpu_test
