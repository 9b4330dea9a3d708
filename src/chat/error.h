// The errors of the chat-template interpreter. Every one is a worker::Error
// with CUDA_ERROR_INVALID_PARAMETER: a template that cannot be rendered for
// the messages given is a bad request, whether the template refuses them
// (raise_exception), uses a construct this interpreter does not implement, or
// fails the way jinja2 would fail (an undefined value used, a type error).
#pragma once

#include <string>

#include "core/error.h"

namespace worker::chat {

class TemplateError : public Error {
public:
    enum class Kind {
        Syntax,       // the template does not parse (jinja2 refuses it too)
        Unsupported,  // a construct jinja2 has and this interpreter does not implement
        Raised,       // the template called raise_exception(message)
        Runtime,      // jinja2 would raise while rendering (undefined, type error, ...)
    };

    TemplateError(Kind kind, int line, const std::string& message)
        : Error(CUDA_ERROR_INVALID_PARAMETER, format(kind, line, message)),
          kind_(kind),
          line_(line),
          detail_(message) {}

    Kind kind() const noexcept { return kind_; }
    int line() const noexcept { return line_; }                     // 0 when unknown
    const std::string& detail() const noexcept { return detail_; }  // the message without prefix and line

private:
    static std::string format(Kind kind, int line, const std::string& message) {
        std::string out = "chat template";
        if (line > 0) out += " line " + std::to_string(line);
        switch (kind) {
            case Kind::Syntax:
                out += ": syntax error: ";
                break;
            case Kind::Unsupported:
                out += ": unsupported: ";
                break;
            case Kind::Raised:
                out += ": raise_exception: ";
                break;
            case Kind::Runtime:
                out += ": ";
                break;
        }
        return out + message;
    }

    Kind kind_;
    int line_;
    std::string detail_;
};

// Errors raised below the interpreter (values, filters) do not know the line:
// the interpreter catches them and adds the line of the node being evaluated.
[[noreturn]] inline void runtime_error(const std::string& message) {
    throw TemplateError(TemplateError::Kind::Runtime, 0, message);
}
[[noreturn]] inline void unsupported(const std::string& message) {
    throw TemplateError(TemplateError::Kind::Unsupported, 0, message);
}

// The most bytes a string (and a rendering) may hold, the most items a list
// may, and the most statements and loop iterations a render may run: past
// these a runaway template fails instead of exhausting memory or time. Real
// chat templates stay orders of magnitude below.
constexpr size_t kMaxTextBytes = size_t{64} << 20;
constexpr size_t kMaxItems = size_t{1} << 20;
constexpr size_t kMaxSteps = 2'000'000;

inline void check_text_size(size_t bytes, const char* what) {
    if (bytes > kMaxTextBytes) unsupported(std::string(what) + " longer than 64 MiB");
}
inline void check_item_count(size_t items, const char* what) {
    if (items > kMaxItems) unsupported(std::string(what) + " of more than 1048576 items");
}

}  // namespace worker::chat
