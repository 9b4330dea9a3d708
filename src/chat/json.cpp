#include "chat/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "chat/error.h"
#include "chat/escape.h"
#include "chat/pystr.h"

namespace worker::chat {

namespace {

void append_escaped(std::string& out, std::string_view s, bool ensure_ascii) {
    char buf[16];
    out += '"';
    for (char32_t c : py::decode(s)) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (c < 0x20 || (ensure_ascii && c >= 0x7F && c < 0x10000)) {
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else if (ensure_ascii && c >= 0x10000) {
                    const char32_t v = c - 0x10000;
                    std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                                  static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
                    out += buf;
                } else {
                    py::append_utf8(out, c);
                }
        }
    }
    out += '"';
}

std::string float_json(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
    return py::float_repr(d);
}

// json.dumps turns str, int, float, bool and None keys into strings.
std::string key_text(const Value& key) {
    switch (key.kind()) {
        case Value::Kind::String:
            return key.as_string();
        case Value::Kind::Bool:
            return key.as_bool() ? "true" : "false";
        case Value::Kind::Int:
            return std::to_string(key.as_int());
        case Value::Kind::Float:
            return float_json(key.as_float());
        case Value::Kind::None:
            return "null";
        default:
            runtime_error("TypeError: keys must be str, int, float, bool or None, not " + key.type_name());
    }
}

class Writer {
public:
    explicit Writer(const JsonOptions& options) : opt_(options) {
        item_sep_ = options.item_separator.value_or(options.indent ? "," : ", ");
        key_sep_ = options.key_separator.value_or(": ");
    }

    void write(const Value& v, int level) {
        // Python's json module fails with RecursionError about as deep.
        if (level > 900) runtime_error("RecursionError: maximum recursion depth exceeded while encoding a JSON object");
        switch (v.kind()) {
            case Value::Kind::None:
                out += "null";
                return;
            case Value::Kind::Bool:
                out += v.as_bool() ? "true" : "false";
                return;
            case Value::Kind::Int:
                out += std::to_string(v.as_int());
                return;
            case Value::Kind::Float:
                out += float_json(v.as_float());
                return;
            case Value::Kind::String:
                append_escaped(out, v.as_string(), opt_.ensure_ascii);
                return;
            case Value::Kind::List:
            case Value::Kind::Tuple:
                write_array(v.items(), level);
                return;
            case Value::Kind::Dict:
                write_object(v.dict(), level);
                return;
            default:
                runtime_error("TypeError: Object of type " + v.type_name() + " is not JSON serializable");
        }
    }

    std::string out;

private:
    void newline(int level) {
        if (!opt_.indent) return;
        out += '\n';
        out.append(static_cast<size_t>(std::max(0, *opt_.indent) * level), ' ');
    }

    void write_array(const std::vector<Value>& items, int level) {
        if (items.empty()) {
            out += "[]";
            return;
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
            if (i) out += item_sep_;
            newline(level + 1);
            write(items[i], level + 1);
            check_text_size(out.size(), "a JSON text");
        }
        newline(level);
        out += ']';
    }

    void write_object(const Dict& dict, int level) {
        if (dict.size() == 0) {
            out += "{}";
            return;
        }
        std::vector<std::pair<std::string, const Value*>> entries;
        for (const auto& [key, value] : dict.entries()) entries.emplace_back(key_text(key), &value);
        if (opt_.sort_keys) {
            std::stable_sort(entries.begin(), entries.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; });
        }
        out += '{';
        for (size_t i = 0; i < entries.size(); ++i) {
            if (i) out += item_sep_;
            newline(level + 1);
            append_escaped(out, entries[i].first, opt_.ensure_ascii);
            out += key_sep_;
            write(*entries[i].second, level + 1);
            check_text_size(out.size(), "a JSON text");
        }
        newline(level);
        out += '}';
    }

    const JsonOptions& opt_;
    std::string item_sep_;
    std::string key_sep_;
};

class Reader {
public:
    explicit Reader(std::string_view text) : s_(text) {}

