// llama.cpp's own tokenizer test files, from the llama.cpp that
// llama-cpp-python 0.3.36 vendors (models/ggml-vocab-*.gguf with .inp/.out),
// fetched into the model cache by `scripts/fetch-models.sh vocab` and checked
// there against tests/data/tokenizer/vocab-llamacpp-0.3.36.sha256.
//
// Every vocabulary of that list is in kVocabs below, either to be matched or
// as an expected refusal with its reason: nothing is skipped silently. For
// one with vectors, each .inp string is tokenized as llama.cpp's
// tests/test-tokenizer-0.cpp does (common_tokenize with add_special = false,
// parse_special = false) and the ids must equal the .out line exactly. An
// expected refusal must fail to load with CUDA_ERROR_MODEL_LOAD_FAILED and a
// detail naming the metadata key and its value.
//
// The .inp strings do not tell every rule apart (qwen35's combining marks,
// gemma-4's newline runs and forced BOS, byte fallback): ExtraVectorsMatch
// checks the same files on tests/data/tokenizer/vocab-files-extra.json, ids
// that llama.cpp 0.3.36 gave for a corpus aimed at those rules, with and
// without BOS/EOS (scripts/oracle/gen_vocab_file_vectors.py).
//
// Missing files skip with the reason, or fail when WORKER_TEST_REQUIRE_MODELS=1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "support/json.h"
#include "support/test_models.h"
#include "support/text.h"
#include "tokenizer/tokenizer.h"

namespace {

using worker::test::escaped;
using worker::test::ids_text;

using worker::tokenizer::Tokenizer;

struct VocabCase {
    const char* name;  // ggml-vocab-NAME.gguf
    // For an expected refusal: the metadata key and value the detail must
    // name, and why this library does not take the file. nullptr: must load,
    // and match the vectors where there are some.
    const char* refused_key;
    const char* refused_value;
    const char* reason;
};

constexpr VocabCase kVocabs[] = {
    {"aquila", nullptr, nullptr, nullptr},
    {"baichuan", nullptr, nullptr, nullptr},
    {"bert-bge", "tokenizer.ggml.model", "bert",
     "WordPiece (BERT) tokenizer with BERT's normalizer (lower-casing, accent stripping): not implemented; "
     "an embedding model's tokenizer, no generative architecture here uses it"},
    {"command-r", nullptr, nullptr, nullptr},
    {"deepseek-coder", nullptr, nullptr, nullptr},
    {"deepseek-llm", nullptr, nullptr, nullptr},
    {"falcon", nullptr, nullptr, nullptr},
    {"gemma-4", nullptr, nullptr, nullptr},
    {"gpt-2", nullptr, nullptr, nullptr},
    {"gpt-neox", nullptr, nullptr, nullptr},
    {"llama-bpe", nullptr, nullptr, nullptr},
    {"llama-spm", nullptr, nullptr, nullptr},
    {"mpt", nullptr, nullptr, nullptr},
    {"nomic-bert-moe", "tokenizer.ggml.model", "t5",
     "Unigram (T5/SentencePiece unigram) tokenizer with its precompiled normalizer charsmap: not implemented; "
     "an embedding model's tokenizer"},
    {"phi-3", nullptr, nullptr, nullptr},
    {"qwen2", nullptr, nullptr, nullptr},
    {"qwen35", nullptr, nullptr, nullptr},
    {"refact", nullptr, nullptr, nullptr},
    {"starcoder", nullptr, nullptr, nullptr},
};

// gtest names the case by its vocabulary in failure messages.
void PrintTo(const VocabCase& c, std::ostream* os) { *os << c.name; }

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The checksum list the fetch script verifies against: file names by vocab.
// (sha256 by file name in `sums` when given.)
std::map<std::string, std::set<std::string>> listed_files(std::map<std::string, std::string>* sums = nullptr) {
    std::ifstream in(std::string(WORKER_SOURCE_DIR) + "/tests/data/tokenizer/vocab-llamacpp-0.3.36.sha256");
    std::map<std::string, std::set<std::string>> files;
    const std::string prefix = "ggml-vocab-";
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        const size_t space = line.find("  ");
        if (space == std::string::npos) continue;
        const std::string file = line.substr(space + 2);
        if (sums != nullptr) (*sums)[file] = line.substr(0, space);
        const size_t gguf = file.find(".gguf");
        if (file.rfind(prefix, 0) != 0 || gguf == std::string::npos) continue;
        files[file.substr(prefix.size(), gguf - prefix.size())].insert(file);
    }
    return files;
}

