// Utf8Stream and streamed detokenization: only whole, valid UTF-8 characters
// leave the stream, invalid bytes become U+FFFD, nothing is lost at the end.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "support/test_models.h"
#include "tokenizer/tokenizer.h"

namespace {

using worker::tokenizer::Tokenizer;
using worker::tokenizer::Utf8Stream;

// A strict UTF-8 check written independently of the library's (RFC 3629).
bool valid_utf8(const std::string& s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t n = 0;
        unsigned cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t k = 1; k <= n; ++k) {
            if (i + k >= s.size()) return false;
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        static const unsigned kMin[] = {0, 0x80, 0x800, 0x10000};
        if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

std::string unhex(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

// Expected outputs are Python's bytes.decode("utf-8", errors="replace"),
// which replaces maximal subparts (Unicode's recommended practice).
struct Case {
    const char* input_hex;
    const char* expected_hex;
};
constexpr Case kPythonReplace[] = {
    {"e282", "efbfbd"},
    {"e282ac", "e282ac"},
    {"61ff62", "61efbfbd62"},
    {"f09f99", "efbfbd"},
    {"f09f998278", "f09f998278"},
    {"eda080", "efbfbdefbfbdefbfbd"},
    {"c0af", "efbfbdefbfbd"},
    {"f4908080", "efbfbdefbfbdefbfbdefbfbd"},
    {"e08080", "efbfbdefbfbdefbfbd"},
    {"e28261", "efbfbd61"},
    {"8080", "efbfbdefbfbd"},
    {"f09f99e282ac", "efbfbde282ac"},
};

TEST(Utf8Stream, ReplacesLikePythonWhetherPushedWholeOrByteByByte) {
    for (const Case& c : kPythonReplace) {
        const std::string input = unhex(c.input_hex);
        const std::string expected = unhex(c.expected_hex);
        Utf8Stream whole;
        std::string at_once = whole.push(input);  // push before finish: operands of + are unsequenced
        at_once += whole.finish();
        EXPECT_EQ(at_once, expected) << c.input_hex;
        Utf8Stream bytewise;
        std::string out;
        for (char b : input) {
            const std::string piece = bytewise.push(std::string(1, b));
            EXPECT_TRUE(valid_utf8(piece)) << c.input_hex;
            out += piece;
        }
        out += bytewise.finish();
        EXPECT_EQ(out, expected) << c.input_hex;
    }
}

TEST(Utf8Stream, HoldsPartialCharacterUntilComplete) {
    Utf8Stream s;
    EXPECT_EQ(s.push("a\xF0\x9F"), "a");
    EXPECT_EQ(s.push("\x99"), "");
    EXPECT_EQ(s.push("\x82!"), "\xF0\x9F\x99\x82!");
    EXPECT_EQ(s.finish(), "");
}

TEST(Utf8Stream, FinishFlushesTruncatedTailAndResets) {
    Utf8Stream s;
    EXPECT_EQ(s.push("x\xE2\x82"), "x");
    EXPECT_EQ(s.finish(), "\xEF\xBF\xBD");
    EXPECT_EQ(s.push("\xAC"), "\xEF\xBF\xBD");  // a lone continuation byte after the reset
    EXPECT_EQ(s.finish(), "");
}

// Random token sequences of a vocabulary, half of them drawn from tokens whose
// bytes are not whole characters (byte-level pieces, <0xNN> tokens).
void check_streaming(const std::string& model_path, int rounds) {
    const auto file = worker::gguf::File::open(model_path);
    const auto tok = Tokenizer::from_gguf(*file);
    std::vector<int32_t> partial;
    for (int32_t id = 0; id < tok->n_vocab(); ++id) {
        if (!valid_utf8(tok->token_bytes(id))) partial.push_back(id);
    }
    ASSERT_FALSE(partial.empty()) << "the vocabulary should have pieces that split characters";

    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> any(0, tok->n_vocab() - 1);
    std::uniform_int_distribution<size_t> pick(0, partial.size() - 1);
    std::uniform_int_distribution<int> length(1, 48);
    int valid_sequences = 0;
    for (int round = 0; round < rounds; ++round) {
        std::vector<int32_t> ids(length(rng));
        for (int32_t& id : ids) id = (rng() & 1) ? partial[pick(rng)] : any(rng);

        Utf8Stream stream;
        std::string streamed;
        for (int32_t id : ids) {
            const std::string piece = stream.push(tok->token_bytes(id));
            ASSERT_TRUE(valid_utf8(piece)) << "round " << round;
            streamed += piece;
        }
        const std::string tail = stream.finish();
        ASSERT_TRUE(valid_utf8(tail));
        streamed += tail;

        std::string all_bytes;
        for (int32_t id : ids) all_bytes += tok->token_bytes(id);
        Utf8Stream whole;
        std::string at_once = whole.push(all_bytes);
        at_once += whole.finish();
        EXPECT_EQ(streamed, at_once) << "round " << round;
        if (valid_utf8(all_bytes)) {
            ++valid_sequences;
            EXPECT_EQ(streamed, all_bytes) << "round " << round;
        }
    }
    // Make sure the equality with the raw bytes was exercised, too.
    EXPECT_GT(valid_sequences, 0);
}

TEST(TokenStreaming, ByteLevelBpePiecesConcatenateToTheFullText) {
    check_streaming(worker::test::shared_testdata("vocab/ggml-vocab-gpt-2.gguf"), 2000);
}

TEST(TokenStreaming, SentencePieceByteFallbackConcatenatesToTheFullText) {
    check_streaming(worker::test::shared_testdata("vocab/ggml-vocab-llama-spm.gguf"), 2000);
}

TEST(TokenStreaming, EncodedTextStreamsBackExactly) {
    // Emoji and CJK split over several byte-level tokens.
    const std::string text = "Hi 🙂🙃 漢字かな 👩‍👩‍👧 é, ñ";
    for (const char* vocab : {"gpt-2", "llama-spm"}) {
        const auto file =
            worker::gguf::File::open(worker::test::shared_testdata(std::string("vocab/ggml-vocab-") + vocab + ".gguf"));
        const auto tok = Tokenizer::from_gguf(*file);
        const auto ids = tok->encode(text, false, false);
        Utf8Stream stream;
        std::string streamed;
        for (int32_t id : ids) {
            const std::string piece = stream.push(tok->token_bytes(id));
            EXPECT_TRUE(valid_utf8(piece));
            streamed += piece;
        }
        streamed += stream.finish();
        EXPECT_EQ(tok->decode(ids), text) << vocab;
        // SentencePiece's streamed text keeps the space its encoder put first.
        EXPECT_EQ(streamed, std::string(vocab) == "gpt-2" ? text : " " + text) << vocab;
    }
}

}  // namespace
