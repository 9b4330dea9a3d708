// Tokenizers built from a model file's tokenizer.ggml.* metadata: byte-level
// BPE ("gpt2") and SentencePiece ("llama"), with special tokens.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf_file.h"

namespace worker::tokenizer {

class Tokenizer {
public:
    // Throws Error(CUDA_ERROR_MODEL_LOAD_FAILED) naming the key when the
    // metadata is missing, inconsistent or of an unsupported tokenizer model.
    static std::unique_ptr<Tokenizer> from_gguf(const gguf::File& file);
    virtual ~Tokenizer() = default;

    // add_special: add BOS (and EOS) as the metadata flags ask.
    // parse_special: recognise special/control token text such as <|im_start|>.
    virtual std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const = 0;

    // The bytes a token stands for in generated text (byte-level pieces and
    // <0xNN> byte-fallback tokens decoded, SentencePiece "▁" as a space). A
    // piece may end in the middle of a UTF-8 character. Control tokens give "".
    virtual const std::string& token_bytes(int32_t id) const = 0;
    // The token's text as stored in the vocabulary.
    virtual const std::string& token_text(int32_t id) const = 0;
    // Concatenated token_bytes of the ids (SentencePiece strips the leading
    // space the encoder added); with render_special, control tokens give
    // their token_text instead of nothing.
    virtual std::string decode(const std::vector<int32_t>& ids, bool render_special = false) const = 0;

    virtual int32_t n_vocab() const = 0;
    virtual int32_t bos_id() const = 0;  // -1 when none
    virtual int32_t eos_id() const = 0;  // -1 when none
    virtual int32_t eot_id() const = 0;  // end of turn (<|im_end|>, <end_of_turn>, ...), -1 when none
    virtual int32_t pad_id() const = 0;  // -1 when none
    virtual bool add_bos() const = 0;
    virtual bool add_eos() const = 0;
    // End of generation: EOS, EOT and tokens such as <|im_end|>, <end_of_turn>.
    virtual bool is_eog(int32_t id) const = 0;
    virtual bool is_control(int32_t id) const = 0;
};

// Hands out whole UTF-8 characters from a stream of bytes that may split
// them: a partial character is held until it completes; invalid sequences
// become U+FFFD.
class Utf8Stream {
public:
    // Returns every complete character available after appending `bytes`.
    std::string push(std::string_view bytes);
    // Returns what is held back, an incomplete tail as U+FFFD; resets.
    std::string finish();

private:
    std::string pending_;
};

}  // namespace worker::tokenizer