// .inp as llama.cpp's read_tests splits it: pieces separated by
// "\n__ggml_vocab_test__\n"; what follows the last separator is one more
// string when it is not empty.
std::vector<std::string> read_inputs(const std::string& path) {
    const std::string raw = slurp(path);
    const std::string separator = "\n__ggml_vocab_test__\n";
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < raw.size()) {
        const size_t next = raw.find(separator, pos);
        if (next == std::string::npos) {
            out.push_back(raw.substr(pos));
            break;
        }
        out.push_back(raw.substr(pos, next - pos));
        pos = next + separator.size();
    }
    return out;
}

// .out: one line per string, ids separated by single spaces after the line is
// stripped of surrounding whitespace. A field that is not an integer throws,
// so a misread file fails the test instead of comparing against nothing.
std::vector<std::vector<int32_t>> read_outputs(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::vector<int32_t>> out;
    for (std::string line; std::getline(in, line);) {
        const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
        size_t begin = 0;
        size_t end = line.size();
        while (begin < end && is_space(line[begin])) ++begin;
        while (end > begin && is_space(line[end - 1])) --end;
        std::vector<int32_t> ids;
        size_t pos = begin;
        while (pos < end) {
            size_t next = line.find(' ', pos);
            if (next == std::string::npos || next > end) next = end;
            const std::string field = line.substr(pos, next - pos);
            size_t used = 0;
            const int value = std::stoi(field, &used);
            if (used != field.size()) throw std::runtime_error("bad id '" + field + "' in " + path);
            ids.push_back(value);
            pos = next + 1;
        }
        out.push_back(std::move(ids));
    }
    return out;
}

// The list the fetch script checks and kVocabs name the same vocabularies:
// a file that a new llama.cpp adds cannot go untested, and no case here tests
// a file that is not fetched. Needs nothing fetched.
TEST(LlamaCppVocabFiles, EveryListedVocabularyHasACase) {
    const auto files = listed_files();
    ASSERT_GE(files.size(), 15u) << "the checksum list was not read";
    std::set<std::string> listed;
    for (const auto& [name, names] : files) listed.insert(name);
    std::set<std::string> cased;
    for (const VocabCase& c : kVocabs) cased.insert(c.name);
    EXPECT_EQ(listed, cased);
    size_t with_vectors = 0;
    for (const auto& [name, names] : files) {
        const bool inp = names.count("ggml-vocab-" + name + ".gguf.inp") != 0;
        const bool out = names.count("ggml-vocab-" + name + ".gguf.out") != 0;
        EXPECT_TRUE(names.count("ggml-vocab-" + name + ".gguf")) << name;
        EXPECT_EQ(inp, out) << name << ": .inp and .out come in pairs";
        with_vectors += inp;
    }
    EXPECT_GE(with_vectors, 15u);
}

class LlamaCppVocabFile : public ::testing::TestWithParam<VocabCase> {};

TEST_P(LlamaCppVocabFile, TokenizesAsLlamaCppOrIsAnExpectedRefusal) {
    const VocabCase& c = GetParam();
    const std::string name = c.name;
    const std::string dir = worker::test::llamacpp_vocab_dir();
    const std::string base = dir + "/ggml-vocab-" + name + ".gguf";
    const auto listed = listed_files();
    const auto it = listed.find(name);
    ASSERT_NE(it, listed.end()) << name << " is not in the checksum list";
    const bool has_vectors = it->second.count("ggml-vocab-" + name + ".gguf.inp") != 0;

    for (const std::string& file : it->second) {
        if (std::filesystem::exists(dir + "/" + file)) continue;
        if (worker::test::models_required()) FAIL() << dir << "/" << file << " missing";
        GTEST_SKIP() << "llama.cpp vocab file " << file << " not fetched (run scripts/fetch-models.sh vocab)";
    }

    const auto file = worker::gguf::File::open(base);
    if (c.refused_key != nullptr) {
        try {
            Tokenizer::from_gguf(*file);
            ADD_FAILURE() << name << " loaded, but is listed as refused (" << c.reason
                          << "): if it is supported now, move it to the matched set";
        } catch (const worker::Error& e) {
            EXPECT_EQ(e.code(), CUDA_ERROR_MODEL_LOAD_FAILED);
            const std::string detail = e.message();
            EXPECT_NE(detail.find(c.refused_key), std::string::npos) << detail;
            EXPECT_NE(detail.find(std::string("'") + c.refused_value + "'"), std::string::npos) << detail;
            std::printf("[ refused  ] %s: %s (expected: %s)\n", name.c_str(), detail.c_str(), c.reason);
        }
        return;
    }

    std::unique_ptr<Tokenizer> tok;
    try {
        tok = Tokenizer::from_gguf(*file);
    } catch (const worker::Error& e) {
        FAIL() << name << " must load: " << e.message();
    }
    if (!has_vectors) {
        // llama.cpp ships this vocabulary without vectors: it must load, and
        // that is all that can be checked against llama.cpp here.
        std::printf("[ loaded   ] %s: no .inp/.out in llama.cpp, loaded only\n", name.c_str());
        return;
    }

    const auto inputs = read_inputs(base + ".inp");
    const auto expected = read_outputs(base + ".out");
    ASSERT_GE(inputs.size(), 30u) << "too few strings read from " << base << ".inp";
    ASSERT_EQ(inputs.size(), expected.size()) << "llama.cpp's test refuses files whose counts differ";

    // llama.cpp keys its tests by the string: a repeated string must expect
    // the same ids, else its test would check only one of them.
    std::map<std::string, std::vector<int32_t>> seen;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const auto [where, fresh] = seen.emplace(inputs[i], expected[i]);
        EXPECT_TRUE(fresh || where->second == expected[i]) << "string " << i << " repeats with other ids";
    }

    size_t passed = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const std::vector<int32_t> ids = tok->encode(inputs[i], /*add_special=*/false, /*parse_special=*/false);
        EXPECT_EQ(ids, expected[i]) << name << " string " << i << ": '" << escaped(inputs[i])
                                    << "'\n  ours:     " << ids_text(ids) << "\n  llama.cpp: " << ids_text(expected[i]);
        passed += ids == expected[i];
    }
    std::printf("[ vectors  ] %s: %zu/%zu strings match llama.cpp\n", name.c_str(), passed, inputs.size());
}

