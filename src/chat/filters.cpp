// jinja2's builtin filters, with transformers' tojson. Filters that return
// generators in jinja2 (map, select, selectattr, reject, rejectattr, unique,
// items) return one-shot iterators here, so that what jinja2 refuses for a
// generator (|length, |tojson, printing) is refused too.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "chat/error.h"
#include "chat/json.h"
#include "chat/ops.h"
#include "chat/parser.h"
#include "chat/pystr.h"

namespace worker::chat {

namespace {

using Filter = Value (*)(const Value&, const CallArgs&);

Value generator(std::vector<Value> items) { return Value::iterator("generator", std::move(items)); }

// Python's str.splitlines().
std::vector<std::string> splitlines(const std::string& s) {
    std::vector<std::string> lines;
    const std::u32string text = py::decode(s);
    std::u32string line;
    for (size_t i = 0; i < text.size(); ++i) {
        const char32_t c = text[i];
        const bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) || c == 0x85 ||
                         c == 0x2028 || c == 0x2029;
        if (!brk) {
            line += c;
            continue;
        }
        if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
        lines.push_back(py::encode(line));
        line.clear();
    }
    if (!line.empty()) lines.push_back(py::encode(line));
    return lines;
}

// jinja2's make_attrgetter: "a.b.0" looked up item-first, part by part.
Value attribute_path(const Value& item, const std::string& path, const Value* fallback) {
    Value v = item;
    size_t start = 0;
    while (true) {
        const size_t dot = path.find('.', start);
        const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        const bool numeric =
            !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
        v = get_item(v, numeric ? Value::integer(std::stoll(part)) : Value::string(part));
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    if (fallback && v.is_undefined()) return *fallback;
    return v;
}

// The key jinja2 sorts and compares by when case_sensitive is false.
Value ignore_case(const Value& v, bool case_sensitive) {
    return !case_sensitive && v.is_string() ? Value::string(py::lower(v.as_string())) : v;
}

Value sort_key(const Value& item, const CallArgs& a, size_t attribute_index) {
    const std::optional<std::string> attribute = arg_str(a, attribute_index, "attribute");
    const Value v = attribute ? attribute_path(item, *attribute, nullptr) : item;
    return ignore_case(v, arg_bool(a, attribute_index - 1, "case_sensitive", false));
}

Value f_default(const Value& v, const CallArgs& a) {
    a.check("default", {"default_value", "boolean"});
    const Value* d = a.get(0, "default_value");
    if (v.is_undefined() || (arg_bool(a, 1, "boolean", false) && !v.truthy())) return d ? *d : Value::string("");
    return v;
}

Value f_length(const Value& v, const CallArgs& a) {
    a.check("length", {});
    return Value::integer(static_cast<int64_t>(v.length()));
}

Value f_trim(const Value& v, const CallArgs& a) {
    a.check("trim", {"chars"});
    const Value* chars = a.get(0, "chars");
    return Value::string(
        py::strip(v.str(), chars && !chars->is_none() ? std::optional(chars->str()) : std::nullopt, true, true));
}

Value f_upper(const Value& v, const CallArgs&) { return Value::string(py::upper(v.str())); }
Value f_lower(const Value& v, const CallArgs&) { return Value::string(py::lower(v.str())); }
Value f_capitalize(const Value& v, const CallArgs&) { return Value::string(py::capitalize(v.str())); }
// string keeps a Markup string Markup (jinja2's soft_str); safe makes one.
Value f_string(const Value& v, const CallArgs&) { return v.is_string() ? v : Value::string(v.str()); }
Value f_safe(const Value& v, const CallArgs&) { return Value::markup(v.str()); }

// jinja2's title: words start after "-", whitespace, "(", "{", "[" or "<".
Value f_title(const Value& v, const CallArgs&) {
    const std::u32string text = py::decode(v.str());
    auto is_sep = [](char32_t c) {
        return py::is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    };
    std::u32string out;
    for (size_t i = 0; i < text.size(); ++i) {
        const bool starts_item = i == 0 || is_sep(text[i]) != is_sep(text[i - 1]);
        out += starts_item ? py::to_upper(text[i]) : py::to_lower(text[i]);
    }
    return Value::string(py::encode(out));
}

Value f_replace(const Value& v, const CallArgs& a) {
    a.check("replace", {"old", "new", "count"});
    if (a.positional.size() < 2 && a.keyword.empty()) runtime_error("TypeError: replace() missing arguments");
    const Value* count = a.get(2, "count");
    const int64_t n = count && !count->is_none() ? arg_int(a, 2, "count", -1) : -1;
    return Value::string(py::replace(v.str(), arg_str(a, 0, "old").value_or(""), arg_str(a, 1, "new").value_or(""), n));
}

Value f_join(const Value& v, const CallArgs& a) {
    a.check("join", {"d", "attribute"});
    const std::string sep = arg_str(a, 0, "d").value_or("");
    const std::optional<std::string> attribute = arg_str(a, 1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : v.iterate()) {
        if (!first) out += sep;
        out += (attribute ? attribute_path(item, *attribute, nullptr) : item).str();
        check_text_size(out.size(), "a joined string");
        first = false;
    }
    return Value::string(std::move(out));
}

Value f_first(const Value& v, const CallArgs&) {
    if (v.is_iterator() && !v.iter().view) {  // next() takes one item of a generator
        Iterator& it = v.iter();
        if (it.pos < it.items.size()) return it.items[it.pos++];
        return Value::undefined("No first item, sequence was empty.");
    }
    const std::vector<Value> items = v.iterate();
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(const Value& v, const CallArgs&) {
    if (v.is_iterator() && !v.iter().view) runtime_error("TypeError: '" + v.type_name() + "' object is not reversible");
    const std::vector<Value> items = v.iterate();
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value f_list(const Value& v, const CallArgs&) { return Value::list(v.iterate()); }

Value f_items(const Value& v, const CallArgs&) {
    if (v.is_undefined()) return generator({});
    if (!v.is_dict()) runtime_error("TypeError: Can only get item pairs from a mapping.");
    std::vector<Value> out;
    for (const auto& [key, value] : v.dict().entries()) out.push_back(Value::tuple({key, value}));
    return generator(std::move(out));
}

Value f_dictsort(const Value& v, const CallArgs& a) {
    a.check("dictsort", {"case_sensitive", "by", "reverse"});
    if (!v.is_dict()) runtime_error("AttributeError: '" + v.type_name() + "' object has no attribute 'items'");
    const bool case_sensitive = arg_bool(a, 0, "case_sensitive", false);
    const std::string by = arg_str(a, 1, "by").value_or("key");
    if (by != "key" && by != "value")
        runtime_error("FilterArgumentError: You can only sort by either 'key' or 'value'");
    const size_t pos = by == "key" ? 0 : 1;
    const bool reverse = arg_bool(a, 2, "reverse", false);
    std::vector<Value> items;
    for (const auto& [key, value] : v.dict().entries()) items.push_back(Value::tuple({key, value}));
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        const Value kx = ignore_case(x.items()[pos], case_sensitive);
        const Value ky = ignore_case(y.items()[pos], case_sensitive);
        return reverse ? less_than(ky, kx) : less_than(kx, ky);
    });
    return Value::list(std::move(items));
}

Value f_sort(const Value& v, const CallArgs& a) {
    a.check("sort", {"reverse", "case_sensitive", "attribute"});
    const bool reverse = arg_bool(a, 0, "reverse", false);
    std::vector<Value> items = v.iterate();
    std::vector<std::pair<Value, Value>> keyed;
    for (const Value& item : items) keyed.emplace_back(sort_key(item, a, 2), item);
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
        return reverse ? less_than(y.first, x.first) : less_than(x.first, y.first);
    });
    items.clear();
    for (auto& entry : keyed) items.push_back(entry.second);
    return Value::list(std::move(items));
}

