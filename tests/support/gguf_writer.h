// A GGUF writer for tests: metadata of every value type (nested arrays too),
// tensors of any shape and block type, synthetic models of the supported
// architectures, and controlled corruption of the bytes it produces.
//
// Typical use:
//
//     worker::test::GgufWriter w;
//     w.add_string("general.architecture", "llama");
//     w.add_u32("llama.block_count", 2);
//     w.add_tensor("token_embd.weight", {64, 300}, worker::GgmlType::Q8_0, values);  // quantized here
//     w.write(path);
//
//     worker::test::SyntheticModelSpec spec;       // a whole model
//     spec.arch = "qwen2";
//     spec.weight_type = worker::GgmlType::Q4_K;
//     worker::test::write_synthetic_model(path, spec);
//
//     worker::test::GgufBytes bytes = w.build();   // corruption
//     bytes.patch<uint32_t>(bytes.layout.tensors[0].type_at, 99);
//     bytes.truncate(bytes.layout.data_section);
//     bytes.write(path);
//
// The writer does not validate: it writes what it is told (duplicate keys,
// zero dimensions, unknown types...) so that tests can build malformed files.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "quant/ggml_type.h"

namespace worker::test {

using gguf::Value;
using gguf::ValueType;

// Value constructors for add() and for array elements.
Value value_u8(uint8_t v);
Value value_i8(int8_t v);
Value value_u16(uint16_t v);
Value value_i16(int16_t v);
Value value_u32(uint32_t v);
Value value_i32(int32_t v);
Value value_u64(uint64_t v);
Value value_i64(int64_t v);
Value value_f32(float v);
Value value_f64(double v);
Value value_bool(bool v);
Value value_string(std::string v);
// An array whose elements all have `element_type` (elements may be arrays).
Value value_array(ValueType element_type, std::vector<Value> elements);

// Where each structure of a built file lies (absolute byte offsets).
struct GgufLayout {
    static constexpr uint64_t kMagicAt = 0;
    static constexpr uint64_t kVersionAt = 4;
    static constexpr uint64_t kTensorCountAt = 8;
    static constexpr uint64_t kMetadataCountAt = 16;
    struct Kv {
        std::string key;
        uint64_t key_at = 0;    // the key's u64 length, then its bytes
        uint64_t type_at = 0;   // u32 value type
        uint64_t value_at = 0;  // the value (for arrays: u32 element type, u64 count, elements)
        uint64_t end = 0;
    };
    struct Tensor {
        std::string name;
        uint64_t name_at = 0;    // u64 length, then the name
        uint64_t n_dims_at = 0;  // u32
        uint64_t dims_at = 0;    // n_dims u64 values
        uint64_t type_at = 0;    // u32
        uint64_t offset_at = 0;  // u64, relative to the data section
        uint64_t end = 0;
        uint64_t data_at = 0;  // absolute start of the data
        uint64_t data_size = 0;
    };
    std::vector<Kv> kvs;
    std::vector<Tensor> tensors;
    uint64_t header_end = 0;    // end of the last tensor info
    uint64_t data_section = 0;  // header_end rounded up to the alignment
    uint64_t file_size = 0;
};

// A built file: its bytes, where everything lies, and ways to damage it.
struct GgufBytes {
    std::vector<uint8_t> bytes;
    GgufLayout layout;

    // Overwrites sizeof(T) bytes at `at`; throws std::out_of_range past the end.
    template <typename T>
    void patch(uint64_t at, T value) {
        if (at > bytes.size() || sizeof value > bytes.size() - at) throw std::out_of_range("GgufBytes::patch");
        std::memcpy(bytes.data() + at, &value, sizeof value);
    }
    // Overwrites bytes at `at`, growing the file when they reach past its end.
    void patch_bytes(uint64_t at, const std::vector<uint8_t>& data);
    void truncate(uint64_t size);
    void append(const std::vector<uint8_t>& data);
    void write(const std::string& path) const;
};

class GgufWriter {
public:
    GgufWriter& set_version(uint32_t version);  // default 3
    // Alignment of the data section and of every tensor's data. Does not
    // write general.alignment; add it with add_u32 when the file should say so.
    GgufWriter& set_alignment(uint32_t alignment);  // default 32

