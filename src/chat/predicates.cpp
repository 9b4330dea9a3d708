// jinja2's builtin tests ({% if x is defined %}, "is string", ...).
#include "chat/error.h"
#include "chat/ops.h"
#include "chat/parser.h"
#include "chat/pystr.h"

namespace worker::chat {

namespace {

const Value& only_arg(const std::string& name, const CallArgs& args) {
    if (args.positional.size() != 1 || !args.keyword.empty()) {
        runtime_error("TypeError: test '" + name + "' takes exactly one argument");
    }
    return args.positional[0];
}

bool case_test(const Value& v, bool want_lower) {
    const std::u32string text = py::decode(v.str());
    bool cased = false;
    for (char32_t c : text) {
        if (!py::is_cased(c)) continue;
        cased = true;
        const bool is_lower = py::to_lower(c) == c && py::to_upper(c) != c;
        const bool is_upper = py::to_upper(c) == c && py::to_lower(c) != c;
        if (want_lower ? !is_lower : !is_upper) return false;
    }
    return cased;
}

bool integer_value(const Value& v, const char* test) {
    if (v.is_undefined()) fail_undefined(v);
    if (!v.is_int()) unsupported(std::string("test '") + test + "' on a " + v.type_name());
    return true;
}

}  // namespace

bool implements_test(std::string_view name) { return jinja2_has_test(name) && name != "escaped"; }

bool apply_test(const std::string& name, const Value& v, const CallArgs& args) {
    using K = Value::Kind;
    if (name == "defined") return !v.is_undefined();
    if (name == "undefined") return v.is_undefined();
    if (name == "none") return v.is_none();
    if (name == "boolean") return v.is_bool();
    if (name == "true") return v.is_bool() && v.as_bool();
    if (name == "false") return v.is_bool() && !v.as_bool();
    if (name == "integer") return v.kind() == K::Int;
    if (name == "float") return v.kind() == K::Float;
    if (name == "number") return v.is_number();
    if (name == "string") return v.is_string();
    if (name == "mapping") return v.is_dict();
    if (name == "callable") return v.is_function() || v.is_undefined();  // jinja2's Undefined has __call__
    if (name == "sequence") {
        return v.is_undefined() || v.is_string() || v.is_sequence() || v.is_dict();
    }
    if (name == "iterable") {
        return v.is_undefined() || v.is_string() || v.is_sequence() || v.is_dict() || v.is_iterator();
    }
    if (name == "lower" || name == "upper") return case_test(v, name == "lower");
    if (name == "odd" || name == "even") {
        integer_value(v, name.c_str());
        return (v.as_int() % 2 != 0) == (name == "odd");
    }
    if (name == "divisibleby") {
        integer_value(v, "divisibleby");
        const Value& n = only_arg(name, args);
        integer_value(n, "divisibleby");
        if (n.as_int() == 0) runtime_error("ZeroDivisionError: integer division or modulo by zero");
        return v.as_int() % n.as_int() == 0;
    }
    if (name == "sameas") {
        const Value& other = only_arg(name, args);
        if (v.is_none() || v.is_bool() || v.is_undefined()) return v.kind() == other.kind() && v.equals(other);
        unsupported("test 'sameas' on a " + v.type_name() + " (object identity)");
    }
    if (name == "filter") return jinja2_has_filter(v.str());
    if (name == "test") return jinja2_has_test(v.str());
    if (name == "in") return contains(only_arg(name, args), v);
    if (name == "==" || name == "eq" || name == "equalto") return compare_op("==", v, only_arg(name, args));
    if (name == "!=" || name == "ne") return compare_op("!=", v, only_arg(name, args));
    if (name == ">" || name == "gt" || name == "greaterthan") return compare_op(">", v, only_arg(name, args));
    if (name == ">=" || name == "ge") return compare_op(">=", v, only_arg(name, args));
    if (name == "<" || name == "lt" || name == "lessthan") return compare_op("<", v, only_arg(name, args));
    if (name == "<=" || name == "le") return compare_op("<=", v, only_arg(name, args));
    if (jinja2_has_test(name)) unsupported("test '" + name + "'");
    runtime_error("TemplateRuntimeError: No test named '" + name + "' found.");
}

}  // namespace worker::chat