Value f_unique(const Value& v, const CallArgs& a) {
    a.check("unique", {"case_sensitive", "attribute"});
    std::vector<Value> out;
    std::vector<Value> seen;
    for (const Value& item : v.iterate()) {
        const Value key = sort_key(item, a, 1);
        if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return s.equals(key); })) continue;
        seen.push_back(key);
        out.push_back(item);
    }
    return generator(std::move(out));
}

Value min_max(const Value& v, const CallArgs& a, bool want_max) {
    a.check(want_max ? "max" : "min", {"case_sensitive", "attribute"});
    const std::vector<Value> items = v.iterate();
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    size_t best = 0;
    Value best_key = sort_key(items[0], a, 1);
    for (size_t i = 1; i < items.size(); ++i) {
        const Value key = sort_key(items[i], a, 1);
        if (want_max ? less_than(best_key, key) : less_than(key, best_key)) best = i, best_key = key;
    }
    return items[best];
}

Value f_min(const Value& v, const CallArgs& a) { return min_max(v, a, false); }
Value f_max(const Value& v, const CallArgs& a) { return min_max(v, a, true); }

Value f_reverse(const Value& v, const CallArgs&) {
    if (v.is_string()) return get_slice(v, Value::none(), Value::none(), Value::integer(-1));
    std::vector<Value> items = v.iterate();
    std::reverse(items.begin(), items.end());
    if (v.is_sequence()) {
        return Value::iterator(v.kind() == Value::Kind::List ? "list_reverseiterator" : "reversed", std::move(items));
    }
    if (v.is_dict()) return Value::iterator("dict_reversekeyiterator", std::move(items));
    if (v.is_iterator() && v.iter().view) return Value::iterator("reversed " + v.type_name(), std::move(items));
    return Value::list(std::move(items));
}

