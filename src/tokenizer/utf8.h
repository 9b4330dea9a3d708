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

// Text that is not well-formed UTF-8, read the way llama.cpp's decoder reads
// it (so that ids match llama.cpp's on such input too): a lead byte followed
// by the right number of continuation bytes is one code point, re-encoded in
// the shortest form (overlong forms shrink, surrogates stay as 3 bytes, values
// above U+10FFFF become U+FFFD); any other byte becomes U+FFFD.
std::string utf8_repair_like_llama(std::string_view text);

// The repaired text with each surrogate (ED A0..BF xx) replaced by U+E000, a
// character of the same length that PCRE2 accepts in UTF mode: offsets into
// the two strings stay interchangeable.
std::string utf8_without_surrogates(std::string_view repaired);

// Appends the UTF-8 encoding of a code point (< 0x110000).
void utf8_append(std::string& out, uint32_t cp);

// Decodes the well-formed sequence of `length` bytes at text[pos].
uint32_t utf8_decode(std::string_view text, size_t pos, size_t length);

}  // namespace worker::tokenizer
