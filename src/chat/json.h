// JSON for chat templates: the tojson filter as Hugging Face transformers
// defines it (Python's json.dumps with ensure_ascii=False and keys in
// insertion order unless asked otherwise), and a reader that turns JSON text
// (messages, tool schemas) into template values, keeping key order.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "chat/value.h"

namespace worker::chat {

struct JsonOptions {
    bool ensure_ascii = false;
    std::optional<int> indent;                  // json.dumps(indent=N): newlines and N spaces per level
    std::optional<std::string> item_separator;  // default ", " (",") with indent)
    std::optional<std::string> key_separator;   // default ": "
    bool sort_keys = false;
};

// json.dumps(value, ...). Fails with Python's TypeError for values JSON has no
// form for (undefined, namespaces, functions, iterators, odd dict keys).
std::string to_json(const Value& value, const JsonOptions& options = {});

// Parses JSON text: objects become dicts in document order, integers ints,
// other numbers floats. Throws TemplateError (Runtime) naming the offset of
// the first syntax error.
Value parse_json(std::string_view text);

}  // namespace worker::chat
