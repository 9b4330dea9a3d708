// Attribute and item access, slicing, calls, and the Python methods of str,
// dict and list that templates call (message.content.split('</think>'), ...).
#include <algorithm>

#include "chat/error.h"
#include "chat/ops.h"
#include "chat/pystr.h"

namespace worker::chat {

namespace {

bool one_of(const std::string& s, std::initializer_list<const char*> names) {
    for (const char* n : names) {
        if (s == n) return true;
    }
    return false;
}

// jinja2's message for a missing attribute or element, e.g. 'dict object'
// has no attribute 'x'.
Value missing(const Value& obj, const std::string& what) {
    std::string message = "'";
    message += obj.is_none() ? std::string("None") : obj.type_name() + " object";
    message += "' has no ";
    message += what;
    return Value::undefined(std::move(message));
}

Value unsafe_method(const Value& obj, const std::string& name) {
    return Value::undefined("SecurityError: access to attribute '" + name + "' of '" + obj.type_name() +
                            "' object is unsafe.");
}

Value not_implemented(const std::string& type, const std::string& name) {
    return Value::function(type + "." + name, [type, name](const CallArgs&) -> Value {
        unsupported("method " + type + "." + name + "()");
    });
}

std::string need_str(const Value& v, const char* what) {
    if (!v.is_string()) {
        runtime_error(std::string("TypeError: ") + what + " arg must be None or str, not " + v.type_name());
    }
    return v.as_string();
}

std::optional<std::string> optional_str(const CallArgs& args, size_t index, const char* name, const char* what) {
    const Value* v = args.get(index, name);
    if (!v || v->is_none()) return std::nullopt;
    return need_str(*v, what);
}

// str.startswith / str.endswith with a str or a tuple of str.
bool affix_match(const std::string& s, const Value& affix, bool prefix) {
    auto one = [&](const Value& a) {
        if (!a.is_string()) runtime_error("TypeError: startswith first arg must be str or a tuple of str");
        const std::string& x = a.as_string();
        if (x.size() > s.size()) return false;
        return prefix ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
    };
    if (affix.kind() == Value::Kind::Tuple) {
        return std::any_of(affix.items().begin(), affix.items().end(), one);
    }
    return one(affix);
}

Value string_list(const std::vector<std::string>& parts) {
    std::vector<Value> items;
    for (const auto& p : parts) items.push_back(Value::string(p));
    return Value::list(std::move(items));
}

// str.format with {}, {0} and {name} fields (no format specs or conversions).
std::string str_format(const std::string& fmt, const CallArgs& args) {
    std::string out;
    size_t auto_index = 0;
    for (size_t i = 0; i < fmt.size(); ++i) {
        const char c = fmt[i];
        if ((c == '{' || c == '}') && i + 1 < fmt.size() && fmt[i + 1] == c) {
            out += c;
            ++i;
            continue;
        }
        if (c == '}') runtime_error("ValueError: Single '}' encountered in format string");
        if (c != '{') {
            out += c;
            continue;
        }
        const size_t end = fmt.find('}', i);
        if (end == std::string::npos) runtime_error("ValueError: Single '{' encountered in format string");
        const std::string field = fmt.substr(i + 1, end - i - 1);
        if (field.find_first_of(":!.[") != std::string::npos) unsupported("str.format field '{" + field + "}'");
        const Value* v = nullptr;
        if (field.empty()) {
            v = auto_index < args.positional.size() ? &args.positional[auto_index] : nullptr;
            ++auto_index;
        } else if (std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
            const size_t idx = std::stoul(field);
            v = idx < args.positional.size() ? &args.positional[idx] : nullptr;
        } else {
            v = args.get(SIZE_MAX, field.c_str());
        }
        if (!v) runtime_error("IndexError: Replacement index out of range for str.format");
        out += v->str();
        i = end;
    }
    return out;
}

Value str_join(const std::string& sep, const Value& iterable) {
    std::string out;
    bool first = true;
    for (const Value& item : iterable.iterate()) {
        if (!item.is_string()) {
            runtime_error("TypeError: sequence item: expected str instance, " + item.type_name() + " found");
        }
        if (!first) out += sep;
        out += item.as_string();
        check_text_size(out.size(), "a joined string");
        first = false;
    }
    return Value::string(std::move(out));
}

bool all_chars(const std::string& s, bool (*pred)(char32_t)) {
    const std::u32string text = py::decode(s);
    return !text.empty() && std::all_of(text.begin(), text.end(), pred);
}

Value str_method_call(const std::string& s, const std::string& name, const CallArgs& a) {
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
        a.check(name.c_str(), {"chars"});
        return Value::string(py::strip(s, optional_str(a, 0, "chars", "strip"), name != "rstrip", name != "lstrip"));
    }
    if (name == "split" || name == "rsplit") {
        a.check(name.c_str(), {"sep", "maxsplit"});
        const auto sep = optional_str(a, 0, "sep", "split");
        const int64_t max = arg_int(a, 1, "maxsplit", -1);
        return string_list(name == "split" ? py::split(s, sep, max) : py::rsplit(s, sep, max));
    }
    if (name == "startswith" || name == "endswith") {
        a.check(name.c_str(), {"prefix"});
        const Value* affix = a.get(0, "prefix");
        if (!affix) runtime_error("TypeError: " + name + "() takes at least 1 argument (0 given)");
        return Value::boolean(affix_match(s, *affix, name == "startswith"));
    }
    if (name == "upper") return Value::string(py::upper(s));
    if (name == "lower") return Value::string(py::lower(s));
    if (name == "title") return Value::string(py::title(s));
    if (name == "capitalize") return Value::string(py::capitalize(s));
    if (name == "replace") {
        a.check("replace", {"old", "new", "count"});
        if (a.positional.size() < 2) runtime_error("TypeError: replace expected at least 2 arguments");
        return Value::string(py::replace(s, need_str(a.positional[0], "replace"), need_str(a.positional[1], "replace"),
                                         arg_int(a, 2, "count", -1)));
    }
    if (name == "format") return Value::string(str_format(s, a));
    if (name == "join") {
        if (a.positional.size() != 1) runtime_error("TypeError: str.join() takes exactly one argument");
        return str_join(s, a.positional[0]);
    }
    if (name == "find" || name == "count") {
        a.check(name.c_str(), {"sub"});
        const Value* sub = a.get(0, "sub");
        if (!sub) runtime_error("TypeError: " + name + "() takes at least 1 argument (0 given)");
        const std::string x = need_str(*sub, name.c_str());
        return Value::integer(name == "find" ? py::find(s, x) : py::count(s, x));
    }
    if (name == "isdigit") return Value::boolean(all_chars(s, [](char32_t c) { return c >= '0' && c <= '9'; }));
    if (name == "isspace") return Value::boolean(all_chars(s, py::is_space));
    if (name == "isalpha") return Value::boolean(all_chars(s, py::is_cased));
    if (name == "removeprefix" || name == "removesuffix") {
        const std::string x = a.positional.empty() ? "" : need_str(a.positional[0], name.c_str());
        const bool prefix = name == "removeprefix";
        if (!affix_match(s, Value::string(x), prefix)) return Value::string(s);
        return Value::string(prefix ? s.substr(x.size()) : s.substr(0, s.size() - x.size()));
    }
    unsupported("method str." + name + "()");
}

bool is_str_method(const std::string& name) {
    return one_of(name,
                  {"capitalize", "casefold",     "center",       "count",   "encode",     "endswith",    "expandtabs",
                   "find",       "format",       "format_map",   "index",   "isalnum",    "isalpha",     "isascii",
                   "isdecimal",  "isdigit",      "isidentifier", "islower", "isnumeric",  "isprintable", "isspace",
                   "istitle",    "isupper",      "join",         "ljust",   "lower",      "lstrip",      "maketrans",
                   "partition",  "removeprefix", "removesuffix", "replace", "rfind",      "rindex",      "rjust",
                   "rpartition", "rsplit",       "rstrip",       "split",   "splitlines", "startswith",  "strip",
                   "swapcase",   "title",        "translate",    "upper",   "zfill"});
}

std::optional<Value> dict_method(const Value& obj, const std::string& name) {
    if (one_of(name, {"clear", "pop", "popitem", "setdefault", "update"})) return unsafe_method(obj, name);
    if (name == "items" || name == "keys" || name == "values") {
        return Value::function("dict." + name, [obj, name](const CallArgs& a) {
            a.check(name.c_str(), {});
            std::vector<Value> out;
            for (const auto& [key, value] : obj.dict().entries()) {
                if (name == "items") out.push_back(Value::tuple({key, value}));
                if (name == "keys") out.push_back(key);
                if (name == "values") out.push_back(value);
            }
            return Value::iterator("dict_" + name, std::move(out), true);
        });
    }
    if (name == "get") {
        return Value::function("dict.get", [obj](const CallArgs& a) {
            if (a.positional.empty() || a.positional.size() > 2 || !a.keyword.empty()) {
                runtime_error("TypeError: get expected 1 or 2 positional arguments");
            }
            const Value* found = obj.dict().find(a.positional[0]);
            if (found) return *found;
            return a.positional.size() > 1 ? a.positional[1] : Value::none();
        });
    }
    if (name == "copy") return Value::function("dict.copy", [obj](const CallArgs&) { return Value::dict(obj.dict()); });
    if (name == "fromkeys") return not_implemented("dict", name);
    return std::nullopt;
}

std::optional<Value> list_method(const Value& obj, const std::string& name) {
    const bool is_list = obj.kind() == Value::Kind::List;
    if (is_list && one_of(name, {"append", "clear", "pop", "reverse", "insert", "sort", "extend", "remove"})) {
        return unsafe_method(obj, name);
    }
    if (name == "count" || name == "index") {
        return Value::function(obj.type_name() + "." + name, [obj, name](const CallArgs& a) {
            if (a.positional.size() != 1) unsupported(name + "() with other than one argument");
            const auto& items = obj.items();
            int64_t n = 0;
            for (size_t i = 0; i < items.size(); ++i) {
                if (!items[i].equals(a.positional[0])) continue;
                if (name == "index") return Value::integer(static_cast<int64_t>(i));
                ++n;
            }
            if (name == "index") runtime_error("ValueError: " + a.positional[0].repr() + " is not in list");
            return Value::integer(n);
        });
    }
    if (is_list && name == "copy") {
        return Value::function("list.copy", [obj](const CallArgs&) { return Value::list(obj.items()); });
    }
    return std::nullopt;
}

// Python's attribute lookup for the kinds that have attributes; nullopt when
// the object has no attribute of that name.
std::optional<Value> python_attribute(const Value& obj, const std::string& name) {
    if (!name.empty() && name[0] == '_') return std::nullopt;  // the sandbox hides private attributes
    switch (obj.kind()) {
        case Value::Kind::String:
            if (!is_str_method(name)) return std::nullopt;
            return Value::function(
                "str." + name, [s = obj.as_string(), name](const CallArgs& a) { return str_method_call(s, name, a); });
        case Value::Kind::Dict:
            return dict_method(obj, name);
        case Value::Kind::List:
        case Value::Kind::Tuple:
            return list_method(obj, name);
        case Value::Kind::Namespace: {
            const Value* v = obj.dict().find(name);
            if (v) return *v;
            return std::nullopt;
        }
        default:
            return std::nullopt;
    }
}

// obj[key] as Python indexes; nullopt when Python raises (missing key, out of
// range, wrong type).
std::optional<Value> python_item(Value obj, const Value& key) {
    if (obj.is_dict()) {
        const Value* v = obj.dict().find(key);
        return v ? std::optional<Value>(*v) : std::nullopt;
    }
    const bool range = obj.is_iterator() && obj.iter().type_name == "range";
    if (range && key.is_int()) obj = Value::list(obj.iter().items);  // a range indexes like its list
    if ((obj.is_sequence() || obj.is_string()) && key.is_int()) {
        const bool str = obj.is_string();
        const std::u32string text = str ? py::decode(obj.as_string()) : std::u32string();
        const int64_t n = static_cast<int64_t>(str ? text.size() : obj.items().size());
        int64_t i = key.as_int();
        if (i < 0) i += n;
        if (i < 0 || i >= n) return std::nullopt;
        if (!str) return obj.items()[static_cast<size_t>(i)];
        return Value::string(py::encode(std::u32string(1, text[static_cast<size_t>(i)])));
    }
    return std::nullopt;
}

}  // namespace

