#include "chat/parser.h"

#include "chat/parse_expr.h"

namespace worker::chat {

namespace {

class Parser : public ExpressionParser {
public:
    using ExpressionParser::ExpressionParser;

    Body run() {
        Body body = subparse({});
        if (!cur().is(T::End, "")) fail("unexpected '" + describe(cur()) + "'");
        return body;
    }

private:
    // ---- statements -------------------------------------------------------------
    Body subparse(std::initializer_list<std::string_view> end_tags) {
        const Nest nest(*this);
        Body body;
        while (cur().type != T::End) {
            const Token& tok = cur();
            if (tok.type == T::Text) {
                auto s = std::make_unique<Stmt>(Stmt::Kind::Text, tok.line);
                s->text = tok.text;
                body.push_back(std::move(s));
                next();
            } else if (tok.type == T::VariableBegin) {
                next();
                auto s = std::make_unique<Stmt>(Stmt::Kind::Print, tok.line);
                s->expr = parse_tuple(true, false);
                expect(T::VariableEnd);
                body.push_back(std::move(s));
            } else if (tok.type == T::BlockBegin) {
                next();
                for (std::string_view end : end_tags) {
                    if (cur().is_name(end)) return body;
                }
                body.push_back(statement());
                expect(T::BlockEnd);
            } else {
                fail("unexpected '" + describe(tok) + "'");
            }
        }
        return body;
    }

    // Parses statements up to one of `end_tags` (left current unless drop).
    Body statements(std::initializer_list<std::string_view> end_tags, bool drop) {
        skip_op(":");
        expect(T::BlockEnd);
        Body body = subparse(end_tags);
        if (cur().type == T::End) {
            std::string names;
            for (std::string_view n : end_tags) names += (names.empty() ? "'" : " or '") + std::string(n) + "'";
            fail("unexpected end of template, expected " + names);
        }
        if (drop) next();
        return body;
    }

    StmtPtr statement() {
        const Token& tok = cur();
        if (tok.type != T::Name) fail("tag name expected");
        const std::string tag = tok.text;
        if (tag == "if") return parse_if();
        if (tag == "for") return parse_for();
        if (tag == "set") return parse_set();
        if (tag == "macro") return parse_macro();
        if (tag == "filter") return parse_filter_block();
        if (tag == "with") return parse_with();
        if (tag == "print") return parse_print();
        if (tag == "generation") return parse_generation();
        if (tag == "break" || tag == "continue") {
            if (loop_depth_ == 0) fail("'" + tag + "' outside a loop");
            next();
            return std::make_unique<Stmt>(tag == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue, tok.line);
        }
        if (name_in(tag, {"block", "extends", "include", "import", "from", "call", "autoescape"})) {
            refuse(tok.line, "{% " + tag + " %} statement");
        }
        fail("encountered unknown tag '" + tag + "'");
    }

    StmtPtr parse_if() {
        auto s = std::make_unique<Stmt>(Stmt::Kind::If, next().line);
        const bool was_soft = soft_;
        soft_ = true;
        while (true) {
            ExprPtr test = parse_tuple(false, false);
            Body body = statements({"elif", "else", "endif"}, false);
            s->branches.emplace_back(std::move(test), std::move(body));
            const std::string end = next().text;
            if (end == "elif") continue;
            if (end == "else") s->else_body = statements({"endif"}, true);
            break;
        }
        soft_ = was_soft;
        return s;
    }

    StmtPtr parse_for() {
        auto s = std::make_unique<Stmt>(Stmt::Kind::For, next().line);
        s->target = assign_target(false, {"in"});
        expect(T::Name, "in");
        s->expr = parse_tuple(false, false, {"recursive"});
        const bool was_soft = soft_;
        soft_ = false;
        if (skip_name("if")) s->cond = expression(true);
        if (cur().is_name("recursive")) refuse(cur().line, "recursive for loop");
        ++loop_depth_;
        const size_t mentions = loop_mentions_;
        s->body = statements({"endfor", "else"}, false);
        s->uses_loop = loop_mentions_ != mentions;  // else, build no loop object per iteration
        --loop_depth_;
        soft_ = was_soft;
        if (next().text == "else") s->else_body = statements({"endfor"}, true);
        return s;
    }

