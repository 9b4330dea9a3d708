// llama.cpp's tokenizer test vectors (../shared/testdata/vocab): with BOS not
// added and special tokens not parsed, our ids must equal theirs exactly.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "support/test_models.h"
#include "tokenizer/tokenizer.h"

namespace {

using worker::tokenizer::Tokenizer;

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// .inp: every string is followed by "\n__ggml_vocab_test__\n" (the newline
// before the separator is not part of the string).
std::vector<std::string> read_inputs(const std::string& path) {
    const std::string data = slurp(path);
    const std::string separator = "\n__ggml_vocab_test__\n";
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < data.size()) {
        const size_t end = data.find(separator, pos);
        if (end == std::string::npos) break;
        out.push_back(data.substr(pos, end - pos));
        pos = end + separator.size();
    }
    return out;
}

// .out: one line of space-separated ids per string.
std::vector<std::vector<int32_t>> read_outputs(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::vector<int32_t>> out;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ids(line);
        std::vector<int32_t> row;
        for (int32_t id; ids >> id;) row.push_back(id);
        out.push_back(row);
    }
    return out;
}

std::string escaped(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

class LlamaCppVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(LlamaCppVectors, IdsMatchExactly) {
    const std::string base = worker::test::shared_testdata(std::string("vocab/ggml-vocab-") + GetParam() + ".gguf");
    const auto inputs = read_inputs(base + ".inp");
    const auto expected = read_outputs(base + ".out");
    // The files hold 46 strings each; a parse that finds fewer would let
    // failures hide.
    ASSERT_GE(inputs.size(), 40u);
    ASSERT_EQ(inputs.size(), expected.size());

    const auto file = worker::gguf::File::open(base);
    const auto tok = Tokenizer::from_gguf(*file);
    size_t passed = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const std::vector<int32_t> ids = tok->encode(inputs[i], /*add_special=*/false, /*parse_special=*/false);
        EXPECT_EQ(ids, expected[i]) << "string " << i << ": '" << escaped(inputs[i]) << "'";
        passed += ids == expected[i];
    }
    std::printf("[ vectors  ] %s: %zu/%zu\n", GetParam(), passed, inputs.size());
}

INSTANTIATE_TEST_SUITE_P(Vocab, LlamaCppVectors,
                         ::testing::Values("gpt-2", "llama-spm", "phi-3", "deepseek-llm", "starcoder"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                             std::string name = param.param;
                             for (char& c : name) {
                                 if (c == '-') c = '_';
                             }
                             return name;
                         });

}  // namespace
