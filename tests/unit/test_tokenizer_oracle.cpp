// Our ids against llama.cpp's (through llama-cpp-python) on a corpus of our
// own, for every vocabulary in ../shared/testdata/vocab and the real models.
// The vectors are made by scripts/oracle/gen_tokenizer_vectors.py and live in
// tests/data/tokenizer/*.json.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "support/gguf_writer.h"
#include "support/json.h"
#include "support/test_models.h"
#include "tokenizer/tokenizer.h"

namespace {

using worker::tokenizer::Tokenizer;

std::string data_dir() { return std::string(WORKER_SOURCE_DIR) + "/tests/data/tokenizer"; }

worker::test::Json load_vectors(const std::string& name) {
    return worker::test::Json::parse_file(data_dir() + "/" + name + ".json");
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
    const worker::test::Json doc = load_vectors(name);
    const auto& cases = doc["cases"].items();
    ASSERT_GE(cases.size(), 100u) << name;
    const Tokenizer* tok = &tokenizer;

    size_t passed = 0;
    size_t round_trips = 0;
    for (const worker::test::Json& c : cases) {
        // "text_hex" holds inputs that are not UTF-8 (JSON strings cannot).
        const bool raw_bytes = c.contains("text_hex");
        const std::string text = raw_bytes ? from_hex(c["text_hex"].as_string()) : c["text"].as_string();
        const bool add_special = c["add_special"].as_bool();
        const bool parse_special = c["parse_special"].as_bool();
        std::vector<int32_t> expected;
        for (const worker::test::Json& id : c["ids"].items()) expected.push_back(static_cast<int32_t>(id.as_i64()));

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
    worker::test::GgufWriter w;
    w.add_string("general.architecture", "gpt2");
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string("tokenizer.ggml.pre", GetParam());
    w.add_string_array("tokenizer.ggml.tokens", gpt2->get_string_array("tokenizer.ggml.tokens"));
    w.add_i32_array("tokenizer.ggml.token_type", gpt2->get_i32_array("tokenizer.ggml.token_type"));
    w.add_string_array("tokenizer.ggml.merges", gpt2->get_string_array("tokenizer.ggml.merges"));
    w.add_u32("tokenizer.ggml.bos_token_id", 50256);
    w.add_u32("tokenizer.ggml.eos_token_id", 50256);
    const std::vector<uint8_t> bytes = w.build().bytes;
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
