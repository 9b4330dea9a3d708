// The values a chat template computes with, modelled on the Python objects
// jinja2 hands around: undefined, None, bool, int, float, str, list, tuple,
// dict (insertion-ordered), namespace, callables and one-shot iterators
// (what jinja2's map/select filters and reversed() return).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace worker::chat {

struct CallArgs;
struct Function;
class Dict;
struct Iterator;

class Value {
public:
    enum class Kind { Undefined, None, Bool, Int, Float, String, List, Tuple, Dict, Namespace, Function, Iterator };

    Value() = default;  // undefined
    static Value undefined(std::string hint = "");
    static Value none();
    static Value boolean(bool b);
    static Value integer(int64_t i);
    static Value number(double d);
    static Value string(std::string s);
    // A str jinja2 marks safe (markupsafe.Markup, from |safe and |escape):
    // adding a plain str to it HTML-escapes the plain str.
    static Value markup(std::string s);
    static Value list(std::vector<Value> items);
    static Value tuple(std::vector<Value> items);
    static Value dict(Dict d);
    static Value namespace_(Dict d);
    static Value function(std::string name, std::function<Value(const CallArgs&)> call);
    static Value iterator(std::string type_name, std::vector<Value> items, bool view = false);

    Kind kind() const { return kind_; }
    bool is_undefined() const { return kind_ == Kind::Undefined; }
    bool is_none() const { return kind_ == Kind::None; }
    bool is_bool() const { return kind_ == Kind::Bool; }
    bool is_int() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }  // Python: bool is an int
    bool is_number() const { return is_int() || kind_ == Kind::Float; }
    bool is_string() const { return kind_ == Kind::String; }
    bool is_markup() const { return kind_ == Kind::String && markup_; }
    bool is_sequence() const { return kind_ == Kind::List || kind_ == Kind::Tuple; }
    bool is_dict() const { return kind_ == Kind::Dict; }
    bool is_namespace() const { return kind_ == Kind::Namespace; }
    bool is_function() const { return kind_ == Kind::Function; }
    bool is_iterator() const { return kind_ == Kind::Iterator; }

    bool as_bool() const { return int_ != 0; }
    int64_t as_int() const { return int_; }  // Int or Bool
    double as_float() const;                 // any number
    // String; the hint of Undefined. Strings are shared between copies.
    const std::string& as_string() const;
    const std::vector<Value>& items() const;  // List or Tuple
    const Dict& dict() const;                 // Dict or Namespace
    Dict& namespace_dict() const;             // Namespace (mutable)
    const Function& function() const { return *fn_; }
    Iterator& iter() const { return *it_; }

    // Python's truth value (undefined is false; an iterator that is no view is true).
    bool truthy() const;
    // Python's type name, for error messages: 'NoneType', 'str', 'dict', ...
    std::string type_name() const;
    // Python's str(): what {{ value }} prints (undefined prints nothing).
    std::string str() const;
    // Python's repr() (fails past 900 levels of nesting, as Python would).
    std::string repr(int depth = 0) const;
    // Python's ==.
    bool equals(const Value& other) const;
    // Python's len(); fails for values without one.
    size_t length() const;
    // The items a for loop visits: list/tuple items, dict keys, characters,
    // nothing for undefined; consumes an iterator. Fails for the rest.
    std::vector<Value> iterate() const;

private:
    Kind kind_ = Kind::Undefined;
    bool markup_ = false;
    int depth_ = 0;  // how deep containers nest inside this value (0: not a container)
    int64_t int_ = 0;
    double float_ = 0;
    std::shared_ptr<const std::string> str_;
    std::shared_ptr<const std::vector<Value>> seq_;
    std::shared_ptr<Dict> dict_;
    std::shared_ptr<Function> fn_;
    std::shared_ptr<Iterator> it_;
};

// Arguments of a call: positional, then keyword (in the order written).
struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;

    // The argument at `index` or named `name`, nullptr when absent.
    const Value* get(size_t index, const char* name) const;
    // Fails (runtime error naming `what`) on a keyword not in `allowed` or
    // more than allowed.size() arguments in all.
    void check(const char* what, std::initializer_list<const char*> allowed) const;
};

struct Function {
    std::string name;  // as error messages name it: "macro 'm'", "str.split"
    std::function<Value(const CallArgs&)> call;
};

class Dict {
public:
    const Value* find(const Value& key) const;
    const Value* find(const std::string& key) const;
    void set(const Value& key, Value value);  // replaces in place or appends
    void append(Value key, Value value);      // for a key known to be new
    const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }
    size_t size() const { return entries_.size(); }

private:
    std::vector<std::pair<Value, Value>> entries_;
};

// A Python iterator: consumed by iteration unless it is a view (dict_items,
// dict_keys, dict_values), which has a length and can be iterated again.
struct Iterator {
    std::string type_name;  // "generator", "list_reverseiterator", "dict_items", "range", ...
    std::vector<Value> items;
    size_t pos = 0;
    bool view = false;
    std::string repr;  // how Python prints it ("range(0, 3)"); empty: a view prints its items, others refuse
};

// markupsafe.escape: & < > " ' as HTML entities.
std::string html_escape(const std::string& s);

// Python's < for two values; fails (TypeError) for kinds that do not order.
bool less_than(const Value& a, const Value& b);

}  // namespace worker::chat
