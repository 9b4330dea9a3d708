// A parsed Jinja template that renders the way jinja2 renders it inside
// Hugging Face transformers' apply_chat_template (an immutable sandboxed
// environment with trim_blocks and lstrip_blocks, the loopcontrols extension,
// the {% generation %} tag, and the globals raise_exception and strftime_now).
// docs/chat-templates.md lists the subset implemented.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

#include "chat/ast.h"
#include "chat/lexer.h"
#include "chat/value.h"

namespace worker::chat {

class Template {
public:
    // Parses the template. Throws TemplateError: Syntax where jinja2 refuses
    // to compile it, Unsupported (naming the construct and line) for jinja2
    // features this interpreter does not implement.
    explicit Template(std::string_view source, const LexOptions& options = {});

    // Renders with `context` as the template's variables; strftime_now(fmt)
    // formats `now`. Throws TemplateError where jinja2 would raise (Raised for
    // raise_exception, Runtime for errors such as an undefined value used),
    // and Unsupported for a construct reached that is not implemented.
    std::string render(const Dict& context, const std::tm& now) const;

private:
    Body body_;
};

}  // namespace worker::chat
