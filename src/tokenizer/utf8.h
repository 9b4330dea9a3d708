// UTF-8 helpers shared by the tokenizers and the detokenizing stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace worker::tokenizer {

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

// Length of the sequence a lead byte announces (1 for stray continuation
// bytes, so that a scan always advances).
inline size_t utf8_sequence_length(uint8_t lead) {
    static constexpr uint8_t kLength[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return kLength[lead >> 4];
}

// Length of the well-formed sequence (Unicode table 3-7: no overlongs, no
// surrogates, nothing above U+10FFFF) that starts at text[pos], or 0 when the
// bytes there are not one. A sequence cut off by the end of text gives 0.
size_t utf8_valid_length(std::string_view text, size_t pos);

// True when the whole of text is well-formed UTF-8.
bool utf8_is_valid(std::string_view text);

// Copy of text in which every byte that does not start a well-formed sequence
// becomes U+FFFD (as llama.cpp does before pre-tokenizing), so that PCRE2 can
// match it in UTF mode without checking it again.
std::string utf8_sanitize(std::string_view text);

// Appends the UTF-8 encoding of a code point (< 0x110000).
void utf8_append(std::string& out, uint32_t cp);

// Decodes the well-formed sequence of `length` bytes at text[pos].
uint32_t utf8_decode(std::string_view text, size_t pos, size_t length);

}  // namespace worker::tokenizer
