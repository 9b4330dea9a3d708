// What fuzz_tokenizer_build's mutator knows about tokenizer metadata: the
// tokenizer.ggml.* keys the library reads, and strings worth trying in
// tokens, merges and the model and pre-tokenizer names.
#pragma once

#include "support/gguf_mutator.h"

namespace worker::fuzz {

// Text the target also encodes when the file holds it (the mutator changes
// it like any string).
inline constexpr const char* kFuzzTextKey = "fuzz.text";

inline const MutationOptions& tokenizer_build_options() {
    static const MutationOptions options = [] {
        MutationOptions o;
        o.extra_keys = {
            "tokenizer.ggml.model",
            "tokenizer.ggml.pre",
            "tokenizer.ggml.scores",
            "tokenizer.ggml.token_type",
            "tokenizer.ggml.merges",
            "tokenizer.ggml.bos_token_id",
            "tokenizer.ggml.eos_token_id",
            "tokenizer.ggml.unknown_token_id",
            "tokenizer.ggml.padding_token_id",
            "tokenizer.ggml.eot_token_id",
            "tokenizer.ggml.eom_token_id",
            "tokenizer.ggml.add_bos_token",
            "tokenizer.ggml.add_eos_token",
            "tokenizer.ggml.add_space_prefix",
            kFuzzTextKey,
        };
        o.dictionary = {
            "gpt2",
            "llama",
            "gemma4",
            "bert",
            "t5",
            "rwkv",
            "none",
            "default",
            "llama-bpe",
            "qwen2",
            "qwen35",
            "sarvam-moe",
            "smollm",
            "gpt-4o",
            "deepseek-llm",
            "deepseek-coder",
            "deepseek-v3",
            "tekken",
            "falcon",
            "starcoder",
            "command-r",
            "phi-2",
            "poro-chat",
            "dbrx",
            "viking",
            "stablelm2",
            "chatglm-bpe",
            "<|im_start|>",
            "<|im_end|>",
            "<|endoftext|>",
            "<s>",
            "</s>",
            "<unk>",
            "<pad>",
            "<mask>",
            "<start_of_turn>",
            "<0x00>",
            "<0xFF>",
            "<0x41>",
            "<0xZZ>",
            "\xE2\x96\x81",
            "\xE2\x96\x81\xE2\x96\x81",
            "\xC4\xA0",
            "\xC4\xA0t",
            "Hello",
            " ",
            "",
            "a b",
            "a  b",
            "\xC4\xA0 t",
            "\xF0\x9F\x98\x80",
            "\xE4\xBD\xA0\xE5\xA5\xBD",
            "\n",
            "\xC3\x28",
            "\xED\xA0\x80",
        };
        o.favoured_prefixes = {"tokenizer.ggml.", kFuzzTextKey};
        o.tensors = false;
        return o;
    }();
    return options;
}

}  // namespace worker::fuzz
