// Tokenizer behaviour that the vectors do not pin down: linear time on long
// runs of one character, special tokens, BOS, errors on bad metadata.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "support/gguf_writer.h"
#include "support/test_models.h"
#include "tokenizer/tokenizer.h"

namespace {

using worker::tokenizer::Tokenizer;

std::unique_ptr<Tokenizer> load_vocab(const std::string& name) {
    const auto file = worker::gguf::File::open(worker::test::shared_testdata("vocab/ggml-vocab-" + name + ".gguf"));
    return Tokenizer::from_gguf(*file);
}

int32_t id_of_text(const Tokenizer& tok, const std::string& text) {
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
        if (tok.token_text(id) == text) return id;
    }
    return -1;
}

std::string repeat(const std::string& unit, size_t count) {
    std::string out;
    out.reserve(unit.size() * count);
    for (size_t i = 0; i < count; ++i) out += unit;
    return out;
}

// 100k identical characters: a merge loop that rescans the word after every
// merge would take minutes here; the heap-based one takes milliseconds.
TEST(TokenizerLinearTime, HundredThousandIdenticalCharacters) {
    const std::vector<std::string> inputs = {repeat("a", 100000),
                                             repeat(" ", 100000),
                                             repeat("\n", 100000),
                                             repeat("3", 100000),
                                             repeat("\xF0\x9F\x99\x82", 25000),
                                             repeat(" ", 100000) + "5"};
    for (const char* vocab : {"gpt-2", "llama-spm", "deepseek-llm", "starcoder", "falcon"}) {
        const auto tok = load_vocab(vocab);
        for (const std::string& text : inputs) {
            const auto start = std::chrono::steady_clock::now();
            const std::vector<int32_t> ids = tok->encode(text, false, false);
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            EXPECT_LT(seconds, 5.0) << vocab << ", " << text.size() << " bytes";
            EXPECT_FALSE(ids.empty());
            EXPECT_LT(ids.size(), text.size() + 2);
            // Byte-level BPE and SentencePiece with byte fallback lose nothing.
            EXPECT_EQ(tok->decode(ids), text) << vocab;
        }
    }
}

TEST(TokenizerSpecial, ParsedOnlyWhenAsked) {
    const auto tok = load_vocab("gpt-2");
    const int32_t eot = id_of_text(*tok, "<|endoftext|>");
    ASSERT_GE(eot, 0);
    EXPECT_TRUE(tok->is_control(eot));
    EXPECT_TRUE(tok->is_eog(eot));
    EXPECT_EQ(tok->eos_id(), eot);
    EXPECT_EQ(tok->token_bytes(eot), "");  // control tokens print nothing

    const std::string text = "Hello<|endoftext|>world";
    const auto parsed = tok->encode(text, false, true);
    EXPECT_EQ(std::count(parsed.begin(), parsed.end(), eot), 1);
    const auto plain = tok->encode(text, false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), eot), 0);
    EXPECT_EQ(tok->decode(plain), text);
    // Text around the special token tokenizes as it does on its own.
    auto hello = tok->encode("Hello", false, false);
    const auto world = tok->encode("world", false, false);
    hello.push_back(eot);
    hello.insert(hello.end(), world.begin(), world.end());
    EXPECT_EQ(parsed, hello);
}

TEST(TokenizerSpecial, LongestSpecialTokenWins) {
    // Phi-3 has <|end|> and <|endoftext|>: the longer one must be taken.
    const auto tok = load_vocab("phi-3");
    const int32_t end = id_of_text(*tok, "<|end|>");
    const int32_t endoftext = id_of_text(*tok, "<|endoftext|>");
    ASSERT_GE(end, 0);
    ASSERT_GE(endoftext, 0);
    EXPECT_EQ(tok->encode("<|endoftext|>", false, true), std::vector<int32_t>{endoftext});
    EXPECT_EQ(tok->encode("<|end|>", false, true), std::vector<int32_t>{end});
    EXPECT_TRUE(tok->is_eog(end));
}

TEST(TokenizerSpecial, BosFollowsMetadata) {
    const auto spm = load_vocab("llama-spm");
    EXPECT_TRUE(spm->add_bos());
    EXPECT_EQ(spm->bos_id(), 1);
    EXPECT_EQ(spm->eos_id(), 2);
    const auto with_bos = spm->encode("Hello", true, false);
    ASSERT_FALSE(with_bos.empty());
    EXPECT_EQ(with_bos.front(), 1);
    EXPECT_EQ(std::vector<int32_t>(with_bos.begin() + 1, with_bos.end()), spm->encode("Hello", false, false));
    EXPECT_EQ(spm->decode(with_bos), "Hello");
    EXPECT_EQ(spm->encode("", true, false), std::vector<int32_t>{1});
    EXPECT_TRUE(spm->encode("", false, false).empty());

    const auto gpt2 = load_vocab("gpt-2");
    EXPECT_FALSE(gpt2->add_bos());
    EXPECT_EQ(gpt2->encode("Hello", true, false), gpt2->encode("Hello", false, false));
}

