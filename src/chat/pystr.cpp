#include "chat/pystr.h"

#include <locale.h>
#include <wctype.h>

#include <charconv>
#include <cmath>
#include <cstdio>

#include "chat/error.h"

namespace worker::chat::py {

namespace {

// Case mapping comes from the C library's C.UTF-8 tables (simple case
// mapping); without that locale only ASCII letters change case.
locale_t utf8_locale() {
    static const locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
    return loc;
}

size_t sequence_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if ((lead & 0xE0) == 0xC0) return 2;
    if ((lead & 0xF0) == 0xE0) return 3;
    if ((lead & 0xF8) == 0xF0) return 4;
    return 0;
}

bool in_chars(char32_t c, const std::u32string& chars) { return chars.find(c) != std::u32string::npos; }

std::vector<std::string> split_whitespace(const std::u32string& s, int64_t maxsplit) {
    std::vector<std::string> out;
    size_t i = 0;
    const size_t n = s.size();
    while (true) {
        while (i < n && is_space(s[i])) ++i;
        if (i == n) break;
        if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
            out.push_back(encode(s.substr(i)));
            break;
        }
        size_t j = i;
        while (j < n && !is_space(s[j])) ++j;
        out.push_back(encode(s.substr(i, j - i)));
        i = j;
    }
    return out;
}

std::vector<std::string> rsplit_whitespace(const std::u32string& s, int64_t maxsplit) {
    std::vector<std::string> out;
    size_t end = s.size();
    while (true) {
        while (end > 0 && is_space(s[end - 1])) --end;
        if (end == 0) break;
        if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
            out.push_back(encode(s.substr(0, end)));
            break;
        }
        size_t start = end;
        while (start > 0 && !is_space(s[start - 1])) --start;
        out.push_back(encode(s.substr(start, end - start)));
        end = start;
    }
    return {out.rbegin(), out.rend()};
}

}  // namespace

std::u32string decode(std::string_view utf8) {
    std::u32string out;
    out.reserve(utf8.size());
    for (size_t i = 0; i < utf8.size();) {
        const auto lead = static_cast<unsigned char>(utf8[i]);
        const size_t len = sequence_length(lead);
        if (len == 0 || i + len > utf8.size()) {
            out += U'\uFFFD';
            ++i;
            continue;
        }
        char32_t c = len == 1 ? lead : lead & (0x7F >> len);
        bool ok = true;
        for (size_t k = 1; k < len; ++k) {
            const auto b = static_cast<unsigned char>(utf8[i + k]);
            if ((b & 0xC0) != 0x80) ok = false;
            c = (c << 6) | (b & 0x3F);
        }
        out += ok ? c : U'\uFFFD';
        i += ok ? len : 1;
    }
    return out;
}

std::string encode(std::u32string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char32_t c : text) append_utf8(out, c);
    return out;
}

size_t length(std::string_view utf8) {
    size_t n = 0;
    for (char c : utf8) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

bool is_space(char32_t c) {
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

char32_t to_upper(char32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
    const locale_t loc = utf8_locale();
    return loc ? static_cast<char32_t>(towupper_l(static_cast<wint_t>(c), loc)) : c;
}

char32_t to_lower(char32_t c) {
    if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    const locale_t loc = utf8_locale();
    return loc ? static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), loc)) : c;
}

bool is_cased(char32_t c) { return to_upper(c) != c || to_lower(c) != c; }

std::string upper(std::string_view s) {
    std::string out;
    for (char32_t c : decode(s)) {
        if (c == U'\u00DF') {
            out += "SS";  // the one full case mapping Python applies that is common
        } else {
            append_utf8(out, to_upper(c));
        }
    }
    return out;
}

std::string lower(std::string_view s) {
    std::string out;
    for (char32_t c : decode(s)) append_utf8(out, to_lower(c));
    return out;
}

std::string capitalize(std::string_view s) {
    std::u32string text = decode(s);
    for (size_t i = 0; i < text.size(); ++i) text[i] = i == 0 ? to_upper(text[i]) : to_lower(text[i]);
    return encode(text);
}

std::string title(std::string_view s) {
    std::u32string text = decode(s);
    bool previous_cased = false;
    for (char32_t& c : text) {
        if (is_cased(c)) {
            c = previous_cased ? to_lower(c) : to_upper(c);
            previous_cased = true;
        } else {
            previous_cased = false;
        }
    }
    return encode(text);
}