// select/reject: items passing (failing) a test, or truthy (falsy) without one.
Value select_items(const Value& v, const CallArgs& a, bool keep, bool by_attribute) {
    CallArgs test_args;
    size_t first_test_arg = by_attribute ? 1 : 0;
    std::optional<std::string> attribute;
    if (by_attribute) {
        if (a.positional.empty()) runtime_error("TypeError: Missing parameter for attribute name");
        attribute = a.positional[0].str();
    }
    std::optional<std::string> test;
    if (a.positional.size() > first_test_arg) test = a.positional[first_test_arg].str();
    test_args.positional.assign(
        a.positional.begin() + static_cast<std::ptrdiff_t>(std::min(a.positional.size(), first_test_arg + 1)),
        a.positional.end());
    test_args.keyword = a.keyword;
    if (test && !implements_test(*test)) {
        if (jinja2_has_test(*test)) unsupported("test '" + *test + "'");
        runtime_error("TemplateRuntimeError: No test named '" + *test + "'.");
    }
    std::vector<Value> out;
    if (!v.truthy()) return generator({});  // jinja2 guards with "if value:" (None gives nothing)
    for (const Value& item : v.iterate()) {
        const Value subject = attribute ? attribute_path(item, *attribute, nullptr) : item;
        const bool pass = test ? apply_test(*test, subject, test_args) : subject.truthy();
        if (pass == keep) out.push_back(item);
    }
    return generator(std::move(out));
}

Value f_select(const Value& v, const CallArgs& a) { return select_items(v, a, true, false); }
Value f_reject(const Value& v, const CallArgs& a) { return select_items(v, a, false, false); }
Value f_selectattr(const Value& v, const CallArgs& a) { return select_items(v, a, true, true); }
Value f_rejectattr(const Value& v, const CallArgs& a) { return select_items(v, a, false, true); }

