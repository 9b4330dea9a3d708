// What jinja2 (sandboxed, immutable) does with values: attribute and item
// access including the Python methods of str, dict and list, slicing,
// arithmetic, comparison, calls, and the builtin filters and tests.
#pragma once

#include <optional>
#include <string>

#include "chat/value.h"

namespace worker::chat {

// obj.name: a Python attribute (a method of str/dict/list, a namespace
// attribute) first, else obj["name"]; undefined when neither exists. Methods
// that would modify a list or dict are undefined values that fail when called
// (jinja2's ImmutableSandboxedEnvironment). Fails on an undefined obj.
Value get_attribute(const Value& obj, const std::string& name);
// obj[key]: item first, else (for a str key) the attribute; undefined when neither.
Value get_item(const Value& obj, const Value& key);
// obj[start:stop:step] of a str, list or tuple.
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);

// a op b for + - * / // % **; fails as Python would on mismatched types.
Value binary_op(const std::string& op, const Value& a, const Value& b);
// a op b for == != < <= > >= in, "not in".
bool compare_op(const std::string& op, const Value& a, const Value& b);
// item in container (str in str, item in list/tuple, key in dict).
bool contains(const Value& container, const Value& item);
// -v and +v.
Value negate(const Value& v);

// Calls a function value; fails for anything else (an undefined value fails
// with its own message, e.g. jinja2's SecurityError for list.append).
Value call_value(const Value& callee, const CallArgs& args);

// The builtin filters and tests (see docs/chat-templates.md for the list).
Value apply_filter(const std::string& name, const Value& target, const CallArgs& args);
bool apply_test(const std::string& name, const Value& target, const CallArgs& args);

// Shared argument helpers: the argument as int/str/bool, `fallback` when absent.
int64_t arg_int(const CallArgs& args, size_t index, const char* name, int64_t fallback);
std::optional<std::string> arg_str(const CallArgs& args, size_t index, const char* name);
bool arg_bool(const CallArgs& args, size_t index, const char* name, bool fallback);

// Fails with the message of an undefined value used where jinja2 raises UndefinedError.
[[noreturn]] void fail_undefined(const Value& v);

}  // namespace worker::chat