    Value document() {
        Value v = value();
        skip_space();
        if (pos_ != s_.size()) fail("trailing data");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) {
        runtime_error("invalid JSON at offset " + std::to_string(pos_) + ": " + what);
    }

    void skip_space() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
            ++pos_;
        }
    }

    bool literal(std::string_view word) {
        if (s_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }

    Value value() {
        if (++depth_ > 512) fail("nested too deeply");
        skip_space();
        if (pos_ >= s_.size()) fail("unexpected end");
        Value v;
        const char c = s_[pos_];
        if (c == '{') {
            v = object();
        } else if (c == '[') {
            v = array();
        } else if (c == '"') {
            v = Value::string(string());
        } else if (literal("true")) {
            v = Value::boolean(true);
        } else if (literal("false")) {
            v = Value::boolean(false);
        } else if (literal("null")) {
            v = Value::none();
        } else {
            v = number();
        }
        --depth_;
        return v;
    }

    Value object() {
        ++pos_;
        Dict dict;
        skip_space();
        if (pos_ < s_.size() && s_[pos_] == '}') return ++pos_, Value::dict(std::move(dict));
        while (true) {
            skip_space();
            if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a key");
            Value key = Value::string(string());
            skip_space();
            if (pos_ >= s_.size() || s_[pos_] != ':') fail("expected ':'");
            ++pos_;
            dict.set(key, value());
            skip_space();
            if (pos_ < s_.size() && s_[pos_] == ',') {
                ++pos_;
            } else if (pos_ < s_.size() && s_[pos_] == '}') {
                ++pos_;
                return Value::dict(std::move(dict));
            } else {
                fail("expected ',' or '}'");
            }
        }
    }

    Value array() {
        ++pos_;
        std::vector<Value> items;
        skip_space();
        if (pos_ < s_.size() && s_[pos_] == ']') return ++pos_, Value::list(std::move(items));
        while (true) {
            items.push_back(value());
            skip_space();
            if (pos_ < s_.size() && s_[pos_] == ',') {
                ++pos_;
            } else if (pos_ < s_.size() && s_[pos_] == ']') {
                ++pos_;
                return Value::list(std::move(items));
            } else {
                fail("expected ',' or ']'");
            }
        }
    }

    std::string string() {
        ++pos_;
        std::string out;
        while (true) {
            if (pos_ >= s_.size()) fail("unterminated string");
            const char c = s_[pos_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
            if (c != '\\') {
                out += c;
                continue;
            }
            switch (decode_escape(s_, pos_, EscapeSyntax::Json, out)) {
                case EscapeError::None:
                    break;
                case EscapeError::Truncated:
                    fail("unterminated escape");
                case EscapeError::ShortHex:
                    fail("short \\u escape");
                case EscapeError::BadHex:
                    fail("bad \\u escape");
                default:
                    fail("bad escape");
            }
        }
    }

    Value number() {
        const size_t start = pos_;
        if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
        bool is_float = false;
        while (pos_ < s_.size()) {
            const char c = s_[pos_];
            if (c == '.' || c == 'e' || c == 'E' || c == '+' || (c == '-' && pos_ > start)) {
                is_float = true;
            } else if (c < '0' || c > '9') {
                break;
            }
            ++pos_;
        }
        const char* first = s_.data() + start;
        const char* last = s_.data() + pos_;
        if (first == last) fail("unexpected character");
        if (!is_float) {
            int64_t i = 0;
            const auto res = std::from_chars(first, last, i);
            if (res.ec == std::errc() && res.ptr == last) return Value::integer(i);
        }
        double d = 0;
        const auto res = std::from_chars(first, last, d);
        if (res.ptr != last) fail("bad number");
        return Value::number(d);
    }

    std::string_view s_;
    size_t pos_ = 0;
    int depth_ = 0;
};

}  // namespace

std::string to_json(const Value& value, const JsonOptions& options) {
    Writer writer(options);
    writer.write(value, 0);
    return std::move(writer.out);
}

Value parse_json(std::string_view text) { return Reader(text).document(); }

}  // namespace worker::chat