TEST(TokenizerSpecial, SentencePieceByteFallback) {
    const auto tok = load_vocab("llama-spm");
    // U+1F642 has no token of its own in Llama 2: four <0xNN> tokens.
    const auto ids = tok->encode("\xF0\x9F\x99\x82", false, false);
    ASSERT_EQ(ids.size(), 5u);  // "▁" then the four bytes
    EXPECT_EQ(tok->token_text(ids[1]), "<0xF0>");
    EXPECT_EQ(tok->token_bytes(ids[1]), "\xF0");
    EXPECT_EQ(tok->token_text(ids[4]), "<0x82>");
}

TEST(TokenizerSpecial, InvalidUtf8InputDoesNotBreakEncoding) {
    for (const char* vocab : {"gpt-2", "llama-spm"}) {
        const auto tok = load_vocab(vocab);
        const std::string text = "ok \xFF\xC3 done \xF4\x90\x80\x80 \xED\xA0\x80";  // llama.cpp aborts on F4 90 80 80
        const auto ids = tok->encode(text, false, false);
        EXPECT_FALSE(ids.empty()) << vocab;
        for (int32_t id : ids) EXPECT_TRUE(id >= 0 && id < tok->n_vocab());
    }
}

TEST(TokenizerThreads, ConcurrentEncodesAgree) {
    // encode() is const and shared between inference threads.
    const auto tok = load_vocab("starcoder");
    const std::string text = repeat("def f(x):\n    return x * 42  # 🙂 日本\n", 200);
    const std::vector<int32_t> expected = tok->encode(text, false, false);
    std::vector<std::vector<int32_t>> results(4);
    std::vector<std::thread> threads;
    for (auto& r : results) {
        threads.emplace_back([&tok, &text, &r] {
            for (int i = 0; i < 5; ++i) r = tok->encode(text, false, false);
        });
    }
    for (auto& t : threads) t.join();
    for (const auto& r : results) EXPECT_EQ(r, expected);
}

// ---- metadata errors: a minimal GGUF v3 with only metadata ---------------------

using worker::test::GgufWriter;

void expect_load_error(const GgufWriter& writer, const std::string& needle) {
    const std::vector<uint8_t> bytes = writer.build().bytes;
    const auto file = worker::gguf::File::parse(bytes.data(), bytes.size(), "synthetic.gguf");
    try {
        Tokenizer::from_gguf(*file);
        ADD_FAILURE() << "expected a load error naming " << needle;
    } catch (const worker::Error& e) {
        EXPECT_EQ(e.code(), CUDA_ERROR_MODEL_LOAD_FAILED);
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(TokenizerMetadata, UnsupportedModelIsALoadError) {
    GgufWriter w;
    w.add_string("tokenizer.ggml.model", "bert");
    w.add_string_array("tokenizer.ggml.tokens", {"a", "b"});
    expect_load_error(w, "tokenizer.ggml.model");
}

TEST(TokenizerMetadata, MissingTokensIsALoadError) {
    GgufWriter w;
    w.add_string("tokenizer.ggml.model", "llama");
    expect_load_error(w, "tokenizer.ggml.tokens");
}

TEST(TokenizerMetadata, UnknownPreTokenizerIsALoadError) {
    GgufWriter w;
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string("tokenizer.ggml.pre", "no-such-pre");
    w.add_string_array("tokenizer.ggml.tokens", {"a", "b", "ab"});
    w.add_string_array("tokenizer.ggml.merges", {"a b"});
    expect_load_error(w, "tokenizer.ggml.pre");
}

TEST(TokenizerMetadata, MissingMergesIsALoadError) {
    GgufWriter w;
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string_array("tokenizer.ggml.tokens", {"a", "b", "ab"});
    expect_load_error(w, "tokenizer.ggml.merges");
}

TEST(TokenizerMetadata, TinySyntheticBpeMergesByRank) {
    // Rank 0 "b c" beats rank 1 "a b": "abc" -> "a" + "bc", not "ab" + "c".
    GgufWriter w;
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string("tokenizer.ggml.pre", "gpt-2");
    w.add_string_array("tokenizer.ggml.tokens", {"a", "b", "c", "ab", "bc"});
    w.add_string_array("tokenizer.ggml.merges", {"b c", "a b"});
    const std::vector<uint8_t> bytes = w.build().bytes;
    const auto file = worker::gguf::File::parse(bytes.data(), bytes.size(), "synthetic.gguf");
    const auto tok = Tokenizer::from_gguf(*file);
    EXPECT_EQ(tok->encode("abc", false, false), (std::vector<int32_t>{0, 4}));
    EXPECT_EQ(tok->encode("ab", false, false), (std::vector<int32_t>{3}));
    EXPECT_EQ(tok->bos_id(), -1);
    EXPECT_THROW(tok->token_bytes(5), worker::Error);
}

}  // namespace
