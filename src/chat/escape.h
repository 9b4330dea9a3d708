// Backslash escapes in string literals, decoded once for the three readers
// that need them: the template lexer (Python's string-literal escapes, as
// jinja2 reads them), the JSON reader of chat/json.cpp, and the JSON reader
// of the test data (tests/support/json.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace worker::chat {

enum class EscapeSyntax {
    Json,    // \" \\ \/ \b \f \n \r \t \uXXXX (a UTF-16 surrogate pair makes one character)
    Python,  // \\ \' \" \a \b \f \n \r \t \v \xXX \uXXXX \UXXXXXXXX, octal, line continuation;
             // any other escape stays as written
};

enum class EscapeError {
    None,
    Truncated,    // the text ends right after the backslash
    ShortHex,     // fewer hex digits left than the escape takes
    BadHex,       // a character that is not a hex digit where one must be
    Unknown,      // not an escape of the syntax (JSON only)
    Unsupported,  // \N{name} (Python): names are not implemented
};

// Decodes the escape whose backslash is at s[pos - 1], appends what it
// stands for to `out` (code points as UTF-8) and moves `pos` past it. On an
// error nothing is appended and `pos` is just past what was read: after the
// escape's letter, or at the hex digits that are short or bad.
EscapeError decode_escape(std::string_view s, size_t& pos, EscapeSyntax syntax, std::string& out);

}  // namespace worker::chat
