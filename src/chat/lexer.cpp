#include "chat/lexer.h"

#include <charconv>

#include "chat/error.h"
#include "chat/escape.h"
#include "chat/pystr.h"

namespace worker::chat {

namespace {

[[noreturn]] void syntax(int line, const std::string& message) {
    throw TemplateError(TemplateError::Kind::Syntax, line, message);
}

// Line breaks (\r\n, \r, \n) become \n; one trailing newline goes (jinja2's
// keep_trailing_newline=False).
std::string normalize(std::string_view source) {
    std::string out;
    out.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            out += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        } else {
            out += source[i];
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

// Length of the whitespace character (str.isspace) at s[pos], 0 if none.
size_t space_at(std::string_view s, size_t pos) {
    if (pos >= s.size()) return 0;
    const auto lead = static_cast<unsigned char>(s[pos]);
    const size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    const std::u32string c = py::decode(s.substr(pos, len));
    return c.size() == 1 && py::is_space(c[0]) ? len : 0;
}

size_t skip_spaces(std::string_view s, size_t pos) {
    while (size_t n = space_at(s, pos)) pos += n;
    return pos;
}

// Python's str.rstrip() on UTF-8.
std::string_view rstrip(std::string_view s) {
    const std::u32string text = py::decode(s);
    size_t keep = text.size();
    while (keep > 0 && py::is_space(text[keep - 1])) --keep;
    return s.substr(0, py::encode(std::u32string_view(text).substr(0, keep)).size());
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Digits with single "_" separators, as jinja2's number rules allow.
size_t digits(std::string_view s, size_t pos) {
    const size_t start = pos;
    while (pos < s.size() && (is_digit(s[pos]) || (s[pos] == '_' && pos > start && pos + 1 < s.size() &&
                                                   is_digit(s[pos + 1]) && is_digit(s[pos - 1])))) {
        ++pos;
    }
    return pos;
}

// Python's unicode-escape decoding of a string literal's body.
std::string unescape(std::string_view body, int line) {
    std::string out;
    for (size_t i = 0; i < body.size();) {
        if (body[i] != '\\' || i + 1 >= body.size()) {
            out += body[i++];
            continue;
        }
        ++i;
        switch (decode_escape(body, i, EscapeSyntax::Python, out)) {
            case EscapeError::None:
                break;
            case EscapeError::Unsupported:
                throw TemplateError(TemplateError::Kind::Unsupported, line, "\\N{...} escape in a string");
            default:
                syntax(line, "truncated escape in a string");
        }
    }
    return out;
}

class Lexer {
public:
    Lexer(std::string source, const LexOptions& options) : s_(std::move(source)), opt_(options) {}

    std::vector<Token> run() {
        while (pos_ < s_.size()) {
            size_t at = s_.find('{', pos_);
            while (at != std::string::npos && at + 1 < s_.size() && s_[at + 1] != '{' && s_[at + 1] != '%' &&
                   s_[at + 1] != '#') {
                at = s_.find('{', at + 1);
            }
            if (at == std::string::npos || at + 1 >= s_.size()) {
                text(std::string_view(s_).substr(pos_));
                break;
            }
            tag(at);
        }
        push(Token::Type::End, "");
        return std::move(tokens_);
    }

private:
    void push(Token::Type type, std::string text) {
        Token t;
        t.type = type;
        t.text = std::move(text);
        t.line = line_;
        tokens_.push_back(std::move(t));
    }

    void text(std::string_view data) {
        if (!data.empty()) push(Token::Type::Text, std::string(data));
    }

    void count_lines(size_t from, size_t to) {
        for (size_t i = from; i < to; ++i) line_ += s_[i] == '\n';
    }

    // The template text before a tag at `at`, then the tag itself.
    void tag(size_t at) {
        const char kind = s_[at + 1];
        const char sign = at + 2 < s_.size() && (s_[at + 2] == '-' || s_[at + 2] == '+') ? s_[at + 2] : 0;
        std::string_view data = std::string_view(s_).substr(pos_, at - pos_);
        if (sign == '-') {
            data = rstrip(data);
        } else if (sign != '+' && opt_.lstrip_blocks && kind != '{') {
            const size_t line_start = data.rfind('\n') + 1;  // npos + 1 == 0
            if (line_start > 0 || line_starting_) {
                const std::string_view rest = data.substr(line_start);
                if (!rest.empty() && skip_spaces(rest, 0) == rest.size()) data = data.substr(0, line_start);
            }
        }
        text(data);
        count_lines(pos_, at);
        pos_ = at + 2 + (sign ? 1 : 0);
        if (kind == '#') return comment();
        if (kind == '%') check_raw();
        push(kind == '%' ? Token::Type::BlockBegin : Token::Type::VariableBegin, "");
        inside(kind == '%');
    }

    void comment() {
        const size_t end = s_.find("#}", pos_);
        if (end == std::string::npos) syntax(line_, "missing end of comment tag");
        const char sign = end > pos_ && (s_[end - 1] == '-' || s_[end - 1] == '+') ? s_[end - 1] : 0;
        count_lines(pos_, end);
        pos_ = end + 2;
        finish_tag(sign, true);
    }

    // After a closing delimiter: "-" strips following whitespace, "+" keeps
    // it, trim_blocks drops one newline after a block or comment tag.
    void finish_tag(char sign, bool block_like) {
        const size_t start = pos_;
        if (sign == '-') {
            pos_ = skip_spaces(s_, pos_);
        } else if (sign != '+' && block_like && opt_.trim_blocks && pos_ < s_.size() && s_[pos_] == '\n') {
            ++pos_;
        }
        count_lines(start, pos_);
        line_starting_ = pos_ > 0 && s_[pos_ - 1] == '\n';
    }

    void check_raw() {
        size_t p = skip_spaces(s_, pos_);
        if (s_.compare(p, 3, "raw") == 0 && (p + 3 >= s_.size() || !is_name_char(s_[p + 3]))) {
            throw TemplateError(TemplateError::Kind::Unsupported, line_, "{% raw %} block");
        }
    }

    // Tokens of an expression up to the closing delimiter.
    void inside(bool block) {
        std::string balance;
        while (true) {
            if (pos_ >= s_.size()) syntax(line_, block ? "unexpected end of template, expected '%}'" : "expected '}}'");
            if (balance.empty() && closes(block)) return;
            if (const size_t n = space_at(s_, pos_)) {
                line_ += s_[pos_] == '\n';
                pos_ += n;
                continue;
            }
            expression_token(balance);
        }
    }

    bool closes(bool block) {
        const std::string_view rest = std::string_view(s_).substr(pos_);
        const std::string_view end = block ? "%}" : "}}";
        char sign = 0;
        if (rest.substr(0, 2) == end) {
            pos_ += 2;
        } else if (rest.size() >= 3 && rest.substr(1, 2) == end && (rest[0] == '-' || (block && rest[0] == '+'))) {
            sign = rest[0];
            pos_ += 3;
        } else {
            return false;
        }
        push(block ? Token::Type::BlockEnd : Token::Type::VariableEnd, "");
        finish_tag(sign, block);
        return true;
    }

    void expression_token(std::string& balance) {
        const char c = s_[pos_];
        if (is_digit(c)) return number();
        if (is_name_start(c)) {
            size_t end = pos_;
            while (end < s_.size() && is_name_char(s_[end])) ++end;
            push(Token::Type::Name, s_.substr(pos_, end - pos_));
            pos_ = end;
            return;
        }
        if (c == '\'' || c == '"') return string_literal(c);
        operator_token(balance);
    }

    void number() {
        size_t end = digits(s_, pos_);
        bool is_float = false;
        if (end + 1 < s_.size() && s_[end] == '.' && is_digit(s_[end + 1])) {
            end = digits(s_, end + 1);
            is_float = true;
        }
        if (end < s_.size() && (s_[end] == 'e' || s_[end] == 'E')) {
            size_t e = end + 1;
            if (e < s_.size() && (s_[e] == '+' || s_[e] == '-')) ++e;
            if (e < s_.size() && is_digit(s_[e])) {
                end = digits(s_, e);
                is_float = true;
            }
        }
        std::string literal;
        for (size_t i = pos_; i < end; ++i) {
            if (s_[i] != '_') literal += s_[i];
        }
        push(is_float ? Token::Type::Float : Token::Type::Integer, literal);
        if (is_float) {
            std::from_chars(literal.data(), literal.data() + literal.size(), tokens_.back().number);
        } else if (std::from_chars(literal.data(), literal.data() + literal.size(), tokens_.back().integer).ec !=
                   std::errc()) {
            throw TemplateError(TemplateError::Kind::Unsupported, line_, "integer literal beyond 64 bits");
        }
        pos_ = end;
    }

    void string_literal(char quote) {
        const int start_line = line_;
        size_t i = pos_ + 1;
        while (i < s_.size() && s_[i] != quote) {
            if (s_[i] == '\\') ++i;
            ++i;
        }
        if (i >= s_.size()) syntax(start_line, "unterminated string");
        count_lines(pos_, i);
        push(Token::Type::String, unescape(std::string_view(s_).substr(pos_ + 1, i - pos_ - 1), start_line));
        tokens_.back().line = start_line;
        pos_ = i + 1;
    }

    void operator_token(std::string& balance) {
        static const char* const kOps[] = {"**", "//", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[",
                                           "]",  "(",  ")",  "{",  "}",  ">",  "<", "=", ".", ":", "|", ",", ";"};
        for (const char* op : kOps) {
            const std::string_view o(op);
            if (s_.compare(pos_, o.size(), o) != 0) continue;
            if (o == "(" || o == "[" || o == "{") {
                balance += o == "(" ? ')' : o == "[" ? ']' : '}';
            } else if (o == ")" || o == "]" || o == "}") {
                if (balance.empty()) syntax(line_, "unexpected '" + std::string(o) + "'");
                if (balance.back() != o[0]) {
                    syntax(line_, "unexpected '" + std::string(o) + "', expected '" + balance.back() + "'");
                }
                balance.pop_back();
            }
            push(Token::Type::Operator, std::string(o));
            pos_ += o.size();
            return;
        }
        syntax(line_, "unexpected char '" + std::string(1, s_[pos_]) + "'");
    }

    std::string s_;
    LexOptions opt_;
    size_t pos_ = 0;
    int line_ = 1;
    bool line_starting_ = true;
    std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexOptions& options) {
    return Lexer(normalize(source), options).run();
}

}  // namespace worker::chat