Value f_map(const Value& v, const CallArgs& a) {
    std::vector<Value> out;
    if (!v.truthy()) return generator({});  // jinja2 guards with "if value:" (None gives nothing)
    if (const Value* attribute = a.get(SIZE_MAX, "attribute")) {
        a.check("map", {"attribute", "default"});
        const Value* fallback = a.get(SIZE_MAX, "default");
        for (const Value& item : v.iterate()) out.push_back(attribute_path(item, attribute->str(), fallback));
        return generator(std::move(out));
    }
    if (a.positional.empty()) runtime_error("FilterArgumentError: map requires a filter argument");
    const std::string filter = a.positional[0].str();
    if (!implements_filter(filter)) {
        if (jinja2_has_filter(filter)) unsupported("filter '" + filter + "'");
        runtime_error("TemplateRuntimeError: No filter named '" + filter + "'.");
    }
    CallArgs rest;
    rest.positional.assign(a.positional.begin() + 1, a.positional.end());
    rest.keyword = a.keyword;
    for (const Value& item : v.iterate()) out.push_back(apply_filter(filter, item, rest));
    return generator(std::move(out));
}

Value f_tojson(const Value& v, const CallArgs& a) {
    a.check("tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
    JsonOptions options;
    options.ensure_ascii = arg_bool(a, 0, "ensure_ascii", false);
    if (const Value* indent = a.get(1, "indent"); indent && !indent->is_none()) {
        if (!indent->is_int()) unsupported("tojson indent that is not an integer");
        options.indent = static_cast<int>(indent->as_int());
    }
    if (const Value* sep = a.get(2, "separators"); sep && !sep->is_none()) {
        if (!sep->is_sequence() || sep->items().size() != 2) runtime_error("ValueError: separators must be a pair");
        options.item_separator = sep->items()[0].str();
        options.key_separator = sep->items()[1].str();
    }
    options.sort_keys = arg_bool(a, 3, "sort_keys", false);
    return Value::string(to_json(v, options));
}

Value f_indent(const Value& v, const CallArgs& a) {
    a.check("indent", {"width", "first", "blank"});
    const Value* width = a.get(0, "width");
    const std::string pad =
        width && width->is_string()
            ? width->as_string()
            : std::string(static_cast<size_t>(std::max<int64_t>(0, arg_int(a, 0, "width", 4))), ' ');
    const bool first = arg_bool(a, 1, "first", false);
    const bool blank = arg_bool(a, 2, "blank", false);
    std::vector<std::string> lines = splitlines(v.str() + "\n");
    std::string out = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
        out += "\n";
        if (blank || !lines[i].empty()) out += pad;
        out += lines[i];
        check_text_size(out.size(), "an indented string");
    }
    return Value::string(first ? pad + out : out);
}

int64_t parse_int(const std::string& text, bool& ok) {
    const std::string t = py::strip(text, std::nullopt, true, true);
    std::string digits;
    for (size_t i = 0; i < t.size(); ++i) {
        if (t[i] == '_' && i > 0 && i + 1 < t.size() && isdigit(static_cast<unsigned char>(t[i - 1])) &&
            isdigit(static_cast<unsigned char>(t[i + 1]))) {
            continue;
        }
        digits += t[i];
    }
    size_t used = 0;
    int64_t value = 0;
    try {
        value = std::stoll(digits, &used, 10);
    } catch (const std::exception&) {
        used = 0;
    }
    ok = !digits.empty() && used == digits.size() && digits.find_first_of(" \t\n") == std::string::npos;
    return value;
}

// Python's float(str): surrounding whitespace, a sign, decimal or
// exponent notation, inf/nan; no hex.
std::optional<double> parse_float(const std::string& text) {
    std::string t = py::strip(text, std::nullopt, true, true);
    if (!t.empty() && t[0] == '+') t.erase(0, 1);
    if (t.empty() || t.find_first_of("xXpP") != std::string::npos || t[0] == '+') return std::nullopt;
    double d = 0;
    const auto res = std::from_chars(t.data(), t.data() + t.size(), d);
    if (res.ec != std::errc() || res.ptr != t.data() + t.size()) return std::nullopt;
    return d;
}

