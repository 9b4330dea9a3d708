// The expression half of the parser (internal): the token stream, and
// jinja2's expression grammar from conditional expressions down to literals,
// filters and tests. Parser (parser.cpp) adds the statements on top.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "chat/ast.h"
#include "chat/error.h"
#include "chat/lexer.h"

namespace worker::chat {

bool name_in(std::string_view s, std::initializer_list<std::string_view> names);

class ExpressionParser {
public:
    explicit ExpressionParser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

protected:
    using T = Token::Type;

    // Deeper nesting (of parentheses, brackets, not, statements) is refused
    // rather than risking the stack: real templates nest a few levels.
    static constexpr int kMaxNesting = 200;

    const Token& cur() const { return t_[pos_]; }
    const Token& look() const { return t_[pos_ + 1 < t_.size() ? pos_ + 1 : pos_]; }
    const Token& next() { return t_[pos_ < t_.size() - 1 ? pos_++ : pos_]; }

    static std::string describe(const Token& t) {
        switch (t.type) {
            case T::End:
                return "end of template";
            case T::BlockEnd:
                return "end of statement block";
            case T::VariableEnd:
                return "end of print statement";
            case T::BlockBegin:
                return "begin of statement block";
            case T::VariableBegin:
                return "begin of print statement";
            case T::Text:
                return "template data";
            default:
                return t.text;
        }
    }

    [[noreturn]] void fail(const std::string& message) const {
        throw TemplateError(TemplateError::Kind::Syntax, cur().line, message);
    }
    [[noreturn]] void refuse(int line, const std::string& construct) const {
        throw TemplateError(TemplateError::Kind::Unsupported, line, construct);
    }

    void expect(T type, std::string_view text = "") {
        if (cur().type != type || (!text.empty() && cur().text != text)) {
            std::string want =
                text.empty() ? (type == T::Name ? "name" : describe(Token{type, "", 0, 0, 0})) : std::string(text);
            fail("expected '" + want + "', got '" + describe(cur()) + "'");
        }
        next();
    }
    void expect_op(std::string_view op) { expect(T::Operator, op); }
    bool skip_op(std::string_view op) { return cur().is_op(op) ? (next(), true) : false; }
    bool skip_name(std::string_view name) { return cur().is_name(name) ? (next(), true) : false; }

    ExprPtr make(Expr::Kind kind, int line) { return std::make_unique<Expr>(kind, line); }

    // Counts one level of nesting while alive.
    struct Nest {
        explicit Nest(ExpressionParser& p) : parser(p) {
            if (++parser.nesting_ > kMaxNesting) {
                parser.refuse(parser.cur().line, "expressions or statements nested more than " +
                                                     std::to_string(kMaxNesting) + " levels deep");
            }
        }
        ~Nest() { --parser.nesting_; }
        ExpressionParser& parser;
    };

    ExprPtr assign_target(bool with_namespace, std::initializer_list<std::string_view> end_names);
    ExprPtr parse_tuple(bool with_condition, bool explicit_parens, std::initializer_list<std::string_view> extra = {});
    ExprPtr expression(bool with_condition);
    ExprPtr filter(ExprPtr target);

    // jinja2's soft frames: inside an if, unknown filters and tests fail
    // only when evaluated.
    bool soft_ = false;
    int loop_depth_ = 0;
    size_t loop_mentions_ = 0;  // how many times the name `loop` was read so far

private:
    bool tuple_end(std::initializer_list<std::string_view> extra) const;
    ExprPtr condition();
    ExprPtr binary_chain(Expr::Kind kind, ExprPtr left, ExprPtr right, int line);
    ExprPtr parse_or();
    ExprPtr parse_and();
    ExprPtr parse_not();
    ExprPtr compare();
    ExprPtr binary(ExprPtr left, ExprPtr right, const std::string& op, int line);
    ExprPtr math1();
    ExprPtr concat();
    ExprPtr math2();
    ExprPtr power();
    ExprPtr unary(bool with_filter);
    ExprPtr primary();
    ExprPtr list_literal();
    ExprPtr dict_literal();
    ExprPtr postfix(ExprPtr node);
    ExprPtr filter_expression(ExprPtr node);
    ExprPtr subscript(ExprPtr node);
    ExprPtr subscribed();
    void call_args(Expr& node);
    ExprPtr call(ExprPtr callee);
    std::string dotted_name();
    void check_known(Expr& node, bool is_filter);
    ExprPtr test(ExprPtr target);

    std::vector<Token> t_;
    size_t pos_ = 0;
    int nesting_ = 0;
};

}  // namespace worker::chat
