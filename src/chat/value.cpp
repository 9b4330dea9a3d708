#include "chat/value.h"

#include <algorithm>

#include "chat/error.h"
#include "chat/pystr.h"

namespace worker::chat {

const Value* CallArgs::get(size_t index, const char* name) const {
    if (index < positional.size()) return &positional[index];
    for (const auto& [key, value] : keyword) {
        if (key == name) return &value;
    }
    return nullptr;
}

void CallArgs::check(const char* what, std::initializer_list<const char*> allowed) const {
    if (positional.size() > allowed.size()) {
        runtime_error(std::string(what) + "() takes at most " + std::to_string(allowed.size()) + " arguments (" +
                      std::to_string(positional.size()) + " given)");
    }
    for (const auto& kw : keyword) {
        bool known = false;
        for (const char* name : allowed) known = known || kw.first == name;
        if (!known) runtime_error(std::string(what) + "() got an unexpected keyword argument '" + kw.first + "'");
    }
}

const Value* Dict::find(const Value& key) const {
    for (const auto& entry : entries_) {
        if (entry.first.equals(key)) return &entry.second;
    }
    return nullptr;
}

const Value* Dict::find(const std::string& key) const {
    for (const auto& entry : entries_) {
        if (entry.first.is_string() && entry.first.as_string() == key) return &entry.second;
    }
    return nullptr;
}

void Dict::set(const Value& key, Value value) {
    for (auto& entry : entries_) {
        if (entry.first.equals(key)) {
            entry.second = std::move(value);
            return;
        }
    }
    entries_.emplace_back(key, std::move(value));
}

void Dict::append(Value key, Value value) { entries_.emplace_back(std::move(key), std::move(value)); }

Value Value::undefined(std::string hint) {
    Value v;
    v.str_ = std::make_shared<const std::string>(std::move(hint));
    return v;
}

Value Value::none() {
    Value v;
    v.kind_ = Kind::None;
    return v;
}

Value Value::boolean(bool b) {
    Value v;
    v.kind_ = Kind::Bool;
    v.int_ = b ? 1 : 0;
    return v;
}

Value Value::integer(int64_t i) {
    Value v;
    v.kind_ = Kind::Int;
    v.int_ = i;
    return v;
}

Value Value::number(double d) {
    Value v;
    v.kind_ = Kind::Float;
    v.float_ = d;
    return v;
}

Value Value::string(std::string s) {
    Value v;
    v.kind_ = Kind::String;
    check_text_size(s.size(), "string");
    v.str_ = std::make_shared<const std::string>(std::move(s));
    return v;
}

Value Value::markup(std::string s) {
    Value v = string(std::move(s));
    v.markup_ = true;
    return v;
}

namespace {

// Containers nest at most this deep: Python stops at its recursion limit
// (about 1000) in repr and json.dumps, and this keeps destruction and every
// recursive walk well within the stack.
constexpr int kMaxNesting = 1000;

int nested_depth(int child_depth) {
    if (child_depth + 1 > kMaxNesting) runtime_error("RecursionError: values nested more than 1000 levels deep");
    return child_depth + 1;
}

}  // namespace

Value Value::list(std::vector<Value> items) {
    Value v;
    v.kind_ = Kind::List;
    check_item_count(items.size(), "a list");
    int deepest = 0;
    for (const Value& item : items) deepest = std::max(deepest, item.depth_);
    v.depth_ = nested_depth(deepest);
    v.seq_ = std::make_shared<const std::vector<Value>>(std::move(items));
    return v;
}

Value Value::tuple(std::vector<Value> items) {
    Value v = list(std::move(items));
    v.kind_ = Kind::Tuple;
    return v;
}

Value Value::dict(Dict d) {
    Value v;
    v.kind_ = Kind::Dict;
    int deepest = 0;
    for (const auto& [key, value] : d.entries()) deepest = std::max({deepest, key.depth_, value.depth_});
    v.depth_ = nested_depth(deepest);
    v.dict_ = std::make_shared<Dict>(std::move(d));
    return v;
}

Value Value::namespace_(Dict d) {
    Value v = dict(std::move(d));
    v.kind_ = Kind::Namespace;
    return v;
}

Value Value::function(std::string name, std::function<Value(const CallArgs&)> call) {
    Value v;
    v.kind_ = Kind::Function;
    v.fn_ = std::make_shared<Function>(Function{std::move(name), std::move(call)});
    return v;
}

Value Value::iterator(std::string type_name, std::vector<Value> items, bool view) {
    Value v;
    v.kind_ = Kind::Iterator;
    v.it_ = std::make_shared<Iterator>(Iterator{std::move(type_name), std::move(items), 0, view});
    return v;
}

const std::string& Value::as_string() const {
    static const std::string empty;
    return str_ ? *str_ : empty;
}

double Value::as_float() const { return kind_ == Kind::Float ? float_ : static_cast<double>(int_); }

const std::vector<Value>& Value::items() const { return *seq_; }

const Dict& Value::dict() const { return *dict_; }

Dict& Value::namespace_dict() const { return *dict_; }

bool Value::truthy() const {
    switch (kind_) {
        case Kind::Undefined:
        case Kind::None:
            return false;
        case Kind::Bool:
        case Kind::Int:
            return int_ != 0;
        case Kind::Float:
            return float_ != 0;
        case Kind::String:
            return !as_string().empty();
        case Kind::List:
        case Kind::Tuple:
            return !seq_->empty();
        case Kind::Dict:
            return dict_->size() != 0;
        case Kind::Iterator:
            return !it_->view || !it_->items.empty();
        case Kind::Namespace:
        case Kind::Function:
            return true;
    }
    return false;
}

std::string Value::type_name() const {
    switch (kind_) {
        case Kind::Undefined:
            return "Undefined";
        case Kind::None:
            return "NoneType";
        case Kind::Bool:
            return "bool";
        case Kind::Int:
            return "int";
        case Kind::Float:
            return "float";
        case Kind::String:
            return "str";
        case Kind::List:
            return "list";
        case Kind::Tuple:
            return "tuple";
        case Kind::Dict:
            return "dict";
        case Kind::Namespace:
            return "Namespace";
        case Kind::Function:
            return "function";
        case Kind::Iterator:
            return it_->type_name;
    }
    return "object";
}

std::string Value::str() const {
    switch (kind_) {
        case Kind::Undefined:
            return "";
        case Kind::String:
            return as_string();
        default:
            return repr();
    }
}

std::string Value::repr(int depth) const {
    if (depth > 900)
        runtime_error("RecursionError: maximum recursion depth exceeded while getting the repr of an object");
    switch (kind_) {
        case Kind::Undefined:
            return "Undefined";
        case Kind::None:
            return "None";
        case Kind::Bool:
            return int_ ? "True" : "False";
        case Kind::Int:
            return std::to_string(int_);
        case Kind::Float:
            return py::float_repr(float_);
        case Kind::String:
            return py::repr(as_string());
        case Kind::List:
        case Kind::Tuple: {
            std::string out = kind_ == Kind::List ? "[" : "(";
            for (size_t i = 0; i < seq_->size(); ++i) {
                out += (i ? ", " : "") + (*seq_)[i].repr(depth + 1);
                check_text_size(out.size(), "a printed value");
            }
            if (kind_ == Kind::Tuple && seq_->size() == 1) out += ",";
            return out + (kind_ == Kind::List ? "]" : ")");
        }
        case Kind::Dict:
        case Kind::Namespace: {
            std::string out = kind_ == Kind::Dict ? "{" : "<Namespace {";
            bool first = true;
            for (const auto& [key, value] : dict_->entries()) {
                out += (first ? "" : ", ") + key.repr(depth + 1) + ": " + value.repr(depth + 1);
                check_text_size(out.size(), "a printed value");
                first = false;
            }
            return out + (kind_ == Kind::Dict ? "}" : "}>");
        }
        case Kind::Iterator:
            if (!it_->repr.empty()) return it_->repr;
            if (it_->view)
                return it_->type_name + "(" + Value::list(it_->items).repr(depth) + ")";  // dict_items([...])
            [[fallthrough]];
        case Kind::Function:
            // Python prints an object address here: no stable text to match.
            unsupported("printing a " + type_name() + " object (Python prints its memory address)");
    }
    return "";
}

bool Value::equals(const Value& other) const {
    if (is_number() && other.is_number()) {
        if (kind_ == Kind::Float || other.kind_ == Kind::Float) return as_float() == other.as_float();
        return int_ == other.int_;
    }
    if (kind_ != other.kind_) return false;
    switch (kind_) {
        case Kind::Undefined:
        case Kind::None:
            return true;
        case Kind::String:
            return as_string() == other.as_string();
        case Kind::List:
        case Kind::Tuple: {
            if (seq_->size() != other.seq_->size()) return false;
            for (size_t i = 0; i < seq_->size(); ++i) {
                if (!(*seq_)[i].equals((*other.seq_)[i])) return false;
            }
            return true;
        }
        case Kind::Dict: {
            if (dict_->size() != other.dict_->size()) return false;
            for (const auto& [key, value] : dict_->entries()) {
                const Value* match = other.dict_->find(key);
                if (!match || !match->equals(value)) return false;
            }
            return true;
        }
        case Kind::Namespace:
            return dict_ == other.dict_;
        case Kind::Function:
            return fn_ == other.fn_;
        case Kind::Iterator:
            return it_ == other.it_;
        default:
            return false;
    }
}

size_t Value::length() const {
    switch (kind_) {
        case Kind::Undefined:
            return 0;
        case Kind::String:
            return py::length(as_string());
        case Kind::List:
        case Kind::Tuple:
            return seq_->size();
        case Kind::Dict:
            return dict_->size();
        case Kind::Iterator:
            if (it_->view) return it_->items.size();
            [[fallthrough]];
        default:
            runtime_error("TypeError: object of type '" + type_name() + "' has no len()");
    }
}

std::vector<Value> Value::iterate() const {
    switch (kind_) {
        case Kind::Undefined:
            return {};
        case Kind::String: {
            std::vector<Value> out;
            const std::u32string chars = py::decode(as_string());
            check_item_count(chars.size(), "the characters of a string");
            for (char32_t c : chars) {
                std::string one;
                py::append_utf8(one, c);
                out.push_back(Value::string(std::move(one)));
            }
            return out;
        }
        case Kind::List:
        case Kind::Tuple:
            return *seq_;
        case Kind::Dict: {
            std::vector<Value> keys;
            for (const auto& entry : dict_->entries()) keys.push_back(entry.first);
            return keys;
        }
        case Kind::Iterator: {
            std::vector<Value> rest(it_->items.begin() + static_cast<std::ptrdiff_t>(it_->pos), it_->items.end());
            if (!it_->view) it_->pos = it_->items.size();
            return rest;
        }
        default:
            runtime_error("TypeError: '" + type_name() + "' object is not iterable");
    }
}

std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&#34;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

bool less_than(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.kind() == Value::Kind::Float || b.kind() == Value::Kind::Float) return a.as_float() < b.as_float();
        return a.as_int() < b.as_int();
    }
    if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();  // UTF-8 order is code point order
    if (a.kind() == b.kind() && a.is_sequence()) {
        const auto& x = a.items();
        const auto& y = b.items();
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (!x[i].equals(y[i])) return less_than(x[i], y[i]);
        }
        return x.size() < y.size();
    }
    runtime_error("TypeError: '<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() +
                  "'");
}

}  // namespace worker::chat
