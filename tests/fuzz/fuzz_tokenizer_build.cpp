// libFuzzer target: building a tokenizer from hostile tokenizer.ggml.*
// metadata (Tokenizer::from_gguf) and using it. The custom mutator
// (support/gguf_mutator.h) changes tokens, merges, token types, scores,
// special-token ids and flags, the model and pre-tokenizer names, and the
// types and lengths of all of them, keeping the file parseable. A refused
// vocabulary must give CUDA_ERROR_MODEL_LOAD_FAILED with a detail. An
// accepted one must hold together: special ids -1 or in range, every token's
// bytes and text readable, and valid UTF-8 text (fixed strings, the token
// texts themselves, and the file's "fuzz.text") encodes, with every flag, to
// ids in range that decode; only text that is not UTF-8 may be refused.
// Seeds: seed_fuzz_tokenizer_build (cut real vocabularies and hostile ones).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "support/gguf_mutator.h"
#include "support/tokenizer_build_options.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
    if (seed % 16 != 0) {
        const size_t n = worker::fuzz::mutate_gguf(data, size, max_size, seed, worker::fuzz::tokenizer_build_options());
        if (n != 0) return n;
    }
    return LLVMFuzzerMutate(data, size, max_size);
}

namespace {

[[noreturn]] void finding(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_tokenizer_build: %s: %s\n", what, detail.c_str());
    __builtin_trap();
}

void check_encode(const worker::tokenizer::Tokenizer& tok, const std::string& text) {
    const bool valid = worker::tokenizer::utf8_is_valid(text);
    for (int flags = 0; flags < 4; ++flags) {
        std::vector<int32_t> ids;
        try {
            ids = tok.encode(text, flags & 1, flags & 2);
        } catch (const worker::Error& e) {
            if (valid || e.message().empty()) finding("encode refused valid UTF-8 (or said nothing)", e.message());
            continue;
        }
        for (int32_t id : ids) {
            if (id < 0 || id >= tok.n_vocab()) finding("id out of range", std::to_string(id));
        }
        (void)tok.decode(ids);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::shared_ptr<const worker::gguf::File> file;
    try {
        file = worker::gguf::File::parse(data, size, "fuzz-input");
    } catch (const worker::Error&) {
        return 0;  // a byte-level mutation the parser refuses: fuzz_gguf's ground
    }
    std::unique_ptr<worker::tokenizer::Tokenizer> tok;
    try {
        tok = worker::tokenizer::Tokenizer::from_gguf(*file);
    } catch (const worker::Error& e) {
        if (e.code() != CUDA_ERROR_MODEL_LOAD_FAILED || e.message().empty())
            finding("refused without code 3", e.message());
        return 0;
    }

    const int32_t n = tok->n_vocab();
    if (n <= 0) finding("accepted an empty vocabulary", "");
    for (int32_t id : {tok->bos_id(), tok->eos_id(), tok->eot_id(), tok->pad_id()}) {
        if (id < -1 || id >= n) finding("special id out of range", std::to_string(id));
    }
    if (tok->add_bos() && tok->bos_id() < 0) finding("adds a BOS it does not have", "");
    std::vector<std::string> texts = {"Hello world",
                                      " leading and  double  spaces ",
                                      "caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD",
                                      "<|im_start|>user\nHi<|im_end|>",
                                      "\xF0\x9F\x98\x80 12345 \t\n",
                                      "a\xFF"
                                      "b",
                                      ""};
    for (int32_t id = 0; id < n && id < 4096; ++id) {
        (void)tok->token_bytes(id);
        (void)tok->is_eog(id);
        (void)tok->is_control(id);
        if (id < 16 || tok->is_control(id)) texts.push_back(tok->token_text(id));
    }
    if (const worker::gguf::Value* v = file->find(worker::fuzz::kFuzzTextKey);
        v != nullptr && v->type == worker::gguf::ValueType::STRING) {
        texts.push_back(v->s);
    }
    if (texts.size() > 64) texts.resize(64);
    for (const std::string& text : texts) check_encode(*tok, text);
    return 0;
}
