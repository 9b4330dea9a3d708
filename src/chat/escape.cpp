#include "chat/escape.h"

#include <charconv>

#include "tokenizer/utf8.h"

namespace worker::chat {

namespace {

// `n` hex digits at s[pos] as a number.
EscapeError read_hex(std::string_view s, size_t& pos, size_t n, char32_t& value) {
    if (pos + n > s.size()) return EscapeError::ShortHex;
    unsigned v = 0;
    const auto res = std::from_chars(s.data() + pos, s.data() + pos + n, v, 16);
    if (res.ptr != s.data() + pos + n) return EscapeError::BadHex;
    pos += n;
    value = v;
    return EscapeError::None;
}

// The character a one-letter escape stands for, or 0 when `e` is not one.
char single_character(char e, EscapeSyntax syntax) {
    switch (e) {
        case '"':
        case '\\':
            return e;
        case 'b':
            return '\b';
        case 'f':
            return '\f';
        case 'n':
            return '\n';
        case 'r':
            return '\r';
        case 't':
            return '\t';
        default:
            break;
    }
    if (syntax == EscapeSyntax::Json) return e == '/' ? '/' : 0;
    switch (e) {
        case '\'':
            return '\'';
        case 'a':
            return '\a';
        case 'v':
            return '\v';
        default:
            return 0;
    }
}

// JSON's \uXXXX: a high surrogate followed by a \u low surrogate is one
// character; a lone surrogate is kept as it is.
EscapeError json_unicode(std::string_view s, size_t& pos, std::string& out) {
    char32_t c = 0;
    if (const EscapeError e = read_hex(s, pos, 4, c); e != EscapeError::None) return e;
    if (c >= 0xD800 && c < 0xDC00 && s.substr(pos, 2) == "\\u") {
        size_t after = pos + 2;
        char32_t low = 0;
        if (const EscapeError e = read_hex(s, after, 4, low); e != EscapeError::None) {
            pos = after;
            return e;
        }
        if (low >= 0xDC00 && low < 0xE000) {
            c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
            pos = after;
        }
    }
    tokenizer::utf8_append(out, c);
    return EscapeError::None;
}

// Python's escapes past the one-letter ones: hex, octal, line continuation.
EscapeError python_escape(std::string_view s, size_t& pos, char e, std::string& out) {
    char32_t c = 0;
    size_t hex_digits = 0;
    switch (e) {
        case '\n':
            return EscapeError::None;
        case 'x':
            hex_digits = 2;
            break;
        case 'u':
            hex_digits = 4;
            break;
        case 'U':
            hex_digits = 8;
            break;
        case 'N':
            return EscapeError::Unsupported;
        default:
            if (e < '0' || e > '7') {
                out += '\\';
                out += e;
                return EscapeError::None;
            }
            c = static_cast<char32_t>(e - '0');
            for (int k = 0; k < 2 && pos < s.size() && s[pos] >= '0' && s[pos] <= '7'; ++k) {
                c = c * 8 + static_cast<char32_t>(s[pos++] - '0');
            }
            tokenizer::utf8_append(out, c);
            return EscapeError::None;
    }
    if (const EscapeError error = read_hex(s, pos, hex_digits, c); error != EscapeError::None) return error;
    tokenizer::utf8_append(out, c);
    return EscapeError::None;
}

}  // namespace

EscapeError decode_escape(std::string_view s, size_t& pos, EscapeSyntax syntax, std::string& out) {
    if (pos >= s.size()) return EscapeError::Truncated;
    const char e = s[pos++];
    if (const char c = single_character(e, syntax)) {
        out += c;
        return EscapeError::None;
    }
    if (syntax == EscapeSyntax::Python) return python_escape(s, pos, e, out);
    if (e == 'u') return json_unicode(s, pos, out);
    return EscapeError::Unknown;
}

}  // namespace worker::chat
