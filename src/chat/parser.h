// Builds the syntax tree from tokens, with jinja2's grammar and operator
// precedence. Unknown tags, filters and tests fail as jinja2 fails at compile
// time; jinja2 features this interpreter does not implement (template
// inheritance, includes, imports, call blocks, recursive loops, ...) fail as
// TemplateError(Unsupported) naming the construct and its line.
#pragma once

#include <string_view>

#include "chat/ast.h"
#include "chat/lexer.h"

namespace worker::chat {

Body parse(std::vector<Token> tokens);

// Whether jinja2 (with the environment of transformers' apply_chat_template)
// has a filter / test of this name, and whether this interpreter implements it.
bool jinja2_has_filter(std::string_view name);
bool jinja2_has_test(std::string_view name);
bool implements_filter(std::string_view name);
bool implements_test(std::string_view name);

}  // namespace worker::chat