const worker::test::Json& extra_vectors() {
    static const worker::test::Json doc =
        worker::test::Json::parse_file(std::string(WORKER_SOURCE_DIR) + "/tests/data/tokenizer/vocab-files-extra.json");
    return doc;
}

std::string from_hex(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

TEST_P(LlamaCppVocabFile, ExtraVectorsMatch) {
    const VocabCase& c = GetParam();
    const std::string name = c.name;
    if (c.refused_key != nullptr) {
        // Refused at load: TokenizesAsLlamaCppOrIsAnExpectedRefusal checks the
        // refusal, and there is nothing to tokenize.
        std::printf("[ refused  ] %s: expected refusal, no extra vectors checked\n", name.c_str());
        return;
    }
    const auto& vocabs = extra_vectors()["vocabs"];
    ASSERT_TRUE(vocabs.contains(name)) << "vocab-files-extra.json has no cases for " << name;
    const auto& entry = vocabs[name];

    // The vectors were made on the very file the checksum list names.
    std::map<std::string, std::string> sums;
    listed_files(&sums);
    const std::string file_name = "ggml-vocab-" + name + ".gguf";
    ASSERT_EQ(entry["sha256"].as_string(), sums[file_name]) << name;

    const std::string path = worker::test::llamacpp_vocab_dir() + "/" + file_name;
    if (!std::filesystem::exists(path)) {
        if (worker::test::models_required()) FAIL() << path << " missing";
        GTEST_SKIP() << "llama.cpp vocab file " << file_name << " not fetched (run scripts/fetch-models.sh vocab)";
    }
    const auto file = worker::gguf::File::open(path);
    const auto tok = Tokenizer::from_gguf(*file);
    const auto& cases = entry["cases"].items();
    ASSERT_GE(cases.size(), 60u);
    size_t passed = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
        const auto& v = cases[i];
        const std::string text = v.contains("text_hex") ? from_hex(v["text_hex"].as_string()) : v["text"].as_string();
        const bool add_special = v["add_special"].as_bool();
        std::vector<int32_t> expected;
        for (const auto& id : v["ids"].items()) expected.push_back(static_cast<int32_t>(id.as_i64()));
        const std::vector<int32_t> ids = tok->encode(text, add_special, /*parse_special=*/false);
        EXPECT_EQ(ids, expected) << name << " case " << i << " (add_special " << add_special << "): '" << escaped(text)
                                 << "'\n  ours:     " << ids_text(ids) << "\n  llama.cpp: " << ids_text(expected);
        passed += ids == expected;
    }
    std::printf("[ extra    ] %s: %zu/%zu cases match llama.cpp\n", name.c_str(), passed, cases.size());
}

INSTANTIATE_TEST_SUITE_P(Vocab, LlamaCppVocabFile, ::testing::ValuesIn(kVocabs),
                         [](const ::testing::TestParamInfo<VocabCase>& param) {
                             std::string id = param.param.name;
                             for (char& ch : id) {
                                 if (ch == '-' || ch == '.') ch = '_';
                             }
                             return id;
                         });

}  // namespace
