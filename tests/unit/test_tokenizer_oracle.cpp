// Our ids against llama.cpp's (through llama-cpp-python) on a corpus of our
// own, for every vocabulary in ../shared/testdata/vocab and the real models.
// The vectors are made by scripts/oracle/gen_tokenizer_vectors.py and live in
// tests/data/tokenizer/*.json.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "support/test_models.h"
#include "test_tokenizer_gguf_writer.h"
#include "tokenizer/tokenizer.h"

namespace {

using worker::tokenizer::Tokenizer;

// ---- a small JSON reader for the vector files -----------------------------------

struct Json {
    enum Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = kNull;
    bool boolean = false;
    double number = 0;
    std::string string;
    std::vector<Json> array;
    std::map<std::string, Json> object;

    const Json& at(const std::string& key) const {
        const auto it = object.find(key);
        if (it == object.end()) throw std::runtime_error("missing key " + key);
        return it->second;
    }
};

class JsonParser {
public:
    explicit JsonParser(const std::string& text) : s_(text) {}
    Json parse() {
        Json v = value();
        skip_space();
        if (pos_ != s_.size()) throw std::runtime_error("trailing data");
        return v;
    }

private:
    void skip_space() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) {
            ++pos_;
        }
    }
    char peek() {
        skip_space();
        if (pos_ >= s_.size()) throw std::runtime_error("unexpected end");
        return s_[pos_];
    }
    void expect(char c) {
        if (peek() != c) throw std::runtime_error(std::string("expected ") + c + " at " + std::to_string(pos_));
        ++pos_;
    }
    bool literal(const char* word) {
        const std::string w = word;
        if (s_.compare(pos_, w.size(), w) != 0) return false;
        pos_ += w.size();
        return true;
    }
    static void append_utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    uint32_t hex4() {
        if (pos_ + 4 > s_.size()) throw std::runtime_error("short \\u escape");
        const uint32_t v = static_cast<uint32_t>(std::stoul(s_.substr(pos_, 4), nullptr, 16));
        pos_ += 4;
        return v;
    }
    std::string string_value() {
        expect('"');
        std::string out;
        while (true) {
            if (pos_ >= s_.size()) throw std::runtime_error("unterminated string");
            const char c = s_[pos_++];
            if (c == '"') return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            const char e = s_[pos_++];
            switch (e) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    uint32_t cp = hex4();
                    if (cp >= 0xD800 && cp < 0xDC00 && s_.compare(pos_, 2, "\\u") == 0) {
                        pos_ += 2;
                        const uint32_t low = hex4();
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    }
                    append_utf8(out, cp);
                    break;
                }
                default:
                    throw std::runtime_error("bad escape");
            }
        }
    }
    Json value() {
        Json v;
        const char c = peek();
        if (c == '{') {
            v.kind = Json::kObject;
            ++pos_;
            if (peek() == '}') {
                ++pos_;
                return v;
            }
            while (true) {
                const std::string key = string_value();
                expect(':');
                v.object[key] = value();
                if (peek() == ',') {
                    ++pos_;
                    continue;
                }
                expect('}');
                return v;
            }
        }
        if (c == '[') {
            v.kind = Json::kArray;
            ++pos_;
            if (peek() == ']') {
                ++pos_;
                return v;
            }
            while (true) {
                v.array.push_back(value());
                if (peek() == ',') {
                    ++pos_;
                    continue;
                }
                expect(']');
                return v;
            }
        }
        if (c == '"') {
            v.kind = Json::kString;
            v.string = string_value();
            return v;
        }
        if (literal("true")) {
            v.kind = Json::kBool;
            v.boolean = true;
            return v;
        }
        if (literal("false")) {
            v.kind = Json::kBool;
            return v;
        }
        if (literal("null")) return v;
        size_t used = 0;
        v.kind = Json::kNumber;
        v.number = std::stod(s_.substr(pos_, 32), &used);
        pos_ += used;
        return v;
    }

    const std::string& s_;
    size_t pos_ = 0;
};

// ---- the vectors ------------------------------------------------------------------

std::string data_dir() { return std::string(WORKER_SOURCE_DIR) + "/tests/data/tokenizer"; }