std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
    const std::u32string text = decode(s);
    const std::u32string set = chars ? decode(*chars) : std::u32string();
    auto strippable = [&](char32_t c) { return chars ? in_chars(c, set) : is_space(c); };
    size_t begin = 0;
    size_t end = text.size();
    if (left) {
        while (begin < end && strippable(text[begin])) ++begin;
    }
    if (right) {
        while (end > begin && strippable(text[end - 1])) --end;
    }
    return encode(std::u32string_view(text).substr(begin, end - begin));
}

std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
    if (!sep) return split_whitespace(decode(s), maxsplit);
    if (sep->empty()) runtime_error("ValueError: empty separator");
    std::vector<std::string> out;
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
        const size_t at = s.find(*sep, start);
        if (at == std::string_view::npos) break;
        out.emplace_back(s.substr(start, at - start));
        start = at + sep->size();
    }
    out.emplace_back(s.substr(start));
    return out;
}

std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
    if (!sep) return rsplit_whitespace(decode(s), maxsplit);
    if (sep->empty()) runtime_error("ValueError: empty separator");
    std::vector<std::string> out;
    size_t end = s.size();
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
        if (end < sep->size()) break;
        const size_t at = s.rfind(*sep, end - sep->size());
        if (at == std::string_view::npos) break;
        out.emplace_back(s.substr(at + sep->size(), end - at - sep->size()));
        end = at;
    }
    out.emplace_back(s.substr(0, end));
    return {out.rbegin(), out.rend()};
}

std::string replace(std::string_view s, std::string_view old_text, std::string_view new_text, int64_t count) {
    std::string out;
    if (old_text.empty()) {  // Python inserts new_text before every character and at the end
        const std::u32string text = decode(s);
        int64_t done = 0;
        for (char32_t c : text) {
            if (count < 0 || done < count) out += new_text, ++done;
            append_utf8(out, c);
            check_text_size(out.size(), "a replaced string");
        }
        if (count < 0 || done < count) out += new_text;
        return out;
    }
    size_t start = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        const size_t at = s.find(old_text, start);
        if (at == std::string_view::npos) break;
        out.append(s.substr(start, at - start));
        out.append(new_text);
        check_text_size(out.size(), "a replaced string");
        start = at + old_text.size();
        ++done;
    }
    out.append(s.substr(start));
    return out;
}

int64_t find(std::string_view s, std::string_view sub) {
    const size_t at = s.find(sub);
    return at == std::string_view::npos ? -1 : static_cast<int64_t>(length(s.substr(0, at)));
}

int64_t count(std::string_view s, std::string_view sub) {
    if (sub.empty()) return static_cast<int64_t>(length(s)) + 1;
    int64_t n = 0;
    for (size_t at = s.find(sub); at != std::string_view::npos; at = s.find(sub, at + sub.size())) ++n;
    return n;
}

std::string repr(std::string_view s) {
    const bool has_single = s.find('\'') != std::string_view::npos;
    const bool has_double = s.find('"') != std::string_view::npos;
    const char quote = has_single && !has_double ? '"' : '\'';
    std::string out(1, quote);
    char buf[16];
    for (char32_t c : decode(s)) {
        if (c == static_cast<char32_t>(quote) || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD) {
            std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
            out += buf;
        } else if ((c > 0xA0 && is_space(c)) || (c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) ||
                   (c >= 0x2060 && c <= 0x2064) || c == 0xFEFF || (c >= 0xD800 && c <= 0xDFFF)) {
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
            out += buf;
        } else {
            append_utf8(out, c);
        }
    }
    out += quote;
    return out;
}

std::string float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
    if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
    // Shortest round-trip digits and exponent, laid out as Python's repr does.
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    const std::string sci(buf, res.ptr);
    const size_t e = sci.find('e');
    std::string mantissa = sci.substr(0, e);
    const int exponent = std::stoi(sci.substr(e + 1));
    const bool negative = mantissa[0] == '-';
    if (negative) mantissa.erase(0, 1);
    std::string digits;
    for (char c : mantissa) {
        if (c != '.') digits += c;
    }
    const int decpt = exponent + 1;  // value = 0.digits * 10^decpt
    std::string out = negative ? "-" : "";
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
        } else if (static_cast<size_t>(decpt) >= digits.size()) {
            out += digits + std::string(static_cast<size_t>(decpt) - digits.size(), '0') + ".0";
        } else {
            out += digits.substr(0, static_cast<size_t>(decpt)) + "." + digits.substr(static_cast<size_t>(decpt));
        }
        return out;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1) {
        out += '.';
        out += digits.substr(1);
    }
    std::snprintf(buf, sizeof buf, "e%c%02d", exponent < 0 ? '-' : '+', exponent < 0 ? -exponent : exponent);
    return out + buf;
}

}  // namespace worker::chat::py
