// Our tokenizer against llama.cpp's own tokenize and detokenize calls, as
// recorded by scripts/oracle/gen_tokenizer_vectors_llamacpp.py in
// tests/data/tokenizer/llamacpp_vectors.json: 99 strings (our corpus plus
// llama.cpp's gpt-2 .inp strings), with and without special-token parsing, on
// every vocabulary of ../shared/testdata/vocab and both real models.
//
// - ids: encode(text, add_special=false, parse_special) must give llama.cpp's
//   ids exactly;
// - text (special tokens not parsed): where llama.cpp gives the string back
//   (llama_detokenize, or the plain concatenation of its pieces) our decode
//   must give it back too, and where llama_detokenize differs from our decode
//   the difference must be the one llama.cpp makes on purpose (clean_spaces on
//   the gpt-2 family); the counts are printed.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "support/json.h"
#include "support/test_models.h"
#include "support/text.h"
#include "tokenizer/tokenizer.h"

namespace {

using worker::test::escaped;

using worker::test::Json;
using worker::tokenizer::Tokenizer;

const Json& vectors() {
    static const Json doc =
        Json::parse_file(std::string(WORKER_SOURCE_DIR) + "/tests/data/tokenizer/llamacpp_vectors.json");
    return doc;
}

std::string from_hex(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

std::string field(const Json& v, const std::string& name) {
    return v.contains(name + "_hex") ? from_hex(v[name + "_hex"].as_string()) : v[name].as_string();
}

// llama.cpp's clean_spaces (the gpt-2 family, like HF's
// clean_up_tokenization_spaces) only deletes spaces that stand before
// punctuation or an apostrophe: `detok` must be `ours` less such spaces.
bool only_spaces_before_punctuation_removed(const std::string& ours, const std::string& detok) {
    size_t j = 0;
    for (size_t i = 0; i < ours.size(); ++i) {
        if (j < detok.size() && ours[i] == detok[j]) {
            ++j;
            continue;
        }
        const char next = i + 1 < ours.size() ? ours[i + 1] : '\0';
        const bool removable =
            ours[i] == ' ' && (next == '.' || next == ',' || next == '?' || next == '!' || next == '\'' || next == 'n');
        if (!removable) return false;
    }
    return j == detok.size();
}

void check(const std::string& key, const Tokenizer& tok) {
    const Json& entry = vectors()[key];
    const auto& cases = entry["vectors"].items();
    ASSERT_GE(cases.size(), 198u) << key;
    const bool spm = entry["info"]["tokenizer_model"].as_string() == "llama";
    size_t ids_ok = 0, text_checked = 0, detok_differs = 0;
    for (const Json& v : cases) {
        const std::string text = field(v, "text");
        const bool parse_special = v["parse_special"].as_bool();
        std::vector<int32_t> want;
        for (const Json& id : v["ids"].items()) want.push_back(static_cast<int32_t>(id.as_i64()));
        const std::vector<int32_t> ids = tok.encode(text, false, parse_special);
        EXPECT_EQ(ids, want) << key << ": '" << escaped(text) << "' parse_special=" << parse_special;
        ids_ok += ids == want;

        // With special tokens parsed, llama_detokenize(unparse_special) writes
        // their text (SentencePiece: and a space after some); generated text
        // streams nothing for them, so only plain text is compared.
        if (parse_special) continue;
        const std::string ours = tok.decode(want);
        const std::string detok = field(v, "detok");
        ++text_checked;
        if (v["roundtrip"].as_bool() || v["pieces_roundtrip"].as_bool()) {
            EXPECT_EQ(ours, text) << key << ": llama.cpp gives '" << escaped(text) << "' back, we give '"
                                  << escaped(ours) << "'";
        }
        if (detok != ours) {
            ++detok_differs;
            // The only difference llama_detokenize may have from our plain
            // concatenation of pieces (SentencePiece vocabularies have none).
            const bool explained = !spm && only_spaces_before_punctuation_removed(ours, detok);
            EXPECT_TRUE(explained) << key << ": llama_detokenize '" << escaped(detok) << "', our decode '"
                                   << escaped(ours) << "' of '" << escaped(text) << "'";
        }
    }
    std::printf(
        "[llama.cpp ] %s: %zu/%zu ids match; %zu texts checked, llama_detokenize differs (clean_spaces or "
        "prefix space) on %zu\n",
        key.c_str(), ids_ok, cases.size(), text_checked, detok_differs);
}

class LlamaCppVocabVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(LlamaCppVocabVectors, IdsAndTextMatchLlamaCpp) {
    const std::string file = std::string("ggml-vocab-") + GetParam() + ".gguf";
    const std::string path = worker::test::shared_testdata("vocab/" + file);
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " (shared test data) is missing";
    const auto gguf = worker::gguf::File::open(path);
    check(file, *Tokenizer::from_gguf(*gguf));
}

INSTANTIATE_TEST_SUITE_P(Vocab, LlamaCppVocabVectors,
                         ::testing::Values("baichuan", "deepseek-coder", "deepseek-llm", "falcon", "gpt-2", "gpt-neox",
                                           "llama-spm", "mpt", "phi-3", "refact", "starcoder"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                             std::string name = param.param;
                             for (char& c : name) {
                                 if (c == '-') c = '_';
                             }
                             return name;
                         });

TEST(LlamaCppModelVectors, SmolLM2) {
    WORKER_REQUIRE_REAL_MODEL(path, "smollm2");
    const auto gguf = worker::gguf::File::open(path);
    check("SmolLM2-135M-Instruct.Q4_1.gguf", *Tokenizer::from_gguf(*gguf));
}

TEST(LlamaCppModelVectors, Gemma3) {
    WORKER_REQUIRE_REAL_MODEL(path, "gemma3");
    const auto gguf = worker::gguf::File::open(path);
    check("gemma-3-270m-q4_k_m.gguf", *Tokenizer::from_gguf(*gguf));
}

// Every vocabulary in the file is one of the above: nothing recorded goes unread.
TEST(LlamaCppVectors, EveryRecordedVocabularyIsChecked) {
    size_t n = 0;
    for (const auto& [key, value] : vectors().members()) {
        if (key == "_meta") continue;
        ++n;
        EXPECT_TRUE(key.rfind("ggml-vocab-", 0) == 0 || key == "SmolLM2-135M-Instruct.Q4_1.gguf" ||
                    key == "gemma-3-270m-q4_k_m.gguf")
            << key;
    }
    EXPECT_EQ(n, 13u);
}

}  // namespace
