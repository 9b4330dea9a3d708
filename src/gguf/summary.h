// What a GGUF file holds, in the terms `worker-cli info` reports: identity,
// size, tensor types, tokenizer and the architecture's hyper-parameters. Works
// on any file the parser accepts, vocabulary-only files (no tensors) included.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gguf/gguf_file.h"

namespace worker::gguf {

struct TypeUsage {
    GgmlType type = GgmlType::F32;
    uint64_t tensors = 0;
    uint64_t elements = 0;
    uint64_t bytes = 0;
};

struct Summary {
    std::string architecture;  // general.architecture, "" when absent
    std::string name;          // general.name, "" when absent
    uint64_t parameter_count = 0;
    std::optional<uint32_t> file_type;  // general.file_type (llama_ftype numbering)
    std::optional<uint64_t> context_length;
    uint64_t vocab_size = 0;      // tokenizer.ggml.tokens length, else <arch>.vocab_size, else 0
    std::string tokenizer_model;  // tokenizer.ggml.model, "" when absent
    std::string tokenizer_pre;    // tokenizer.ggml.pre, "" when absent
    uint64_t tensor_count = 0;
    uint64_t tensor_bytes = 0;
    std::vector<TypeUsage> types;  // by ggml type id
    // Every "<architecture>.*" key, sorted, with its value as format_value() writes it.
    std::vector<std::pair<std::string, std::string>> hyper_parameters;
};

Summary summarize(const File& file);

// One line for a metadata value: scalars as written (floats with enough
// digits to round-trip), strings quoted, arrays as their type, length and
// first `max_elements` elements.
std::string format_value(const Value& value, size_t max_elements = 6);

// llama.cpp's name for a general.file_type value ("Q4_K_M"), or "unknown".
const char* file_type_name(uint32_t file_type);

}  // namespace worker::gguf
