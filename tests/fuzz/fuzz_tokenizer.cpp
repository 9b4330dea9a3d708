// libFuzzer target: the tokenizers (byte-level BPE from the gpt-2 vocabulary,
// SentencePiece from the llama-spm vocabulary) on arbitrary text. Nothing may
// crash; valid UTF-8 is never refused; ids must be in range; valid UTF-8
// round-trips through the lossless BPE tokenizer (invalid bytes are read as
// llama.cpp reads them, so they do not come back unchanged).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

struct Vocab {
    std::shared_ptr<const worker::gguf::File> file;
    std::unique_ptr<worker::tokenizer::Tokenizer> tokenizer;
};

Vocab load(const char* name) {
    Vocab v;
    v.file = worker::gguf::File::open(std::string(WORKER_SHARED_TESTDATA) + "/vocab/" + name);
    v.tokenizer = worker::tokenizer::Tokenizer::from_gguf(*v.file);
    return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Vocab bpe = load("ggml-vocab-gpt-2.gguf");
    static Vocab spm = load("ggml-vocab-llama-spm.gguf");
    if (size == 0) return 0;
    const uint8_t flags = data[0];
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    const Vocab& v = (flags & 1) ? spm : bpe;
    const bool add_special = flags & 2;
    const bool parse_special = flags & 4;
    try {
        const auto ids = v.tokenizer->encode(text, add_special, parse_special);
        for (int32_t id : ids) {
            if (id < 0 || id >= v.tokenizer->n_vocab()) __builtin_trap();
            (void)v.tokenizer->token_bytes(id);
        }
        const std::string back = v.tokenizer->decode(ids);
        const bool lossless = &v == &bpe && !add_special && !parse_special;
        if (lossless && worker::tokenizer::utf8_is_valid(text) && back != text) __builtin_trap();
    } catch (const worker::Error& e) {
        // Only text that is not UTF-8 may be refused, and it must say why: a
        // tokenizer that refused everything would otherwise pass.
        if (worker::tokenizer::utf8_is_valid(text) || e.message().empty()) __builtin_trap();
    }
    return 0;
}
