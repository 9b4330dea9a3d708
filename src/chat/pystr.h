// Python's str operations on UTF-8 text, as jinja2 templates see them:
// strings are sequences of code points, whitespace is str.isspace(), floats
// print as repr() does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/utf8.h"

namespace worker::chat::py {

// UTF-8 <-> code points. Invalid bytes decode as U+FFFD.
std::u32string decode(std::string_view utf8);
std::string encode(std::u32string_view text);
inline void append_utf8(std::string& out, char32_t c) { tokenizer::utf8_append(out, static_cast<uint32_t>(c)); }
size_t length(std::string_view utf8);  // in code points

bool is_space(char32_t c);  // str.isspace()
char32_t to_upper(char32_t c);
char32_t to_lower(char32_t c);
bool is_cased(char32_t c);

std::string upper(std::string_view s);       // str.upper()
std::string lower(std::string_view s);       // str.lower()
std::string capitalize(std::string_view s);  // str.capitalize()
std::string title(std::string_view s);       // str.title()

// str.strip/lstrip/rstrip; chars == nullopt strips whitespace.
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// str.split / str.rsplit; sep == nullopt splits on runs of whitespace.
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
// str.replace(old, new, count); count < 0 replaces all.
std::string replace(std::string_view s, std::string_view old_text, std::string_view new_text, int64_t count);
// str.find / str.count.
int64_t find(std::string_view s, std::string_view sub);
int64_t count(std::string_view s, std::string_view sub);

// repr() of a str: quoted and escaped the way Python does it.
std::string repr(std::string_view s);
// repr() of a float: the shortest text that reads back, "1.0", "1e-05", "inf".
std::string float_repr(double d);

}  // namespace worker::chat::py
