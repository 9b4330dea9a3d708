#include "chat/parse_expr.h"

#include "chat/parser.h"

namespace worker::chat {

bool name_in(std::string_view s, std::initializer_list<std::string_view> names) {
    for (std::string_view n : names) {
        if (s == n) return true;
    }
    return false;
}

// Names, tuples of names, or (for set) a namespace attribute ns.attr.
ExprPtr ExpressionParser::assign_target(bool with_namespace, std::initializer_list<std::string_view> end_names) {
    const int line = cur().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
        if (!items.empty()) expect_op(",");
        if (cur().type == T::BlockEnd || cur().is_op("=") || cur().is_op("|")) break;
        bool at_end = false;
        for (std::string_view n : end_names) at_end = at_end || cur().is_name(n);
        if (at_end) break;
        if (cur().type != T::Name || name_in(cur().text, {"true", "false", "none", "True", "False", "None"})) {
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

bool ExpressionParser::tuple_end(std::initializer_list<std::string_view> extra) const {
    if (cur().type == T::VariableEnd || cur().type == T::BlockEnd || cur().is_op(")")) return true;
    for (std::string_view n : extra) {
        if (cur().is_name(n)) return true;
    }
    return false;
}

ExprPtr ExpressionParser::parse_tuple(bool with_condition, bool explicit_parens,
                                      std::initializer_list<std::string_view> extra) {
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

ExprPtr ExpressionParser::expression(bool with_condition) {
    const Nest nest(*this);
    return with_condition ? condition() : parse_or();
}

ExprPtr ExpressionParser::condition() {
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

ExprPtr ExpressionParser::binary_chain(Expr::Kind kind, ExprPtr left, ExprPtr right, int line) {
    auto node = make(kind, line);
    node->kids.push_back(std::move(left));
    node->kids.push_back(std::move(right));
    return node;
}

ExprPtr ExpressionParser::parse_or() {
    ExprPtr left = parse_and();
    while (cur().is_name("or")) {
        const int line = next().line;
        left = binary_chain(Expr::Kind::Or, std::move(left), parse_and(), line);
    }
    return left;
}

ExprPtr ExpressionParser::parse_and() {
    ExprPtr left = parse_not();
    while (cur().is_name("and")) {
        const int line = next().line;
        left = binary_chain(Expr::Kind::And, std::move(left), parse_not(), line);
    }
    return left;
}

ExprPtr ExpressionParser::parse_not() {
    if (!cur().is_name("not")) return compare();
    const Nest nest(*this);
    auto node = make(Expr::Kind::Unary, next().line);
    node->name = "not";
    node->kids.push_back(parse_not());
    return node;
}

ExprPtr ExpressionParser::compare() {
    const int line = cur().line;
    ExprPtr first = math1();
    std::vector<std::pair<std::string, ExprPtr>> ops;
    while (true) {
        std::string op;
        if (cur().type == T::Operator && name_in(cur().text, {"==", "!=", "<", "<=", ">", ">="})) {
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

ExprPtr ExpressionParser::binary(ExprPtr left, ExprPtr right, const std::string& op, int line) {
    auto node = binary_chain(Expr::Kind::Binary, std::move(left), std::move(right), line);
    node->name = op;
    return node;
}

ExprPtr ExpressionParser::math1() {
    ExprPtr left = concat();
    while (cur().is_op("+") || cur().is_op("-")) {
        const Token& op = next();
        left = binary(std::move(left), concat(), op.text, op.line);
    }
    return left;
}

ExprPtr ExpressionParser::concat() {
    const int line = cur().line;
    ExprPtr first = math2();
    if (!cur().is_op("~")) return first;
    auto node = make(Expr::Kind::Concat, line);
    node->kids.push_back(std::move(first));
    while (skip_op("~")) node->kids.push_back(math2());
    return node;
}

ExprPtr ExpressionParser::math2() {
    ExprPtr left = power();
    while (cur().type == T::Operator && name_in(cur().text, {"*", "/", "//", "%"})) {
        const Token& op = next();
        left = binary(std::move(left), power(), op.text, op.line);
    }
    return left;
}

ExprPtr ExpressionParser::power() {
    ExprPtr left = unary(true);
    while (cur().is_op("**")) {
        const Token& op = next();
        left = binary(std::move(left), unary(true), op.text, op.line);
    }
    return left;
}

ExprPtr ExpressionParser::unary(bool with_filter) {
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

ExprPtr ExpressionParser::primary() {
    const Token& tok = cur();
    ExprPtr node;
    if (tok.type == T::Name) {
        next();
        node = make(Expr::Kind::Const, tok.line);
        if (name_in(tok.text, {"true", "True"})) {
            node->value = Value::boolean(true);
        } else if (name_in(tok.text, {"false", "False"})) {
            node->value = Value::boolean(false);
        } else if (name_in(tok.text, {"none", "None"})) {
            node->value = Value::none();
        } else {
            node->kind = Expr::Kind::Name;
            node->name = tok.text;
            loop_mentions_ += tok.text == "loop";
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

ExprPtr ExpressionParser::list_literal() {
    auto node = make(Expr::Kind::List, next().line);
    while (!cur().is_op("]")) {
        if (!node->kids.empty()) expect_op(",");
        if (cur().is_op("]")) break;
        node->kids.push_back(expression(true));
    }
    expect_op("]");
    return node;
}

ExprPtr ExpressionParser::dict_literal() {
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

ExprPtr ExpressionParser::postfix(ExprPtr node) {
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

ExprPtr ExpressionParser::filter_expression(ExprPtr node) {
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

ExprPtr ExpressionParser::subscript(ExprPtr node) {
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

ExprPtr ExpressionParser::subscribed() {
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

void ExpressionParser::call_args(Expr& node) {
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

ExprPtr ExpressionParser::call(ExprPtr callee) {
    auto node = make(Expr::Kind::Call, cur().line);
    node->kids.push_back(std::move(callee));
    call_args(*node);
    return node;
}

std::string ExpressionParser::dotted_name() {
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
void ExpressionParser::check_known(Expr& node, bool is_filter) {
    const bool known = is_filter ? implements_filter(node.name) : implements_test(node.name);
    if (known) return;
    const std::string kind = is_filter ? "filter" : "test";
    const bool in_jinja2 = is_filter ? jinja2_has_filter(node.name) : jinja2_has_test(node.name);
    if (soft_) {
        node.deferred_unsupported = in_jinja2;
        node.deferred_error = in_jinja2 ? kind + " '" + node.name + "'"
                                        : "TemplateRuntimeError: No " + kind + " named '" + node.name + "' found.";
        return;
    }
    if (in_jinja2) refuse(node.line, kind + " '" + node.name + "'");
    throw TemplateError(TemplateError::Kind::Syntax, node.line, "No " + kind + " named '" + node.name + "'.");
}

ExprPtr ExpressionParser::filter(ExprPtr target) {
    auto node = make(Expr::Kind::Filter, cur().line);
    node->name = dotted_name();
    node->kids.push_back(std::move(target));
    if (cur().is_op("(")) call_args(*node);
    check_known(*node, true);
    return node;
}

ExprPtr ExpressionParser::test(ExprPtr target) {
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

bool jinja2_has_filter(std::string_view name) {
    return name_in(name, {"abs",    "attr",       "batch",       "capitalize", "center",   "count",
                          "d",      "default",    "dictsort",    "e",          "escape",   "filesizeformat",
                          "first",  "float",      "forceescape", "format",     "groupby",  "indent",
                          "int",    "items",      "join",        "last",       "length",   "list",
                          "lower",  "map",        "max",         "min",        "pprint",   "random",
                          "reject", "rejectattr", "replace",     "reverse",    "round",    "safe",
                          "select", "selectattr", "slice",       "sort",       "string",   "striptags",
                          "sum",    "title",      "tojson",      "trim",       "truncate", "unique",
                          "upper",  "urlencode",  "urlize",      "wordcount",  "wordwrap", "xmlattr"});
}

bool jinja2_has_test(std::string_view name) {
    return name_in(name,
                   {"odd",     "even",   "divisibleby", "defined",  "undefined", "filter", "test",    "none",
                    "boolean", "false",  "true",        "integer",  "float",     "lower",  "upper",   "string",
                    "mapping", "number", "sequence",    "iterable", "callable",  "sameas", "escaped", "in",
                    "==",      "eq",     "equalto",     "!=",       "ne",        ">",      "gt",      "greaterthan",
                    "ge",      ">=",     "<",           "lt",       "lessthan",  "<=",     "le"});
}

}  // namespace worker::chat
