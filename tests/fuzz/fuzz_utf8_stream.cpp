// libFuzzer target: Utf8Stream on arbitrary bytes cut into arbitrary chunks.
// Everything it hands out must be valid UTF-8, and for valid input the
// concatenation must equal the input exactly.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"

namespace {

bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t len = 0;
        uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > s.size()) return false;
        for (size_t k = 1; k < len; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += len;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    // The first byte seeds the chunk sizes; the rest is the byte stream.
    unsigned state = data[0];
    const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    worker::tokenizer::Utf8Stream stream;
    std::string out;
    size_t pos = 0;
    while (pos < input.size()) {
        state = state * 1103515245u + 12345u;
        const size_t chunk = 1 + (state >> 16) % 7;
        const std::string piece = stream.push(input.substr(pos, chunk));
        if (!valid_utf8(piece)) __builtin_trap();
        out += piece;
        pos += chunk;
    }
    const std::string tail = stream.finish();
    if (!valid_utf8(tail)) __builtin_trap();
    out += tail;
    if (valid_utf8(input) && out != input) __builtin_trap();
    return 0;
}