    GgufWriter& add(std::string key, Value value);
    GgufWriter& add_u8(std::string key, uint8_t v) { return add(std::move(key), value_u8(v)); }
    GgufWriter& add_i8(std::string key, int8_t v) { return add(std::move(key), value_i8(v)); }
    GgufWriter& add_u16(std::string key, uint16_t v) { return add(std::move(key), value_u16(v)); }
    GgufWriter& add_i16(std::string key, int16_t v) { return add(std::move(key), value_i16(v)); }
    GgufWriter& add_u32(std::string key, uint32_t v) { return add(std::move(key), value_u32(v)); }
    GgufWriter& add_i32(std::string key, int32_t v) { return add(std::move(key), value_i32(v)); }
    GgufWriter& add_u64(std::string key, uint64_t v) { return add(std::move(key), value_u64(v)); }
    GgufWriter& add_i64(std::string key, int64_t v) { return add(std::move(key), value_i64(v)); }
    GgufWriter& add_f32(std::string key, float v) { return add(std::move(key), value_f32(v)); }
    GgufWriter& add_f64(std::string key, double v) { return add(std::move(key), value_f64(v)); }
    GgufWriter& add_bool(std::string key, bool v) { return add(std::move(key), value_bool(v)); }
    GgufWriter& add_string(std::string key, std::string v) { return add(std::move(key), value_string(std::move(v))); }
    GgufWriter& add_string_array(std::string key, const std::vector<std::string>& v);
    GgufWriter& add_f32_array(std::string key, const std::vector<float>& v);
    GgufWriter& add_i32_array(std::string key, const std::vector<int32_t>& v);
    // A key whose value bytes are given verbatim after the u32 `type_id`
    // (for unknown value types and hand-made encodings).
    GgufWriter& add_raw(std::string key, uint32_t type_id, std::vector<uint8_t> value_bytes);
    // Copies every metadata key starting with `prefix` (e.g. "tokenizer.")
    // from a parsed file.
    GgufWriter& copy_metadata(const gguf::File& from, const std::string& prefix);
    // Removes every entry with this key; returns how many there were.
    size_t remove(const std::string& key);

    // dims in ggml order (dims[0] is the contiguous one). `values` holds
    // the product of dims floats, quantized here to `type` (see can_quantize).
    GgufWriter& add_tensor(std::string name, std::vector<uint64_t> dims, GgmlType type,
                           const std::vector<float>& values);
    // Normal(0, stddev) values from `seed`, quantized to `type`.
    GgufWriter& add_random_tensor(std::string name, std::vector<uint64_t> dims, GgmlType type, uint64_t seed,
                                  float stddev = 0.02f);
    // Data bytes given verbatim; `type_id` may be any number.
    GgufWriter& add_tensor_bytes(std::string name, std::vector<uint64_t> dims, uint32_t type_id,
                                 std::vector<uint8_t> data);
    // Overrides the relative data offset written for the tensor (the data
    // itself stays where the layout put it).
    GgufWriter& set_tensor_offset(const std::string& name, uint64_t relative_offset);

    size_t tensor_count() const { return tensors_.size(); }
    GgufBytes build() const;
    void write(const std::string& path) const { build().write(path); }

private:
    struct Kv {
        std::string key;
        Value value;
        std::optional<uint32_t> raw_type;  // add_raw: type id and verbatim bytes
        std::vector<uint8_t> raw_bytes;
    };
    struct Tensor {
        std::string name;
        std::vector<uint64_t> dims;
        uint32_t type_id = 0;
        std::vector<uint8_t> data;
        std::optional<uint64_t> offset_override;
    };

