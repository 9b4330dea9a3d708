// Expressions, and the global functions templates can call: range, dict,
// namespace (jinja2), raise_exception and strftime_now (transformers).
#include <cstdio>

#include "chat/error.h"
#include "chat/interpreter.h"
#include "chat/ops.h"

namespace worker::chat {

namespace {

// jinja2's sandbox refuses ranges longer than this.
constexpr int64_t kMaxRange = 100000;

Value range_function(const CallArgs& a) {
    if (!a.keyword.empty() || a.positional.empty() || a.positional.size() > 3) {
        runtime_error("TypeError: range expected 1 to 3 integer arguments");
    }
    for (const Value& v : a.positional) {
        if (!v.is_int()) runtime_error("TypeError: '" + v.type_name() + "' object cannot be interpreted as an integer");
    }
    const int64_t start = a.positional.size() > 1 ? a.positional[0].as_int() : 0;
    const int64_t stop = a.positional.size() > 1 ? a.positional[1].as_int() : a.positional[0].as_int();
    const int64_t step = a.positional.size() > 2 ? a.positional[2].as_int() : 1;
    if (step == 0) runtime_error("ValueError: range() arg 3 must not be zero");
    std::vector<Value> out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (static_cast<int64_t>(out.size()) >= kMaxRange) {
            runtime_error("OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        }
        out.push_back(Value::integer(i));
    }
    // A range object: sized, iterable again, printed as range(start, stop[, step]).
    Value range = Value::iterator("range", std::move(out), true);
    range.iter().repr = "range(" + std::to_string(start) + ", " + std::to_string(stop) +
                        (step != 1 ? ", " + std::to_string(step) : std::string()) + ")";
    return range;
}

// dict(mapping_or_pairs?, **kwargs) for namespace() and dict().
Dict dict_from_args(const CallArgs& a, const char* what) {
    Dict d;
    if (a.positional.size() > 1) runtime_error(std::string("TypeError: ") + what + " expected at most 1 argument");
    if (!a.positional.empty()) {
        const Value& src = a.positional[0];
        if (src.is_dict() || src.is_namespace()) {
            for (const auto& [k, v] : src.dict().entries()) d.set(k, v);
        } else {
            for (const Value& pair : src.iterate()) {
                const std::vector<Value> kv = pair.iterate();
                if (kv.size() != 2) runtime_error("ValueError: dictionary update sequence element has wrong length");
                d.set(kv[0], kv[1]);
            }
        }
    }
    for (const auto& [k, v] : a.keyword) d.set(Value::string(k), v);
    return d;
}

Value unsupported_global(const std::string& name) {
    return Value::function(name, [name](const CallArgs&) -> Value { unsupported("global function " + name + "()"); });
}

}  // namespace

void Interpreter::add_globals() {
    globals_.set(Value::string("range"), Value::function("range", range_function));
    globals_.set(Value::string("dict"),
                 Value::function("dict", [](const CallArgs& a) { return Value::dict(dict_from_args(a, "dict")); }));
    globals_.set(Value::string("namespace"), Value::function("namespace", [this](const CallArgs& a) {
                     namespaces_.push_back(Value::namespace_(dict_from_args(a, "namespace")));
                     return namespaces_.back();
                 }));
    globals_.set(Value::string("raise_exception"), Value::function("raise_exception", [](const CallArgs& a) -> Value {
                     const Value* msg = a.get(0, "message");
                     throw TemplateError(TemplateError::Kind::Raised, 0, msg ? msg->str() : "");
                 }));
    globals_.set(Value::string("strftime_now"), Value::function("strftime_now", [this](const CallArgs& a) {
                     const Value* fmt = a.get(0, "format");
                     if (!fmt || !fmt->is_string()) runtime_error("TypeError: strftime_now() argument must be str");
                     char buf[512];
                     const size_t n = std::strftime(buf, sizeof buf, fmt->as_string().c_str(), &now_);
                     if (n == 0 && !fmt->as_string().empty())
                         unsupported("strftime_now format '" + fmt->as_string() + "'");
                     return Value::string(std::string(buf, n));
                 }));
    for (const char* name : {"lipsum", "cycler", "joiner"}) globals_.set(Value::string(name), unsupported_global(name));
}

Value Interpreter::lookup(const std::string& name, const ScopePtr& scope) const {
    for (const Scope* s = scope.get(); s; s = s->parent.get()) {
        if (const Value* v = s->find(name)) return *v;
    }
    if (const Value* v = globals_.find(name)) return *v;
    return Value::undefined("'" + name + "' is undefined");
}

Value Interpreter::eval(const Expr& expr, const ScopePtr& scope) {
    try {
        return eval_node(expr, scope);
    } catch (const TemplateError& e) {
        if (e.line() != 0) throw;
        throw TemplateError(e.kind(), expr.line, e.detail());
    }
}

CallArgs Interpreter::eval_args(const Expr& expr, size_t first, const ScopePtr& scope) {
    CallArgs args;
    for (size_t i = first; i < expr.kids.size(); ++i) args.positional.push_back(eval(*expr.kids[i], scope));
    for (const auto& [key, value] : expr.kwargs) args.keyword.emplace_back(key, eval(*value, scope));
    return args;
}

Value Interpreter::eval_compare(const Expr& expr, const ScopePtr& scope) {
    Value left = eval(*expr.kids[0], scope);
    for (size_t i = 0; i < expr.ops.size(); ++i) {
        Value right = eval(*expr.kids[i + 1], scope);
        if (!compare_op(expr.ops[i], left, right)) return Value::boolean(false);
        left = std::move(right);
    }
    return Value::boolean(true);
}

Value Interpreter::eval_filter(const Expr& expr, const ScopePtr& scope) {
    if (!expr.deferred_error.empty()) {
        if (expr.deferred_unsupported) unsupported(expr.deferred_error);
        runtime_error(expr.deferred_error);
    }
    const Value target = expr.kids[0] ? eval(*expr.kids[0], scope) : Value::string("");
    const CallArgs args = eval_args(expr, 1, scope);
    if (expr.kind == Expr::Kind::Test) return Value::boolean(apply_test(expr.name, target, args));
    return apply_filter(expr.name, target, args);
}

Value Interpreter::eval_literal(const Expr& expr, const ScopePtr& scope) {
    if (expr.kind == Expr::Kind::Dict) {
        Dict d;
        for (size_t i = 0; i + 1 < expr.kids.size(); i += 2)
            d.set(eval(*expr.kids[i], scope), eval(*expr.kids[i + 1], scope));
        return Value::dict(std::move(d));
    }
    std::vector<Value> items;
    for (const ExprPtr& kid : expr.kids) items.push_back(eval(*kid, scope));
    return expr.kind == Expr::Kind::List ? Value::list(std::move(items)) : Value::tuple(std::move(items));
}

Value Interpreter::eval_node(const Expr& expr, const ScopePtr& scope) {
    using K = Expr::Kind;
    switch (expr.kind) {
        case K::Const:
            return expr.value;
        case K::Name:
            return lookup(expr.name, scope);
        case K::List:
        case K::Tuple:
        case K::Dict:
            return eval_literal(expr, scope);
        case K::GetAttr:
            return get_attribute(eval(*expr.kids[0], scope), expr.name);
        case K::GetItem: {
            const Value obj = eval(*expr.kids[0], scope);
            const Expr& index = *expr.kids[1];
            if (index.kind != K::Slice) return get_item(obj, eval(index, scope));
            auto part = [&](size_t i) { return index.kids[i] ? eval(*index.kids[i], scope) : Value::none(); };
            return get_slice(obj, part(0), part(1), part(2));
        }
        case K::Slice:
            unsupported("a slice outside of [ ]");
        case K::Call: {
            const Value callee = eval(*expr.kids[0], scope);
            return call_value(callee, eval_args(expr, 1, scope));
        }
        case K::Filter:
        case K::Test:
            return eval_filter(expr, scope);
        case K::Unary: {
            const Value v = eval(*expr.kids[0], scope);
            if (expr.name == "not") return Value::boolean(!v.truthy());
            if (expr.name == "-") return negate(v);
            if (!v.is_number()) runtime_error("TypeError: bad operand type for unary +: '" + v.type_name() + "'");
            return v.is_bool() ? Value::integer(v.as_int()) : v;
        }
        case K::Binary:
            return binary_op(expr.name, eval(*expr.kids[0], scope), eval(*expr.kids[1], scope));
        case K::And: {
            Value left = eval(*expr.kids[0], scope);
            return left.truthy() ? eval(*expr.kids[1], scope) : left;
        }
        case K::Or: {
            Value left = eval(*expr.kids[0], scope);
            return left.truthy() ? left : eval(*expr.kids[1], scope);
        }
        case K::Concat: {
            std::string out;
            for (const ExprPtr& kid : expr.kids) {
                out += eval(*kid, scope).str();
                check_text_size(out.size(), "a string");
            }
            return Value::string(std::move(out));
        }
        case K::Compare:
            return eval_compare(expr, scope);
        case K::Condition: {
            if (eval(*expr.kids[1], scope).truthy()) return eval(*expr.kids[0], scope);
            if (expr.kids[2]) return eval(*expr.kids[2], scope);
            return Value::undefined("the inline if-expression on line " + std::to_string(expr.line) +
                                    " evaluated to false and no else section was defined.");
        }
    }
    unsupported("expression");
}

}  // namespace worker::chat
