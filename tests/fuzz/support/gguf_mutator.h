// Structure-aware mutation of GGUF files for libFuzzer's custom mutator hook.
//
// Byte-level mutation of a model file almost always breaks the parser, which
// fuzz_gguf already covers; what lies behind it (the model loader's
// configuration and shape checks, the tokenizer's construction from its
// metadata) only sees files that parse. These helpers read an input as a GGUF
// file, change its structures (metadata values, types and arrays; tensor
// shapes, types, names and data) and write it back with the test writer, so
// the result parses but means something hostile:
//
//     extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
//         const size_t n = worker::fuzz::mutate_gguf(data, size, max_size, seed, options);
//         return n != 0 ? n : LLVMFuzzerMutate(data, size, max_size);
//     }
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gguf/gguf_file.h"

namespace worker::fuzz {

// A parsed GGUF file as plain structures that can be edited and written back.
struct EditableGguf {
    struct Tensor {
        std::string name;
        std::vector<uint64_t> dims;
        uint32_t type = 0;
        std::vector<uint8_t> data;
    };
    uint32_t version = 3;
    uint32_t alignment = 32;
    std::vector<std::pair<std::string, gguf::Value>> metadata;
    std::vector<Tensor> tensors;

    // nullopt when the parser refuses the bytes.
    static std::optional<EditableGguf> parse(const uint8_t* data, size_t size);
    // The file; empty when its alignment is past 4096 (the padding alone
    // would outgrow any fuzz input).
    std::vector<uint8_t> bytes() const;

    gguf::Value* find(std::string_view key);
    void set(const std::string& key, gguf::Value value);  // replaces or adds
};

struct MutationOptions {
    // Keys a mutation may add when absent (in addition to mutating the keys
    // present), e.g. the configuration keys the loader reads.
    std::vector<std::string> extra_keys;
    // Strings worth trying where a string goes (architecture names,
    // tokenizer models, special-token texts ...).
    std::vector<std::string> dictionary;
    // Mutations of tensors (shapes, types, names, data) as well as metadata.
    bool tensors = true;
    // Keys to prefer (by prefix): mutated three times as often as the others.
    std::vector<std::string> favoured_prefixes;
};

// Applies 1-4 structural mutations to the GGUF file in data[0, size) and
// writes the result back when it fits in max_size; returns its size, or 0 when
// the input does not parse or no mutation fit (the caller then mutates bytes).
size_t mutate_gguf(uint8_t* data, size_t size, size_t max_size, unsigned seed, const MutationOptions& options);

// The pieces, for targets and seeders that build hostile files themselves.
class GgufMutator {
public:
    GgufMutator(unsigned seed, const MutationOptions& options) : rng_(seed), options_(options) {}

    void mutate(EditableGguf& g);  // one mutation of any kind
    void mutate_value(gguf::Value& v);
    void mutate_string(std::string& s);
    void mutate_tensor(EditableGguf& g);

    uint64_t below(uint64_t n) { return n == 0 ? 0 : std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
    bool one_in(uint64_t n) { return below(n) == 0; }

private:
    uint64_t interesting_integer(uint64_t current);
    double interesting_float(double current);
    void change_type(gguf::Value& v);
    void mutate_array(gguf::Value& v);
    size_t pick_key(const EditableGguf& g);
    std::string other_tensor_name(const std::string& name);

    std::mt19937_64 rng_;
    const MutationOptions& options_;
};

}  // namespace worker::fuzz