    StmtPtr parse_set() {
        const int line = next().line;
        ExprPtr target = assign_target(true, {});
        if (skip_op("=")) {
            auto s = std::make_unique<Stmt>(Stmt::Kind::Set, line);
            s->target = std::move(target);
            s->expr = parse_tuple(true, false);
            return s;
        }
        auto s = std::make_unique<Stmt>(Stmt::Kind::SetBlock, line);
        s->target = std::move(target);
        const bool was_soft = soft_;
        soft_ = false;
        while (cur().is_op("|")) {
            next();
            s->filters.push_back(filter(nullptr));
        }
        s->body = statements({"endset"}, true);
        soft_ = was_soft;
        return s;
    }

    void signature(Stmt& s) {
        expect_op("(");
        while (!cur().is_op(")")) {
            if (!s.params.empty()) expect_op(",");
            if (cur().type != T::Name) fail("expected a parameter name");
            s.params.push_back(next().text);
            if (skip_op("=")) {
                s.defaults.push_back(expression(true));
            } else if (!s.defaults.empty()) {
                fail("non-default argument follows default argument");
            }
        }
        expect_op(")");
    }

    StmtPtr parse_macro() {
        auto s = std::make_unique<Stmt>(Stmt::Kind::Macro, next().line);
        if (cur().type != T::Name) fail("expected a macro name");
        s->name = next().text;
        const bool was_soft = soft_;
        const int loops = loop_depth_;
        soft_ = false;
        loop_depth_ = 0;
        signature(*s);
        s->body = statements({"endmacro"}, true);
        soft_ = was_soft;
        loop_depth_ = loops;
        return s;
    }

    StmtPtr parse_filter_block() {
        auto s = std::make_unique<Stmt>(Stmt::Kind::FilterBlock, next().line);
        const bool was_soft = soft_;
        soft_ = false;
        s->filters.push_back(filter(nullptr));
        while (cur().is_op("|")) {
            next();
            s->filters.push_back(filter(nullptr));
        }
        s->body = statements({"endfilter"}, true);
        soft_ = was_soft;
        return s;
    }

    StmtPtr parse_with() {
        auto s = std::make_unique<Stmt>(Stmt::Kind::With, next().line);
        const bool was_soft = soft_;
        soft_ = false;
        while (cur().type != T::BlockEnd) {
            if (!s->params.empty()) expect_op(",");
            if (cur().type != T::Name) fail("expected a name");
            s->params.push_back(next().text);
            expect_op("=");
            s->defaults.push_back(expression(true));
        }
        s->body = statements({"endwith"}, true);
        soft_ = was_soft;
        return s;
    }

    StmtPtr parse_print() {
        auto s = std::make_unique<Stmt>(Stmt::Kind::Print, next().line);
        auto list = make(Expr::Kind::Tuple, s->line);
        while (cur().type != T::BlockEnd) {
            if (!list->kids.empty()) expect_op(",");
            list->kids.push_back(expression(true));
        }
        // {% print a, b %} writes each expression in turn: a Concat does that.
        list->kind = Expr::Kind::Concat;
        s->expr = std::move(list);
        return s;
    }

    // transformers' {% generation %} tag marks assistant text; it renders its body.
    StmtPtr parse_generation() {
        auto s = std::make_unique<Stmt>(Stmt::Kind::Scope, next().line);
        s->body = statements({"endgeneration"}, true);
        return s;
    }
};

}  // namespace

Body parse(std::vector<Token> tokens) { return Parser(std::move(tokens)).run(); }

}  // namespace worker::chat
