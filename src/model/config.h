// Architecture detection and the hyper-parameters of a model, read once from
// the GGUF metadata ("<arch>.context_length", ...) into one typed struct.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"

namespace worker::model {

enum class Arch { Llama, Qwen2, Qwen3, Phi3, Gemma3, GptOss };

const char* arch_name(Arch arch);

struct Config {
    Arch arch = Arch::Llama;
    std::string arch_key;  // general.architecture as written in the file

    uint32_t context_length = 0;
    uint32_t embedding_length = 0;  // model dimension
    uint32_t block_count = 0;
    uint32_t head_count = 0;
    uint32_t head_count_kv = 0;
    uint32_t head_dim = 0;  // key/value length per head
    uint32_t feed_forward_length = 0;
    uint32_t vocab_size = 0;

    float rope_freq_base = 10000.0f;
    float rope_freq_base_local = 10000.0f;  // gemma3 sliding-window layers
    float rope_freq_scale_local = 1.0f;     // gemma3 sliding-window layers: never scaled
    float rope_freq_scale = 1.0f;           // 1 / rope.scaling.factor (linear and YaRN scaling)
    // YaRN (rope.scaling.type "yarn"), with llama.cpp's context defaults:
    // the ramp between interpolated and extrapolated frequencies is on
    // (ext_factor 1) and the rotation carries the magnitude factor
    // rope_attn_factor that llama_context computes; otherwise ext_factor 0.
    float rope_ext_factor = 0.0f;
    float rope_attn_factor = 1.0f;
    float rope_beta_fast = 32.0f;
    float rope_beta_slow = 1.0f;
    uint32_t rope_n_ctx_orig = 0;  // rope.scaling.original_context_length, else context_length
    uint32_t rope_dimension_count = 0;      // rotated elements per head
    bool rope_neox = false;                 // pairs (i, i + n/2) rather than (2i, 2i + 1)
    float norm_eps = 1e-5f;

    uint32_t sliding_window = 0;          // 0: every layer attends globally
    uint32_t sliding_window_pattern = 0;  // gemma3: every Nth layer is global

    uint32_t expert_count = 0;  // mixture of experts (gpt-oss)
    uint32_t expert_used_count = 0;

    // Whether layer `il` attends only within the sliding window.
    bool layer_is_local(uint32_t il) const;
    uint64_t q_dim() const { return uint64_t{head_count} * head_dim; }
    uint64_t kv_dim() const { return uint64_t{head_count_kv} * head_dim; }
};

// Reads and checks the hyper-parameters. Throws Error(CUDA_ERROR_MODEL_LOAD_FAILED)
// naming the architecture when it is not supported, or the metadata key that
// is missing or inconsistent.
Config read_config(const gguf::File& file);

}  // namespace worker::model
