// What a tokenizer.ggml.pre name does besides its regexes (ignore_merges,
// the default of add_bos_token, byte encoding), for every name the BPE
// tokenizer knows, against llama.cpp 0.3.36: a tiny vocabulary where those
// flags change the ids, built here key for key as
// scripts/oracle/gen_pre_flags_vectors.py built it for llama.cpp, whose ids
// are in tests/data/tokenizer/pre-flags.json.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "support/gguf_writer.h"
#include "support/json.h"
#include "support/text.h"
#include "tokenizer/tokenizer.h"

namespace {

using worker::test::ids_text;

using worker::test::Json;
using worker::tokenizer::Tokenizer;

const Json& vectors() {
    static const Json doc = Json::parse_file(std::string(WORKER_SOURCE_DIR) + "/tests/data/tokenizer/pre-flags.json");
    return doc;
}

TEST(PreTokenizerFlags, EveryKnownNameMatchesLlamaCpp) {
    const Json& vocab = vectors()["vocab"];
    std::vector<std::string> tokens;
    for (const Json& t : vocab["tokens"].items()) tokens.push_back(t.as_string());
    std::vector<int32_t> types;
    for (const Json& t : vocab["token_type"].items()) types.push_back(static_cast<int32_t>(t.as_i64()));
    std::vector<std::string> merges;
    for (const Json& m : vocab["merges"].items()) merges.push_back(m.as_string());

    const auto& names = vectors()["names"].members();
    ASSERT_GE(names.size(), 60u);
    size_t matched = 0;
    for (const auto& [name, entry] : names) {
        worker::test::GgufWriter w;
        w.add_string("general.architecture", "gpt2");
        w.add_string("tokenizer.ggml.model", "gpt2");
        w.add_string("tokenizer.ggml.pre", name);
        w.add_string_array("tokenizer.ggml.tokens", tokens);
        w.add_i32_array("tokenizer.ggml.token_type", types);
        w.add_string_array("tokenizer.ggml.merges", merges);
        w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(vocab["bos_token_id"].as_u64()));
        w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(vocab["eos_token_id"].as_u64()));
        const std::vector<uint8_t> bytes = w.build().bytes;
        const auto file = worker::gguf::File::parse(bytes.data(), bytes.size(), "pre-" + name);

        // Every name here is one the BPE tokenizer knows; llama.cpp knew them all too.
        ASSERT_FALSE(entry["refused"].as_bool()) << name;
        std::unique_ptr<Tokenizer> tok;
        try {
            tok = Tokenizer::from_gguf(*file);
        } catch (const worker::Error& e) {
            ADD_FAILURE() << name << ": " << e.message();
            continue;
        }
        bool all = true;
        for (const Json& c : entry["cases"].items()) {
            const std::string text = c["text"].as_string();
            const bool add_special = c["add_special"].as_bool();
            std::vector<int32_t> expected;
            for (const Json& id : c["ids"].items()) expected.push_back(static_cast<int32_t>(id.as_i64()));
            const std::vector<int32_t> ids = tok->encode(text, add_special, /*parse_special=*/false);
            EXPECT_EQ(ids, expected) << "pre '" << name << "', '" << text << "', add_special " << add_special
                                     << "\n  ours:      " << ids_text(ids) << "\n  llama.cpp: " << ids_text(expected);
            all = all && ids == expected;
        }
        matched += all;
    }
    std::printf("[ pre flags] %zu/%zu names behave as in llama.cpp\n", matched, names.size());
}

}  // namespace
