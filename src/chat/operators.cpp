// Arithmetic, comparison and membership with Python's rules: bool is an int,
// int op int stays int (/ gives a float, // and % floor), str + str and
// list + list concatenate, str * int repeats, mismatches are TypeErrors.
#include <cmath>

#include "chat/error.h"
#include "chat/ops.h"

namespace worker::chat {

namespace {

[[noreturn]] void unsupported_operands(const std::string& op, const Value& a, const Value& b) {
    if (op == "+" && a.is_string()) {
        runtime_error("TypeError: can only concatenate str (not \"" + b.type_name() + "\") to str");
    }
    if (op == "+" && a.kind() == Value::Kind::List) {
        runtime_error("TypeError: can only concatenate list (not \"" + b.type_name() + "\") to list");
    }
    runtime_error("TypeError: unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" +
                  b.type_name() + "'");
}

void check_overflow(bool overflow) {
    if (overflow) unsupported("integer arithmetic beyond 64 bits");
}

int64_t floor_div(int64_t a, int64_t b) {
    if (b == 0) runtime_error("ZeroDivisionError: integer division or modulo by zero");
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

int64_t floor_mod(int64_t a, int64_t b) {
    if (b == 0) runtime_error("ZeroDivisionError: integer division or modulo by zero");
    int64_t r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}

Value repeat(const Value& seq, int64_t times) {
    const size_t unit = seq.is_string() ? seq.as_string().size() : seq.items().size();
    if (times > 0 && unit > 0) {
        const size_t total =
            static_cast<uint64_t>(times) > kMaxTextBytes ? kMaxTextBytes + 1 : unit * static_cast<size_t>(times);
        if (seq.is_string()) check_text_size(total, "a repeated string");
        if (!seq.is_string()) check_item_count(total, "a repeated list");
    }
    if (seq.is_string()) {
        std::string out;
        for (int64_t i = 0; i < times; ++i) out += seq.as_string();
        return Value::string(std::move(out));
    }
    std::vector<Value> out;
    for (int64_t i = 0; i < times; ++i) out.insert(out.end(), seq.items().begin(), seq.items().end());
    return seq.kind() == Value::Kind::Tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

Value integer_op(const std::string& op, int64_t x, int64_t y) {
    int64_t r = 0;
    if (op == "+" || op == "-" || op == "*") {
        check_overflow(op == "+"   ? __builtin_add_overflow(x, y, &r)
                       : op == "-" ? __builtin_sub_overflow(x, y, &r)
                                   : __builtin_mul_overflow(x, y, &r));
        return Value::integer(r);
    }
    if (op == "//") return Value::integer(floor_div(x, y));
    if (op == "%") return Value::integer(floor_mod(x, y));
    if (op == "/") {
        if (y == 0) runtime_error("ZeroDivisionError: division by zero");
        return Value::number(static_cast<double>(x) / static_cast<double>(y));
    }
    // "**"
    if (y < 0) return Value::number(std::pow(static_cast<double>(x), static_cast<double>(y)));
    int64_t result = 1;
    for (int64_t i = 0; i < y; ++i) check_overflow(__builtin_mul_overflow(result, x, &result));
    return Value::integer(result);
}

Value float_op(const std::string& op, double x, double y) {
    if (op == "+") return Value::number(x + y);
    if (op == "-") return Value::number(x - y);
    if (op == "*") return Value::number(x * y);
    if (op == "**") return Value::number(std::pow(x, y));
    if (y == 0) runtime_error("ZeroDivisionError: float division by zero");
    if (op == "/") return Value::number(x / y);
    // Python's float divmod.
    double mod = std::fmod(x, y);
    double div = (x - mod) / y;
    if (mod != 0) {
        if ((y < 0) != (mod < 0)) {
            mod += y;
            div -= 1.0;
        }
    } else {
        mod = std::copysign(0.0, y);
    }
    if (op == "%") return Value::number(mod);
    double floordiv = std::copysign(0.0, x / y);
    if (div != 0) {
        floordiv = std::floor(div);
        if (div - floordiv > 0.5) floordiv += 1.0;
    }
    return Value::number(floordiv);
}

}  // namespace

Value binary_op(const std::string& op, const Value& a, const Value& b) {
    if (a.is_undefined()) fail_undefined(a);
    if (b.is_undefined()) fail_undefined(b);
    if (a.is_number() && b.is_number()) {
        if (a.kind() == Value::Kind::Float || b.kind() == Value::Kind::Float) {
            return float_op(op, a.as_float(), b.as_float());
        }
        return integer_op(op, a.as_int(), b.as_int());
    }
    if (op == "+") {
        if (a.is_string() && b.is_string()) {
            // Markup + str and str + Markup escape the plain side (markupsafe).
            check_text_size(a.as_string().size() + b.as_string().size(), "a string");
            if (a.is_markup() != b.is_markup()) {
                return Value::markup((a.is_markup() ? a.as_string() : html_escape(a.as_string())) +
                                     (b.is_markup() ? b.as_string() : html_escape(b.as_string())));
            }
            return a.is_markup() ? Value::markup(a.as_string() + b.as_string())
                                 : Value::string(a.as_string() + b.as_string());
        }
        if (a.is_sequence() && a.kind() == b.kind()) {
            check_item_count(a.items().size() + b.items().size(), "a list");
            std::vector<Value> out = a.items();
            out.insert(out.end(), b.items().begin(), b.items().end());
            return a.kind() == Value::Kind::Tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
        }
    }
    if (op == "*") {
        if ((a.is_string() || a.is_sequence()) && b.is_int()) return repeat(a, b.as_int());
        if (a.is_int() && (b.is_string() || b.is_sequence())) return repeat(b, a.as_int());
    }
    if (op == "%" && a.is_string()) unsupported("printf-style string formatting (str % value)");
    unsupported_operands(op, a, b);
}

Value negate(const Value& v) {
    if (v.is_undefined()) fail_undefined(v);
    if (v.kind() == Value::Kind::Float) return Value::number(-v.as_float());
    if (v.is_int()) return Value::integer(-v.as_int());
    runtime_error("TypeError: bad operand type for unary -: '" + v.type_name() + "'");
}

bool contains(const Value& container, const Value& item) {
    if (container.is_string()) {
        if (item.is_undefined()) fail_undefined(item);
        if (!item.is_string()) {
            runtime_error("TypeError: 'in <string>' requires string as left operand, not " + item.type_name());
        }
        return container.as_string().find(item.as_string()) != std::string::npos;
    }
    if (container.is_dict()) return container.dict().find(item) != nullptr;
    if (container.is_sequence() || container.is_iterator() || container.is_undefined()) {
        for (const Value& v : container.iterate()) {
            if (v.equals(item)) return true;
        }
        return false;
    }
    runtime_error("TypeError: argument of type '" + container.type_name() + "' is not iterable");
}

bool compare_op(const std::string& op, const Value& a, const Value& b) {
    if (op == "==") return a.equals(b);
    if (op == "!=") return !a.equals(b);
    if (op == "in") return contains(b, a);
    if (op == "not in") return !contains(b, a);
    if (a.is_undefined()) fail_undefined(a);
    if (b.is_undefined()) fail_undefined(b);
    if (op == "<") return less_than(a, b);
    if (op == ">") return less_than(b, a);
    if (op == "<=") return less_than(a, b) || a.equals(b);
    if (op == ">=") return less_than(b, a) || a.equals(b);
    unsupported("comparison operator " + op);
}

}  // namespace worker::chat