Json load_vectors(const std::string& name) {
    std::ifstream in(data_dir() + "/" + name + ".json", std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return JsonParser(text).parse();
}

std::string escaped(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\n') {
            out += "\\n";
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string from_hex(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

// Compares every case; checks the round trip on the plain-text cases.
void check_vectors(const std::string& name, const Tokenizer& tokenizer) {
    const Json doc = load_vectors(name);
    const auto& cases = doc.at("cases").array;
    ASSERT_GE(cases.size(), 100u) << name;
    const Tokenizer* tok = &tokenizer;

    size_t passed = 0;
    size_t round_trips = 0;
    for (const Json& c : cases) {
        // "text_hex" holds inputs that are not UTF-8 (JSON strings cannot).
        const bool raw_bytes = c.object.count("text_hex") > 0;
        const std::string text = raw_bytes ? from_hex(c.at("text_hex").string) : c.at("text").string;
        const bool add_special = c.at("add_special").boolean;
        const bool parse_special = c.at("parse_special").boolean;
        std::vector<int32_t> expected;
        for (const Json& id : c.at("ids").array) expected.push_back(static_cast<int32_t>(id.number));

        const std::vector<int32_t> ids = tok->encode(text, add_special, parse_special);
        EXPECT_EQ(ids, expected) << name << ": '" << escaped(text) << "' add_special=" << add_special
                                 << " parse_special=" << parse_special;
        passed += ids == expected;

        // Byte-level BPE and SentencePiece with byte fallback are lossless on
        // plain text: every vocabulary here has byte tokens.
        if (!add_special && !parse_special && !raw_bytes) {
            EXPECT_EQ(tok->decode(ids), text) << name << ": round trip of '" << escaped(text) << "'";
            ++round_trips;
        }
    }
    std::printf("[ vectors  ] %s: %zu/%zu ids match, %zu round trips checked\n", name.c_str(), passed, cases.size(),
                round_trips);
}

void check_vectors(const std::string& name, const std::string& model_path) {
    const auto file = worker::gguf::File::open(model_path);
    check_vectors(name, *Tokenizer::from_gguf(*file));
}

class VocabVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(VocabVectors, MatchLlamaCpp) {
    check_vectors(std::string("vocab-") + GetParam(),
                  worker::test::shared_testdata(std::string("vocab/ggml-vocab-") + GetParam() + ".gguf"));
}

INSTANTIATE_TEST_SUITE_P(Vocab, VocabVectors,
                         ::testing::Values("falcon", "mpt", "gpt-neox", "refact", "deepseek-coder", "baichuan", "gpt-2",
                                           "llama-spm", "phi-3", "deepseek-llm", "starcoder"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                             std::string name = param.param;
                             for (char& c : name) {
                                 if (c == '-') c = '_';
                             }
                             return name;
                         });

// The GPT-2 vocabulary under other pre-tokenizer names, built here the way
// the generator builds it with gguf-py: the same keys and values.
class PreTokenizerVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(PreTokenizerVectors, MatchLlamaCpp) {
    const auto gpt2 = worker::gguf::File::open(worker::test::shared_testdata("vocab/ggml-vocab-gpt-2.gguf"));
    worker::test::MetadataWriter w;
    w.string_kv("general.architecture", "gpt2");
    w.string_kv("tokenizer.ggml.model", "gpt2");
    w.string_kv("tokenizer.ggml.pre", GetParam());
    w.string_array_kv("tokenizer.ggml.tokens", gpt2->get_string_array("tokenizer.ggml.tokens"));
    w.i32_array_kv("tokenizer.ggml.token_type", gpt2->get_i32_array("tokenizer.ggml.token_type"));
    w.string_array_kv("tokenizer.ggml.merges", gpt2->get_string_array("tokenizer.ggml.merges"));
    w.u32_kv("tokenizer.ggml.bos_token_id", 50256);
    w.u32_kv("tokenizer.ggml.eos_token_id", 50256);
    const std::vector<uint8_t> bytes = w.finish();
    const auto file = worker::gguf::File::parse(bytes.data(), bytes.size(), std::string("gpt-2-as-") + GetParam());
    check_vectors(std::string("pre-") + GetParam(), *Tokenizer::from_gguf(*file));
}

INSTANTIATE_TEST_SUITE_P(Pre, PreTokenizerVectors,
                         ::testing::Values("llama-bpe", "qwen2", "smollm", "gpt-4o", "tekken", "poro-chat", "viking",
                                           "deepseek-v3", "stablelm2", "dbrx", "command-r", "phi-2"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                             std::string name = param.param;
                             for (char& c : name) {
                                 if (c == '-') c = '_';
                             }
                             return name;
                         });

TEST(RealModelVectors, SmolLM2MatchesLlamaCpp) {
    WORKER_REQUIRE_REAL_MODEL(path, "smollm2");
    check_vectors("model-smollm2", path);
}

TEST(RealModelVectors, Gemma3MatchesLlamaCpp) {
    WORKER_REQUIRE_REAL_MODEL(path, "gemma3");
    check_vectors("model-gemma3", path);
}

TEST(RealModelVectors, ChatTemplateTokensAreSingleIds) {
    WORKER_REQUIRE_REAL_MODEL(path, "smollm2");
    const auto file = worker::gguf::File::open(path);
    const auto tok = Tokenizer::from_gguf(*file);
    int32_t im_start = -1;
    int32_t im_end = -1;
    for (int32_t id = 0; id < tok->n_vocab(); ++id) {
        if (tok->token_text(id) == "<|im_start|>") im_start = id;
        if (tok->token_text(id) == "<|im_end|>") im_end = id;
    }
    ASSERT_GE(im_start, 0);
    ASSERT_GE(im_end, 0);
    EXPECT_TRUE(tok->is_eog(im_end));
    EXPECT_FALSE(tok->is_eog(im_start));
    const auto ids = tok->encode("<|im_start|>user\nHi<|im_end|>", true, true);
    ASSERT_GE(ids.size(), 3u);
    EXPECT_EQ(ids.front(), im_start);
    EXPECT_EQ(ids.back(), im_end);
}

}  // namespace
