// What fuzz_model_load's mutator knows about model files: the keys the
// loader reads ({arch} stands for general.architecture), names of tensors it
// looks for, and strings worth trying in their places.
#pragma once

#include "support/gguf_mutator.h"

namespace worker::fuzz {

inline const MutationOptions& model_load_options() {
    static const MutationOptions options = [] {
        MutationOptions o;
        o.extra_keys = {
            "{arch}.context_length",
            "{arch}.embedding_length",
            "{arch}.block_count",
            "{arch}.feed_forward_length",
            "{arch}.attention.head_count",
            "{arch}.attention.head_count_kv",
            "{arch}.attention.key_length",
            "{arch}.attention.value_length",
            "{arch}.rope.freq_base",
            "{arch}.rope.dimension_count",
            "{arch}.rope.scaling.type",
            "{arch}.rope.scaling.factor",
            "{arch}.attention.layer_norm_rms_epsilon",
            "{arch}.attention.layer_norm_epsilon",
            "{arch}.attention.sliding_window",
            "{arch}.expert_count",
            "{arch}.expert_used_count",
            "{arch}.vocab_size",
            "general.alignment",
            "tokenizer.ggml.bos_token_id",
            "tokenizer.ggml.eos_token_id",
            "tokenizer.ggml.eot_token_id",
            "tokenizer.ggml.padding_token_id",
            "tokenizer.ggml.unknown_token_id",
            "tokenizer.ggml.add_bos_token",
            "tokenizer.ggml.add_eos_token",
            "tokenizer.ggml.add_space_prefix",
        };
        o.dictionary = {
            "llama",
            "qwen2",
            "phi3",
            "gemma3",
            "gpt-oss",
            "gemma2",
            "none",
            "linear",
            "yarn",
            "gpt2",
            "token_embd.weight",
            "output.weight",
            "output_norm.weight",
            "rope_freqs.weight",
            "blk.0.attn_q.bias",
            "blk.0.attn_qkv.weight",
            "blk.0.ffn_gate.weight",
            "blk.1.attn_norm.weight",
            "blk.0.attn_q_norm.weight",
            "blk.0.post_attention_norm.weight",
            "<|im_start|>",
            "<s>",
            "\xC4\xA0",
        };
        o.favoured_prefixes = {"llama.",
                               "qwen2.",
                               "phi3.",
                               "gemma3.",
                               "gpt-oss.",
                               "general.architecture",
                               "tokenizer.ggml.bos",
                               "tokenizer.ggml.eos",
                               "tokenizer.ggml.model"};
        o.tensors = true;
        return o;
    }();
    return options;
}

}  // namespace worker::fuzz
