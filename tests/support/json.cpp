#include "support/json.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "chat/escape.h"

namespace worker::test {

class JsonParser {
public:
    explicit JsonParser(const std::string& text) : s_(text) {}

    Json document() {
        Json v = value();
        skip_space();
        if (pos_ != s_.size()) error("trailing characters");
        return v;
    }

private:
    [[noreturn]] void error(const std::string& what) const {
        throw std::runtime_error("JSON: " + what + " at offset " + std::to_string(pos_));
    }
    void skip_space() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) {
            ++pos_;
        }
    }
    bool eat(char c) {
        skip_space();
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!eat(c)) error(std::string("expected '") + c + "'");
    }
    bool literal(const char* word) {
        const std::string w(word);
        if (s_.compare(pos_, w.size(), w) != 0) return false;
        pos_ += w.size();
        return true;
    }

    Json value() {
        skip_space();
        if (pos_ >= s_.size()) error("unexpected end");
        Json v;
        const char c = s_[pos_];
        if (c == '{') {
            ++pos_;
            v.kind_ = Json::Kind::Object;
            if (eat('}')) return v;
            do {
                skip_space();
                std::string key = string();
                expect(':');
                v.members_[key] = value();
            } while (eat(','));
            expect('}');
        } else if (c == '[') {
            ++pos_;
            v.kind_ = Json::Kind::Array;
            if (eat(']')) return v;
            do v.items_.push_back(value());
            while (eat(','));
            expect(']');
        } else if (c == '"') {
            v.kind_ = Json::Kind::String;
            v.text_ = string();
        } else if (literal("true") || literal("false")) {
            v.kind_ = Json::Kind::Bool;
            v.bool_ = s_[pos_ - 1] == 'e' && s_[pos_ - 2] == 'u';
        } else if (literal("null")) {
            v.kind_ = Json::Kind::Null;
        } else {
            const size_t start = pos_;
            while (pos_ < s_.size() && std::string("+-0123456789.eE").find(s_[pos_]) != std::string::npos) ++pos_;
            if (start == pos_) error("unexpected character");
            v.kind_ = Json::Kind::Number;
            v.text_ = s_.substr(start, pos_ - start);
            v.number_ = std::strtod(v.text_.c_str(), nullptr);
        }
        return v;
    }

    std::string string() {
        if (pos_ >= s_.size() || s_[pos_] != '"') error("expected a string");
        ++pos_;
        std::string out;
        while (true) {
            if (pos_ >= s_.size()) error("unterminated string");
            const char c = s_[pos_++];
            if (c == '"') return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            switch (chat::decode_escape(s_, pos_, chat::EscapeSyntax::Json, out)) {
                case chat::EscapeError::None:
                    break;
                case chat::EscapeError::Truncated:
                    error("unterminated escape");
                case chat::EscapeError::ShortHex:
                case chat::EscapeError::BadHex:
                    error("bad \\u escape");
                default:
                    error("bad escape");
            }
        }
    }

    const std::string& s_;
    size_t pos_ = 0;
};

Json Json::parse(const std::string& text) { return JsonParser(text).document(); }

Json Json::parse_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return parse(text.str());
}

namespace {
[[noreturn]] void mismatch(const char* wanted) { throw std::runtime_error(std::string("JSON value is not ") + wanted); }
}  // namespace

bool Json::as_bool() const {
    if (kind_ != Kind::Bool) mismatch("a bool");
    return bool_;
}

double Json::as_number() const {
    if (kind_ != Kind::Number) mismatch("a number");
    return number_;
}

uint64_t Json::as_u64() const {
    if (kind_ != Kind::Number || text_.find_first_of("-.eE") != std::string::npos) mismatch("an unsigned integer");
    return std::stoull(text_);
}

int64_t Json::as_i64() const {
    if (kind_ != Kind::Number || text_.find_first_of(".eE") != std::string::npos) mismatch("an integer");
    return std::stoll(text_);
}

const std::string& Json::as_string() const {
    if (kind_ != Kind::String) mismatch("a string");
    return text_;
}

const std::vector<Json>& Json::items() const {
    if (kind_ != Kind::Array) mismatch("an array");
    return items_;
}

const std::map<std::string, Json>& Json::members() const {
    if (kind_ != Kind::Object) mismatch("an object");
    return members_;
}

const Json& Json::operator[](const std::string& key) const {
    const auto it = members().find(key);
    if (it == members_.end()) throw std::runtime_error("JSON object has no member '" + key + "'");
    return it->second;
}

bool Json::contains(const std::string& key) const { return members().count(key) != 0; }

}  // namespace worker::test