    uint32_t version_ = 3;
    uint32_t alignment_ = 32;
    std::vector<Kv> kvs_;
    std::vector<Tensor> tensors_;
};

// ---- quantization of float data ------------------------------------------------

// Types quantize() writes: every type dequantize_row() reads (F32, F16, BF16,
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, MXFP4).
bool can_quantize(GgmlType type);
// Round-to-nearest quantization of `values` (a whole number of blocks) into
// the stored bytes of `type`; accuracy is reasonable, not llama.cpp's best.
// Throws std::invalid_argument for other types or a partial block.
std::vector<uint8_t> quantize(GgmlType type, const std::vector<float>& values);

// ---- synthetic models ------------------------------------------------------------

struct SyntheticModelSpec {
    std::string arch = "llama";  // llama, qwen2, qwen3, phi3 or gemma3
    std::string name = "synthetic";
    uint32_t n_embd = 64;
    uint32_t n_layer = 2;
    uint32_t n_head = 4;
    uint32_t n_head_kv = 2;
    uint32_t head_dim = 16;  // rope.dimension_count; gemma3 also key/value_length
    uint32_t n_ff = 128;
    uint32_t context_length = 256;
    float rms_eps = 1e-5f;
    float rope_base = 10000.0f;
    uint32_t sliding_window = 32;  // gemma3 only
    // llama only: a rope_freqs.weight of head_dim / 2 frequency divisors
    // (Llama 3's), drawn from [1, 8].
    bool rope_freqs = false;
    // Non-empty: rope.scaling.type with rope.scaling.factor and, when not 0,
    // rope.scaling.original_context_length.
    std::string rope_scaling;
    float rope_scaling_factor = 1.0f;
    uint32_t rope_original_context = 0;
    float rope_attn_factor = 0.0f;  // not 0: rope.scaling.attn_factor
    // Rows are quantized whole: the input width of each matrix (n_embd,
    // n_head * head_dim, n_ff) must be a multiple of the type's block size.
    GgmlType weight_type = GgmlType::F32;     // 2-D weights of the blocks
    GgmlType embedding_type = GgmlType::F32;  // token_embd (and output) weights
    GgmlType norm_type = GgmlType::F32;       // norm weights and biases
    bool output_weight = true;                // false: tied to token_embd
    uint64_t seed = 1;
    float weight_stddev = 0.05f;
    // Every block gets block 0's bytes for its 2-D weights (quantized once):
    // a model of billions of weights written in seconds, for benchmarks,
    // where what matters is the bytes each step reads, not their values.
    bool share_layer_weights = false;
    // Empty: a byte-level "gpt2" tokenizer (see synthetic_vocab below).
    // Otherwise every tokenizer.* key of that GGUF file is copied.
    std::string tokenizer_from;
};

// The built-in tokenizer: 256 byte tokens in GPT-2's byte-to-unicode
// spelling, merges that build a few common English words, and the control
// tokens <|endoftext|> (BOS and EOS), <|im_start|>, <|im_end|>.
struct SyntheticVocab {
    std::vector<std::string> tokens;
    std::vector<std::string> merges;   // "left right"
    std::vector<int32_t> token_types;  // 1 normal, 3 control
    int32_t bos_id = 0;
    int32_t eos_id = 0;
};
SyntheticVocab synthetic_vocab();
// Adds `vocab` as a byte-level "gpt2" tokenizer: model, pre-tokenizer,
// tokens, token types, merges, BOS and EOS ids.
void add_synthetic_vocab(GgufWriter& w, const SyntheticVocab& vocab);

// Adds the model's metadata and tensors to `w` (nothing else is added, so a
// test may add or remove keys before writing).
void add_synthetic_model(GgufWriter& w, const SyntheticModelSpec& spec);
void write_synthetic_model(const std::string& path, const SyntheticModelSpec& spec);

}  // namespace worker::test
