// Seeds for fuzz_tokenizer_build (run by run_one.sh: seed_fuzz_tokenizer_build
// DIR): tokenizer-only GGUF files. The writer's synthetic byte-level BPE
// vocabulary; every vocabulary of ../shared/testdata/vocab cut to its first
// 320 tokens (with the merges among them and its special tokens moved after
// them), so that BPE of each pre-tokenizer and SentencePiece are all there;
// and the hostile corpus: each of those with one thing made wrong (merges
// naming absent tokens, arrays of the wrong length or type, special ids out
// of range, duplicate or empty tokens, unknown models ...). Each file also
// carries a "fuzz.text" for the target to encode.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "support/gguf_mutator.h"
#include "support/gguf_writer.h"
#include "support/tokenizer_build_options.h"

namespace {

using worker::fuzz::EditableGguf;
using worker::gguf::Value;
using worker::gguf::ValueType;
namespace test = worker::test;

constexpr size_t kKeep = 320;

void write(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

Value text_value() {
    return test::value_string("Hello <|im_start|>world \xE2\x96\x81 caf\xC3\xA9 123 \xF0\x9F\x98\x80");
}

std::vector<uint8_t> synthetic() {
    const test::SyntheticVocab v = test::synthetic_vocab();
    test::GgufWriter w;
    w.add_string("general.architecture", "llama");
    test::add_synthetic_vocab(w, v);
    w.add(worker::fuzz::kFuzzTextKey, text_value());
    return w.build().bytes;
}

// The first kKeep tokens of a vocabulary file, its special tokens appended
// (ids remapped), the merges among the kept tokens, and its other
// tokenizer.* keys as they are.
std::vector<uint8_t> cut(const worker::gguf::File& f) {
    const std::vector<std::string> tokens = f.get_string_array("tokenizer.ggml.tokens");
    std::vector<size_t> kept;
    for (size_t i = 0; i < std::min(kKeep, tokens.size()); ++i) kept.push_back(i);
    const char* id_keys[] = {"tokenizer.ggml.bos_token_id",     "tokenizer.ggml.eos_token_id",
                             "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id",
                             "tokenizer.ggml.eot_token_id",     "tokenizer.ggml.eom_token_id"};
    std::map<uint64_t, uint32_t> remap;
    for (const char* key : id_keys) {
        if (const Value* v = f.find(key); v != nullptr && v->is_integer()) {
            const uint64_t id = v->type == ValueType::INT32 ? static_cast<uint64_t>(v->i) : v->u;
            if (id < tokens.size()) {
                if (id >= kKeep && remap.count(id) == 0) {
                    remap[id] = static_cast<uint32_t>(kept.size());
                    kept.push_back(id);
                } else if (id < kKeep) {
                    remap[id] = static_cast<uint32_t>(id);
                }
            }
        }
    }
    test::GgufWriter w;
    w.add_string("general.architecture", f.get_string_or("general.architecture", "llama"));
    std::set<std::string> kept_text;
    std::vector<std::string> kept_tokens;
    for (size_t i : kept) {
        kept_tokens.push_back(tokens[i]);
        kept_text.insert(tokens[i]);
    }
    for (const auto& [key, value] : f.metadata()) {
        if (key.rfind("tokenizer.ggml.", 0) != 0 || key == "tokenizer.ggml.tokens") continue;
        if (value.type == ValueType::ARRAY && value.size() == tokens.size()) {
            Value part = test::value_array(value.element_type, {});
            for (size_t i : kept) part.array.push_back(value.element(i));
            w.add(key, part);
        } else if (key == "tokenizer.ggml.merges") {
            std::vector<std::string> merges;
            for (const std::string& m : f.get_string_array(key)) {
                const size_t space = m.find(' ', 1);
                if (space == std::string::npos) continue;
                const std::string a = m.substr(0, space), b = m.substr(space + 1);
                if (kept_text.count(a) && kept_text.count(b) && kept_text.count(a + b)) merges.push_back(m);
            }
            w.add_string_array(key, merges);
        } else if (std::find(std::begin(id_keys), std::end(id_keys), key) != std::end(id_keys)) {
            const uint64_t id = value.type == ValueType::INT32 ? static_cast<uint64_t>(value.i) : value.u;
            if (remap.count(id)) w.add_u32(key, remap[id]);
        } else if (key.find("chat_template") == std::string::npos) {
            w.add(key, value);
        }
    }
    w.add_string_array("tokenizer.ggml.tokens", kept_tokens);
    w.add(worker::fuzz::kFuzzTextKey, text_value());
    return w.build().bytes;
}

using Edit = std::function<void(EditableGguf&)>;

Value* array_of(EditableGguf& g, const char* key) {
    Value* v = g.find(key);
    return v != nullptr && v->type == ValueType::ARRAY ? v : nullptr;
}

std::vector<std::pair<std::string, Edit>> hostile_edits() {
    std::vector<std::pair<std::string, Edit>> e;
    auto set = [](const char* key, Value v) { return [=](EditableGguf& g) { g.set(key, v); }; };
    e.emplace_back("merge_absent_tokens", [](EditableGguf& g) {
        if (Value* m = array_of(g, "tokenizer.ggml.merges")) m->array.push_back(test::value_string("zzq qzz"));
    });
    e.emplace_back("merge_without_space", [](EditableGguf& g) {
        if (Value* m = array_of(g, "tokenizer.ggml.merges")) m->array.push_back(test::value_string("ab"));
    });
    e.emplace_back("merge_three_parts", [](EditableGguf& g) {
        if (Value* m = array_of(g, "tokenizer.ggml.merges")) m->array.push_back(test::value_string("a b c"));
    });
    e.emplace_back("merge_empty", [](EditableGguf& g) {
        if (Value* m = array_of(g, "tokenizer.ggml.merges")) m->array.push_back(test::value_string(""));
    });
    e.emplace_back("merges_as_numbers",
                   set("tokenizer.ggml.merges", test::value_array(ValueType::UINT32, {test::value_u32(1)})));
    e.emplace_back("types_short", [](EditableGguf& g) {
        if (Value* t = array_of(g, "tokenizer.ggml.token_type"); t && !t->array.empty()) t->array.pop_back();
    });
    e.emplace_back("types_out_of_range", [](EditableGguf& g) {
        if (Value* t = array_of(g, "tokenizer.ggml.token_type"); t && t->array.size() > 2) {
            t->array[1].i = 100;
            t->array[1].u = 100;
            t->array[2].i = -1;
            t->array[2].u = ~0ull;
        }
    });
    e.emplace_back("all_control", [](EditableGguf& g) {
        if (Value* t = array_of(g, "tokenizer.ggml.token_type"))
            for (Value& x : t->array) x.i = 3, x.u = 3;
    });
    e.emplace_back("scores_nan", [](EditableGguf& g) {
        if (Value* s = array_of(g, "tokenizer.ggml.scores"))
            for (size_t i = 0; i < s->array.size(); i += 3) s->array[i].f = std::nan("");
    });
    e.emplace_back("scores_short", [](EditableGguf& g) {
        if (Value* s = array_of(g, "tokenizer.ggml.scores"); s && !s->array.empty()) s->array.resize(1);
    });
    e.emplace_back("bos_past_end", set("tokenizer.ggml.bos_token_id", test::value_u32(1u << 20)));
    e.emplace_back("eos_negative", set("tokenizer.ggml.eos_token_id", test::value_i32(-5)));
    e.emplace_back("eot_as_string", set("tokenizer.ggml.eot_token_id", test::value_string("2")));
    e.emplace_back("unk_past_end", set("tokenizer.ggml.unknown_token_id", test::value_u32(0xFFFFFFFFu)));
    e.emplace_back("add_bos_without_bos", [](EditableGguf& g) {
        std::erase_if(g.metadata, [](const auto& kv) { return kv.first == "tokenizer.ggml.bos_token_id"; });
        g.set("tokenizer.ggml.add_bos_token", test::value_bool(true));
    });
    e.emplace_back("no_space_prefix", set("tokenizer.ggml.add_space_prefix", test::value_bool(false)));
    e.emplace_back("duplicate_tokens", [](EditableGguf& g) {
        if (Value* t = array_of(g, "tokenizer.ggml.tokens"); t && t->array.size() > 10) t->array[7] = t->array[9];
    });
    e.emplace_back("empty_token", [](EditableGguf& g) {
        if (Value* t = array_of(g, "tokenizer.ggml.tokens"); t && t->array.size() > 10) t->array[5].s.clear();
    });
    e.emplace_back("invalid_utf8_token", [](EditableGguf& g) {
        if (Value* t = array_of(g, "tokenizer.ggml.tokens"); t && t->array.size() > 10) t->array[6].s = "\xFF\xFE";
    });
    e.emplace_back("one_token", [](EditableGguf& g) {
        if (Value* t = array_of(g, "tokenizer.ggml.tokens"); t && !t->array.empty()) t->array.resize(1);
    });
    e.emplace_back("tokens_as_numbers",
                   set("tokenizer.ggml.tokens", test::value_array(ValueType::INT32, {test::value_i32(1)})));
    e.emplace_back("model_bert", set("tokenizer.ggml.model", test::value_string("bert")));
    e.emplace_back("model_swapped", [](EditableGguf& g) {
        Value* m = g.find("tokenizer.ggml.model");
        if (m && m->type == ValueType::STRING) m->s = m->s == "gpt2" ? "llama" : "gpt2";
    });
    e.emplace_back("pre_unknown", set("tokenizer.ggml.pre", test::value_string("no-such-pre")));
    e.emplace_back("special_text_control", [](EditableGguf& g) {
        Value* t = array_of(g, "tokenizer.ggml.tokens");
        Value* types = array_of(g, "tokenizer.ggml.token_type");
        if (t && types && t->array.size() > 12 && types->array.size() == t->array.size()) {
            t->array[12].s = "<|im_start|>";
            types->array[12].i = 3;
            types->array[12].u = 3;
        }
    });
    return e;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    std::vector<std::pair<std::string, std::vector<uint8_t>>> bases = {{"synthetic_bpe", synthetic()}};
    const std::string vocab_dir = std::string(WORKER_SHARED_TESTDATA) + "/vocab";
    if (std::filesystem::is_directory(vocab_dir)) {
        for (const auto& entry : std::filesystem::directory_iterator(vocab_dir)) {
            const std::string name = entry.path().filename().string();
            if (entry.path().extension() != ".gguf") continue;
            try {
                const auto f = worker::gguf::File::open(entry.path().string());
                bases.emplace_back(name.substr(0, name.size() - 5), cut(*f));
            } catch (const worker::Error& e) {
                std::fprintf(stderr, "seed_fuzz_tokenizer_build: %s: %s\n", name.c_str(), e.message().c_str());
            }
        }
    } else {
        std::fprintf(stderr, "seed_fuzz_tokenizer_build: no %s: only the synthetic vocabulary\n", vocab_dir.c_str());
    }
    int written = 0;
    for (const auto& [name, bytes] : bases) {
        write(dir + "/valid_" + name + ".gguf", bytes);
        ++written;
        for (const auto& [edit_name, edit] : hostile_edits()) {
            auto g = EditableGguf::parse(bytes.data(), bytes.size());
            if (!g) return 1;
            edit(*g);
            write(dir + "/hostile_" + name + "_" + edit_name + ".gguf", g->bytes());
            ++written;
        }
    }
    std::printf("seed_fuzz_tokenizer_build: %d files in %s\n", written, dir.c_str());
    return 0;
}
