// Splits a template into tokens the way jinja2's lexer does: template text,
// {{ }} / {% %} delimiters and the names, literals and operators between
// them; {# #} comments dropped. Whitespace control follows jinja2: "-" strips
// all whitespace on that side, "+" keeps it, and with trim_blocks the first
// newline after a block or comment tag goes, with lstrip_blocks the spaces and
// tabs before one on its line. As in jinja2, line breaks become "\n" and one
// trailing newline of the source is dropped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace worker::chat {

struct LexOptions {
    bool trim_blocks = true;
    bool lstrip_blocks = true;
};

struct Token {
    enum class Type {
        Text,
        VariableBegin,
        VariableEnd,
        BlockBegin,
        BlockEnd,
        Name,
        String,
        Integer,
        Float,
        Operator,
        End
    };
    Type type = Type::End;
    std::string text;  // Text, Name, String (unescaped), Operator
    int64_t integer = 0;
    double number = 0;
    int line = 1;

    bool is(Type t, std::string_view s) const { return type == t && text == s; }
    bool is_name(std::string_view s) const { return is(Type::Name, s); }
    bool is_op(std::string_view s) const { return is(Type::Operator, s); }
};

// Throws TemplateError (Syntax) for an unterminated tag, comment or string or
// an unknown character; (Unsupported) for {% raw %}.
std::vector<Token> tokenize(std::string_view source, const LexOptions& options);

}  // namespace worker::chat
