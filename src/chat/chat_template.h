// Applies a model's chat template (the GGUF's tokenizer.chat_template) to a
// conversation, giving the prompt text, byte for byte what Hugging Face
// transformers' apply_chat_template gives with jinja2 (tokenize=False).
//
// The template sees the variables transformers passes: messages,
// add_generation_prompt, tools (None when no tools are offered), documents
// (None), bos_token, eos_token, plus any extra variables given as a JSON
// object (e.g. {"enable_thinking": false}); and the functions
// raise_exception(message) and strftime_now(format).
//
// Every failure throws chat::TemplateError (a worker::Error with
// CUDA_ERROR_INVALID_PARAMETER) whose message names the line and says what
// failed: the template's own raise_exception message, a construct this
// interpreter does not implement, or the error jinja2 would raise.
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/error.h"
#include "chat/value.h"

namespace worker::chat {

class Template;

struct ToolCall {
    std::string id;              // omitted from the message when empty
    std::string name;            // the function called
    std::string arguments_json;  // a JSON object, handed to the template as a dict
};

struct Message {
    std::string role;                              // "system", "user", "assistant", "tool", ...
    std::optional<std::string> content;            // nullopt: the message has no "content" key
    std::vector<ToolCall> tool_calls;              // an assistant's calls
    std::string tool_call_id;                      // a tool result: the call it answers (omitted when empty)
    std::string name;                              // a tool result: the function's name (omitted when empty)
    std::optional<std::string> reasoning_content;  // an assistant's reasoning, for templates that show it
};

struct ChatOptions {
    bool add_generation_prompt = true;
    std::string bos_token;
    std::string eos_token;
    std::string tools_json;          // JSON array of tool schemas; empty: tools = None
    std::string extra_context_json;  // JSON object of more template variables; empty: none
    std::optional<std::tm> now;      // what strftime_now formats; default: the local time now
};

// The messages as the dicts a template sees: role, content, tool_calls
// ({id, type: "function", function: {name, arguments}}), tool_call_id, name,
// reasoning_content, in that order, each only when present.
Value messages_value(const std::vector<Message>& messages);

// A parsed chat template, reusable across conversations and threads.
class ChatTemplate {
public:
    // Throws TemplateError when the template does not parse or uses a
    // construct this interpreter does not implement.
    explicit ChatTemplate(std::string_view source);
    ~ChatTemplate();
    ChatTemplate(ChatTemplate&&) noexcept;
    ChatTemplate& operator=(ChatTemplate&&) noexcept;

    std::string apply(const std::vector<Message>& messages, const ChatOptions& options) const;
    // `messages` is a list of dicts (e.g. parse_json of an OpenAI-style array).
    std::string apply(const Value& messages, const ChatOptions& options) const;

private:
    std::unique_ptr<Template> template_;
};

// Parses and applies in one call.
std::string render_chat(std::string_view template_text, const std::vector<Message>& messages,
                        const ChatOptions& options);

}  // namespace worker::chat
