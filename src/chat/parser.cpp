#include "chat/parser.h"

#include <initializer_list>

#include "chat/error.h"

namespace worker::chat {

namespace {

using T = Token::Type;

bool one_of(std::string_view s, std::initializer_list<std::string_view> names) {
    for (std::string_view n : names) {
        if (s == n) return true;
    }
    return false;
}

// Deeper nesting (of parentheses, brackets, not, statements) is refused
// rather than risking the stack: real templates nest a few levels.
constexpr int kMaxNesting = 200;

class Parser {
public:
    explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

    Body run() {
        Body body = subparse({});
        if (!cur().is(T::End, "")) fail("unexpected '" + describe(cur()) + "'");
        return body;
    }

private:
    // ---- token stream ---------------------------------------------------------
    const Token& cur() const { return t_[pos_]; }
    const Token& look() const { return t_[pos_ + 1 < t_.size() ? pos_ + 1 : pos_]; }
    const Token& next() { return t_[pos_ < t_.size() - 1 ? pos_++ : pos_]; }

    static std::string describe(const Token& t) {
        switch (t.type) {
            case T::End: return "end of template";
            case T::BlockEnd: return "end of statement block";
            case T::VariableEnd: return "end of print statement";
            case T::BlockBegin: return "begin of statement block";
            case T::VariableBegin: return "begin of print statement";
            case T::Text: return "template data";
            default: return t.text;
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
            std::string want = text.empty() ? (type == T::Name ? "name" : describe(Token{type, "", 0, 0, 0}))
                                            : std::string(text);
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
        explicit Nest(Parser& p) : parser(p) {
            if (++parser.nesting_ > kMaxNesting) {
                parser.refuse(parser.cur().line, "expressions or statements nested more than " +
                                                     std::to_string(kMaxNesting) + " levels deep");
            }
        }
        ~Nest() { --parser.nesting_; }
        Parser& parser;
    };

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
        if (one_of(tag, {"block", "extends", "include", "import", "from", "call", "autoescape"})) {
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
        s->body = statements({"endfor", "else"}, false);
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

    // Names, tuples of names, or (for set) a namespace attribute ns.attr.
    ExprPtr assign_target(bool with_namespace, std::initializer_list<std::string_view> end_names) {
        const int line = cur().line;
        std::vector<ExprPtr> items;
        bool is_tuple = false;
        while (true) {
            if (!items.empty()) expect_op(",");
            if (cur().type == T::BlockEnd || cur().is_op("=") || cur().is_op("|")) break;
            bool at_end = false;
            for (std::string_view n : end_names) at_end = at_end || cur().is_name(n);
            if (at_end) break;
            if (cur().type != T::Name || one_of(cur().text, {"true", "false", "none", "True", "False", "None"})) {
                fail("can't assign to '" + describe(cur()) + "'");
            }
            auto name = make(Expr::Kind::Name, cur().line);
            name->name = next().text;
            if (with_namespace && cur().is_op(".")) {
                next();
                if (cur().type != T::Name) fail("expected an attribute name");
                auto ref = make(Expr::Kind::GetAttr, name->line);
                ref->name = next().text;
                ref->kids.push_back(std::move(name));
                name = std::move(ref);
            }
            items.push_back(std::move(name));
            if (!cur().is_op(",")) break;
            is_tuple = true;
        }
        if (items.empty()) fail("expected an assignment target");
        if (!is_tuple) return std::move(items[0]);
        auto tuple = make(Expr::Kind::Tuple, line);
        tuple->kids = std::move(items);
        return tuple;
    }

    // ---- expressions --------------------------------------------------------------
    bool tuple_end(std::initializer_list<std::string_view> extra) const {
        if (cur().type == T::VariableEnd || cur().type == T::BlockEnd || cur().is_op(")")) return true;
        for (std::string_view n : extra) {
            if (cur().is_name(n)) return true;
        }
        return false;
    }

    ExprPtr parse_tuple(bool with_condition, bool explicit_parens, std::initializer_list<std::string_view> extra = {}) {
        const int line = cur().line;
        std::vector<ExprPtr> items;
        bool is_tuple = false;
        while (true) {
            if (!items.empty()) expect_op(",");
            if (tuple_end(extra)) break;
            items.push_back(expression(with_condition));
            if (!cur().is_op(",")) break;
            is_tuple = true;
        }
        if (!is_tuple) {
            if (!items.empty()) return std::move(items[0]);
            if (!explicit_parens) fail("expected an expression, got '" + describe(cur()) + "'");
        }
        auto tuple = make(Expr::Kind::Tuple, line);
        tuple->kids = std::move(items);
        return tuple;
    }

    ExprPtr expression(bool with_condition) {
        const Nest nest(*this);
        return with_condition ? condition() : parse_or();
    }

    ExprPtr condition() {
        ExprPtr expr = parse_or();
        while (cur().is_name("if")) {
            const bool was_soft = soft_;
            soft_ = true;
            auto node = make(Expr::Kind::Condition, next().line);
            node->kids.push_back(std::move(expr));
            node->kids.push_back(parse_or());
            node->kids.push_back(skip_name("else") ? condition() : nullptr);
            soft_ = was_soft;
            expr = std::move(node);
        }
        return expr;
    }

    ExprPtr binary_chain(Expr::Kind kind, ExprPtr left, ExprPtr right, int line) {
        auto node = make(kind, line);
        node->kids.push_back(std::move(left));
        node->kids.push_back(std::move(right));
        return node;
    }

    ExprPtr parse_or() {
        ExprPtr left = parse_and();
        while (cur().is_name("or")) {
            const int line = next().line;
            left = binary_chain(Expr::Kind::Or, std::move(left), parse_and(), line);
        }
        return left;
    }

    ExprPtr parse_and() {
        ExprPtr left = parse_not();
        while (cur().is_name("and")) {
            const int line = next().line;
            left = binary_chain(Expr::Kind::And, std::move(left), parse_not(), line);
        }
        return left;
    }

    ExprPtr parse_not() {
        if (!cur().is_name("not")) return compare();
        const Nest nest(*this);
        auto node = make(Expr::Kind::Unary, next().line);
        node->name = "not";
        node->kids.push_back(parse_not());
        return node;
    }

    ExprPtr compare() {
        const int line = cur().line;
        ExprPtr first = math1();
        std::vector<std::pair<std::string, ExprPtr>> ops;
        while (true) {
            std::string op;
            if (cur().type == T::Operator && one_of(cur().text, {"==", "!=", "<", "<=", ">", ">="})) {
                op = next().text;
            } else if (cur().is_name("in")) {
                next();
                op = "in";
            } else if (cur().is_name("not") && look().is_name("in")) {
                next();
                next();
                op = "not in";
            } else {
                break;
            }
            ops.emplace_back(op, math1());
        }
        if (ops.empty()) return first;
        auto node = make(Expr::Kind::Compare, line);
        node->kids.push_back(std::move(first));
        for (auto& [op, operand] : ops) {
            node->ops.push_back(op);
            node->kids.push_back(std::move(operand));
        }
        return node;
    }

    ExprPtr binary(ExprPtr left, ExprPtr right, const std::string& op, int line) {
        auto node = binary_chain(Expr::Kind::Binary, std::move(left), std::move(right), line);
        node->name = op;
        return node;
    }

    ExprPtr math1() {
        ExprPtr left = concat();
        while (cur().is_op("+") || cur().is_op("-")) {
            const Token& op = next();
            left = binary(std::move(left), concat(), op.text, op.line);
        }
        return left;
    }

    ExprPtr concat() {
        const int line = cur().line;
        ExprPtr first = math2();
        if (!cur().is_op("~")) return first;
        auto node = make(Expr::Kind::Concat, line);
        node->kids.push_back(std::move(first));
        while (skip_op("~")) node->kids.push_back(math2());
        return node;
    }

    ExprPtr math2() {
        ExprPtr left = power();
        while (cur().type == T::Operator && one_of(cur().text, {"*", "/", "//", "%"})) {
            const Token& op = next();
            left = binary(std::move(left), power(), op.text, op.line);
        }
        return left;
    }

    ExprPtr power() {
        ExprPtr left = unary(true);
        while (cur().is_op("**")) {
            const Token& op = next();
            left = binary(std::move(left), unary(true), op.text, op.line);
        }
        return left;
    }

    ExprPtr unary(bool with_filter) {
        const Nest nest(*this);
        ExprPtr node;
        if (cur().is_op("-") || cur().is_op("+")) {
            node = make(Expr::Kind::Unary, cur().line);
            node->name = next().text;
            node->kids.push_back(unary(false));
        } else {
            node = primary();
        }
        node = postfix(std::move(node));
        if (with_filter) node = filter_expression(std::move(node));
        return node;
    }

    ExprPtr primary() {
        const Token& tok = cur();
        ExprPtr node;
        if (tok.type == T::Name) {
            next();
            node = make(Expr::Kind::Const, tok.line);
            if (one_of(tok.text, {"true", "True"})) {
                node->value = Value::boolean(true);
            } else if (one_of(tok.text, {"false", "False"})) {
                node->value = Value::boolean(false);
            } else if (one_of(tok.text, {"none", "None"})) {
                node->value = Value::none();
            } else {
                node->kind = Expr::Kind::Name;
                node->name = tok.text;
            }
        } else if (tok.type == T::String) {
            std::string text;
            const int line = tok.line;
            while (cur().type == T::String) text += next().text;  // adjacent literals join
            node = make(Expr::Kind::Const, line);
            node->value = Value::string(std::move(text));
        } else if (tok.type == T::Integer || tok.type == T::Float) {
            next();
            node = make(Expr::Kind::Const, tok.line);
            node->value = tok.type == T::Integer ? Value::integer(tok.integer) : Value::number(tok.number);
        } else if (tok.is_op("(")) {
            next();
            node = parse_tuple(true, true);
            expect_op(")");
        } else if (tok.is_op("[")) {
            node = list_literal();
        } else if (tok.is_op("{")) {
            node = dict_literal();
        } else {
            fail("unexpected '" + describe(tok) + "'");
        }
        return node;
    }

    ExprPtr list_literal() {
        auto node = make(Expr::Kind::List, next().line);
        while (!cur().is_op("]")) {
            if (!node->kids.empty()) expect_op(",");
            if (cur().is_op("]")) break;
            node->kids.push_back(expression(true));
        }
        expect_op("]");
        return node;
    }

    ExprPtr dict_literal() {
        auto node = make(Expr::Kind::Dict, next().line);
        while (!cur().is_op("}")) {
            if (!node->kids.empty()) expect_op(",");
            if (cur().is_op("}")) break;
            node->kids.push_back(expression(true));
            expect_op(":");
            node->kids.push_back(expression(true));
        }
        expect_op("}");
        return node;
    }

    ExprPtr postfix(ExprPtr node) {
        while (true) {
            if (cur().is_op(".") || cur().is_op("[")) {
                node = subscript(std::move(node));
            } else if (cur().is_op("(")) {
                node = call(std::move(node));
            } else {
                return node;
            }
        }
    }

    ExprPtr filter_expression(ExprPtr node) {
        while (true) {
            if (cur().is_op("|")) {
                next();
                node = filter(std::move(node));
            } else if (cur().is_name("is")) {
                node = test(std::move(node));
            } else if (cur().is_op("(")) {
                node = call(std::move(node));
            } else {
                return node;
            }
        }
    }

    ExprPtr subscript(ExprPtr node) {
        const Token& tok = next();
        if (tok.text == ".") {
            const Token& attr = next();
            if (attr.type == T::Name) {
                auto get = make(Expr::Kind::GetAttr, tok.line);
                get->name = attr.text;
                get->kids.push_back(std::move(node));
                return get;
            }
            if (attr.type != T::Integer) fail("expected name or number");
            auto get = make(Expr::Kind::GetItem, tok.line);
            get->kids.push_back(std::move(node));
            get->kids.push_back(make(Expr::Kind::Const, attr.line));
            get->kids.back()->value = Value::integer(attr.integer);
            return get;
        }
        std::vector<ExprPtr> args;
        while (!cur().is_op("]")) {
            if (!args.empty()) expect_op(",");
            args.push_back(subscribed());
        }
        expect_op("]");
        auto get = make(Expr::Kind::GetItem, tok.line);
        get->kids.push_back(std::move(node));
        if (args.size() == 1) {
            get->kids.push_back(std::move(args[0]));
        } else {
            auto tuple = make(Expr::Kind::Tuple, tok.line);
            tuple->kids = std::move(args);
            get->kids.push_back(std::move(tuple));
        }
        return get;
    }

    ExprPtr subscribed() {
        auto slice = make(Expr::Kind::Slice, cur().line);
        if (cur().is_op(":")) {
            next();
            slice->kids.push_back(nullptr);
        } else {
            ExprPtr first = expression(true);
            if (!cur().is_op(":")) return first;
            next();
            slice->kids.push_back(std::move(first));
        }
        auto at_end = [&] { return cur().is_op("]") || cur().is_op(","); };
        slice->kids.push_back(cur().is_op(":") || at_end() ? nullptr : expression(true));
        if (skip_op(":")) {
            slice->kids.push_back(at_end() ? nullptr : expression(true));
        } else {
            slice->kids.push_back(nullptr);
        }
        return slice;
    }

    void call_args(Expr& node) {
        const int line = cur().line;
        expect_op("(");
        bool need_comma = false;
        while (!cur().is_op(")")) {
            if (need_comma) {
                expect_op(",");
                if (cur().is_op(")")) break;
            }
            if (cur().is_op("*") || cur().is_op("**")) refuse(line, "*args / **kwargs in a call");
            if (cur().type == T::Name && look().is_op("=")) {
                std::string key = next().text;
                next();
                node.kwargs.emplace_back(std::move(key), expression(true));
            } else {
                if (!node.kwargs.empty()) fail("invalid syntax for function call expression");
                node.kids.push_back(expression(true));
            }
            need_comma = true;
        }
        expect_op(")");
    }

    ExprPtr call(ExprPtr callee) {
        auto node = make(Expr::Kind::Call, cur().line);
        node->kids.push_back(std::move(callee));
        call_args(*node);
        return node;
    }

    std::string dotted_name() {
        if (cur().type != T::Name) fail("expected a name");
        std::string name = next().text;
        while (cur().is_op(".")) {
            next();
            if (cur().type != T::Name) fail("expected a name");
            name += "." + next().text;
        }
        return name;
    }

    // Unknown names fail now, unless inside an if: jinja2 then fails only
    // when the filter or test is evaluated.
    void check_known(Expr& node, bool is_filter) {
        const bool known = is_filter ? implements_filter(node.name) : implements_test(node.name);
        if (known) return;
        const bool in_jinja2 = is_filter ? jinja2_has_filter(node.name) : jinja2_has_test(node.name);
        const std::string what = std::string(is_filter ? "filter '" : "test '") + node.name + "'";
        if (soft_) {
            node.deferred_error = in_jinja2 ? "U" + what : "RNo " + what.substr(0, what.find(' ')) + " named '" +
                                                               node.name + "' found.";
            return;
        }
        if (in_jinja2) refuse(node.line, what);
        throw TemplateError(TemplateError::Kind::Syntax, node.line,
                            "No " + what.substr(0, what.find(' ')) + " named '" + node.name + "'.");
    }

    ExprPtr filter(ExprPtr target) {
        auto node = make(Expr::Kind::Filter, cur().line);
        node->name = dotted_name();
        node->kids.push_back(std::move(target));
        if (cur().is_op("(")) call_args(*node);
        check_known(*node, true);
        return node;
    }

    ExprPtr test(ExprPtr target) {
        auto node = make(Expr::Kind::Test, next().line);
        const bool negated = skip_name("not");
        node->name = dotted_name();
        node->kids.push_back(std::move(target));
        const Token& c = cur();
        if (c.is_op("(")) {
            call_args(*node);
        } else if ((c.type == T::Name || c.type == T::String || c.type == T::Integer || c.type == T::Float ||
                    c.is_op("[") || c.is_op("{")) &&
                   !c.is_name("else") && !c.is_name("or") && !c.is_name("and")) {
            if (c.is_name("is")) fail("You cannot chain multiple tests with is");
            node->kids.push_back(postfix(primary()));
        }
        check_known(*node, false);
        if (!negated) return node;
        auto neg = make(Expr::Kind::Unary, node->line);
        neg->name = "not";
        neg->kids.push_back(std::move(node));
        return neg;
    }

    std::vector<Token> t_;
    size_t pos_ = 0;
    bool soft_ = false;
    int loop_depth_ = 0;
    int nesting_ = 0;
};

}  // namespace

Body parse(std::vector<Token> tokens) { return Parser(std::move(tokens)).run(); }

bool jinja2_has_filter(std::string_view name) {
    return one_of(name, {"abs",       "attr",      "batch",    "capitalize", "center",     "count",    "d",
                         "default",   "dictsort",  "e",        "escape",     "filesizeformat", "first", "float",
                         "forceescape", "format",  "groupby",  "indent",     "int",        "items",    "join",
                         "last",      "length",    "list",     "lower",      "map",        "max",      "min",
                         "pprint",    "random",    "reject",   "rejectattr", "replace",    "reverse",  "round",
                         "safe",      "select",    "selectattr", "slice",    "sort",       "string",   "striptags",
                         "sum",       "title",     "tojson",   "trim",       "truncate",   "unique",   "upper",
                         "urlencode", "urlize",    "wordcount", "wordwrap",  "xmlattr"});
}

bool jinja2_has_test(std::string_view name) {
    return one_of(name, {"odd",    "even",    "divisibleby", "defined", "undefined", "filter",  "test",
                         "none",   "boolean", "false",       "true",    "integer",   "float",   "lower",
                         "upper",  "string",  "mapping",     "number",  "sequence",  "iterable", "callable",
                         "sameas", "escaped", "in",          "==",      "eq",        "equalto", "!=",
                         "ne",     ">",       "gt",          "greaterthan", "ge",    ">=",      "<",
                         "lt",     "lessthan", "<=",         "le"});
}

}  // namespace worker::chat