[[noreturn]] void fail_undefined(const Value& v) {
    const std::string& hint = v.as_string();
    if (hint.rfind("SecurityError", 0) == 0) runtime_error(hint);
    runtime_error("UndefinedError: " + (hint.empty() ? std::string("value is undefined") : hint));
}

Value get_attribute(const Value& obj, const std::string& name) {
    if (obj.is_undefined()) fail_undefined(obj);
    if (std::optional<Value> attr = python_attribute(obj, name)) return *attr;
    if (std::optional<Value> item = python_item(obj, Value::string(name))) return *item;
    return missing(obj, "attribute '" + name + "'");
}

Value get_item(const Value& obj, const Value& key) {
    if (obj.is_undefined()) fail_undefined(obj);
    if (std::optional<Value> item = python_item(obj, key)) return *item;
    if (key.is_string()) {
        if (std::optional<Value> attr = python_attribute(obj, key.as_string())) return *attr;
        return missing(obj, "attribute '" + key.as_string() + "'");
    }
    return missing(obj, "element " + key.repr());
}

Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
    if (obj.is_undefined()) fail_undefined(obj);
    if (obj.is_iterator() && obj.iter().type_name == "range") unsupported("slicing a range");
    if (!obj.is_string() && !obj.is_sequence()) {
        runtime_error("TypeError: '" + obj.type_name() + "' object is not subscriptable");
    }
    auto bound = [](const Value& v, const char* what) -> std::optional<int64_t> {
        if (v.is_none() || v.is_undefined()) return std::nullopt;
        if (!v.is_int()) runtime_error(std::string("TypeError: slice ") + what + " must be an integer or None");
        return v.as_int();
    };
    const int64_t st = bound(step, "step").value_or(1);
    if (st == 0) runtime_error("ValueError: slice step cannot be zero");
    const std::u32string text = obj.is_string() ? py::decode(obj.as_string()) : std::u32string();
    const int64_t n = static_cast<int64_t>(obj.is_string() ? text.size() : obj.items().size());
    auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
        if (!v) return dflt;
        int64_t i = *v < 0 ? *v + n : *v;
        if (st > 0) return std::clamp<int64_t>(i, 0, n);
        return std::clamp<int64_t>(i, -1, n - 1);
    };
    const int64_t lo = clamp(bound(start, "start"), st > 0 ? 0 : n - 1);
    const int64_t hi = clamp(bound(stop, "stop"), st > 0 ? n : -1);
    std::vector<size_t> picks;
    for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) picks.push_back(static_cast<size_t>(i));
    if (obj.is_string()) {
        std::u32string out;
        for (size_t i : picks) out += text[i];
        return Value::string(py::encode(out));
    }
    std::vector<Value> out;
    for (size_t i : picks) out.push_back(obj.items()[i]);
    return obj.kind() == Value::Kind::Tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

Value call_value(const Value& callee, const CallArgs& args) {
    if (callee.is_undefined()) fail_undefined(callee);
    if (!callee.is_function()) runtime_error("TypeError: '" + callee.type_name() + "' object is not callable");
    return callee.function().call(args);
}

int64_t arg_int(const CallArgs& args, size_t index, const char* name, int64_t fallback) {
    const Value* v = args.get(index, name);
    if (!v) return fallback;
    if (!v->is_int()) runtime_error(std::string("TypeError: argument '") + name + "' must be an integer");
    return v->as_int();
}

std::optional<std::string> arg_str(const CallArgs& args, size_t index, const char* name) {
    const Value* v = args.get(index, name);
    if (!v) return std::nullopt;
    return v->str();
}

bool arg_bool(const CallArgs& args, size_t index, const char* name, bool fallback) {
    const Value* v = args.get(index, name);
    return v ? v->truthy() : fallback;
}

}  // namespace worker::chat