Value f_float(const Value& v, const CallArgs& a) {
    a.check("float", {"default"});
    if (v.is_number()) return Value::number(v.as_float());
    if (v.is_string()) {
        if (const std::optional<double> d = parse_float(v.as_string())) return Value::number(*d);
    }
    return a.get(0, "default") ? *a.get(0, "default") : Value::number(0.0);
}

Value f_int(const Value& v, const CallArgs& a) {
    a.check("int", {"default", "base"});
    if (a.get(1, "base")) unsupported("int filter with a base");
    const Value fallback = a.get(0, "default") ? *a.get(0, "default") : Value::integer(0);
    if (v.is_int()) return Value::integer(v.as_int());
    if (v.kind() == Value::Kind::Float) return Value::integer(static_cast<int64_t>(v.as_float()));
    if (!v.is_string()) return fallback;
    bool ok = false;
    const int64_t i = parse_int(v.as_string(), ok);
    if (ok) return Value::integer(i);
    const std::optional<double> d = parse_float(v.as_string());
    if (d && std::isfinite(*d) && std::fabs(*d) < 9.2e18) return Value::integer(static_cast<int64_t>(*d));
    return fallback;
}

Value f_abs(const Value& v, const CallArgs&) {
    if (v.kind() == Value::Kind::Float) return Value::number(v.as_float() < 0 ? -v.as_float() : v.as_float());
    if (v.is_int()) return Value::integer(v.as_int() < 0 ? -v.as_int() : v.as_int());
    runtime_error("TypeError: bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_sum(const Value& v, const CallArgs& a) {
    a.check("sum", {"attribute", "start"});
    const std::optional<std::string> attribute = arg_str(a, 0, "attribute");
    Value total = a.get(1, "start") ? *a.get(1, "start") : Value::integer(0);
    for (const Value& item : v.iterate()) {
        total = binary_op("+", total, attribute ? attribute_path(item, *attribute, nullptr) : item);
    }
    return total;
}

Value f_escape(const Value& v, const CallArgs&) {
    if (v.is_markup()) return v;
    return Value::markup(html_escape(v.str()));
}

struct Entry {
    const char* name;
    Filter fn;
};

const Entry kFilters[] = {
    {"abs", f_abs},
    {"capitalize", f_capitalize},
    {"count", f_length},
    {"d", f_default},
    {"default", f_default},
    {"dictsort", f_dictsort},
    {"e", f_escape},
    {"escape", f_escape},
    {"first", f_first},
    {"float", f_float},
    {"indent", f_indent},
    {"int", f_int},
    {"items", f_items},
    {"join", f_join},
    {"last", f_last},
    {"length", f_length},
    {"list", f_list},
    {"lower", f_lower},
    {"map", f_map},
    {"max", f_max},
    {"min", f_min},
    {"reject", f_reject},
    {"rejectattr", f_rejectattr},
    {"replace", f_replace},
    {"reverse", f_reverse},
    {"safe", f_safe},
    {"select", f_select},
    {"selectattr", f_selectattr},
    {"sort", f_sort},
    {"string", f_string},
    {"sum", f_sum},
    {"title", f_title},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"unique", f_unique},
    {"upper", f_upper},
};

const Entry* find_filter(std::string_view name) {
    for (const Entry& e : kFilters) {
        if (name == e.name) return &e;
    }
    return nullptr;
}

}  // namespace

bool implements_filter(std::string_view name) { return find_filter(name) != nullptr; }

Value apply_filter(const std::string& name, const Value& target, const CallArgs& args) {
    const Entry* e = find_filter(name);
    if (!e) {
        if (jinja2_has_filter(name)) unsupported("filter '" + name + "'");
        runtime_error("TemplateRuntimeError: No filter named '" + name + "' found.");
    }
    return e->fn(target, args);
}

}  // namespace worker::chat
