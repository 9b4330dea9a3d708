#include "chat/chat_template.h"

#include <mutex>

#include "chat/json.h"
#include "chat/template.h"

namespace worker::chat {

namespace {

Value json_or(const std::string& text, const char* what, Value fallback) {
    if (text.empty()) return fallback;
    try {
        return parse_json(text);
    } catch (const TemplateError& e) {
        throw TemplateError(TemplateError::Kind::Runtime, 0, std::string(what) + ": " + e.detail());
    }
}

Value tool_call_value(const ToolCall& call) {
    Dict function;
    function.set(Value::string("name"), Value::string(call.name));
    function.set(Value::string("arguments"), json_or(call.arguments_json, "tool call arguments", Value::dict({})));
    Dict d;
    if (!call.id.empty()) d.set(Value::string("id"), Value::string(call.id));
    d.set(Value::string("type"), Value::string("function"));
    d.set(Value::string("function"), Value::dict(std::move(function)));
    return Value::dict(std::move(d));
}

std::tm local_now() {
    // localtime_r reads the time zone under glibc's own lock, which thread
    // sanitizers do not see; one mutex of ours makes concurrent renders
    // visibly ordered.
    static std::mutex mutex;
    const std::time_t t = std::time(nullptr);
    std::tm out{};
    const std::lock_guard<std::mutex> lock(mutex);
    localtime_r(&t, &out);
    return out;
}

}  // namespace

Value messages_value(const std::vector<Message>& messages) {
    std::vector<Value> out;
    for (const Message& m : messages) {
        Dict d;
        d.set(Value::string("role"), Value::string(m.role));
        if (m.content) d.set(Value::string("content"), Value::string(*m.content));
        if (!m.tool_calls.empty()) {
            std::vector<Value> calls;
            for (const ToolCall& call : m.tool_calls) calls.push_back(tool_call_value(call));
            d.set(Value::string("tool_calls"), Value::list(std::move(calls)));
        }
        if (!m.tool_call_id.empty()) d.set(Value::string("tool_call_id"), Value::string(m.tool_call_id));
        if (!m.name.empty()) d.set(Value::string("name"), Value::string(m.name));
        if (m.reasoning_content) d.set(Value::string("reasoning_content"), Value::string(*m.reasoning_content));
        out.push_back(Value::dict(std::move(d)));
    }
    return Value::list(std::move(out));
}

ChatTemplate::ChatTemplate(std::string_view source) : template_(std::make_unique<Template>(source)) {}
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::apply(const std::vector<Message>& messages, const ChatOptions& options) const {
    return apply(messages_value(messages), options);
}

std::string ChatTemplate::apply(const Value& messages, const ChatOptions& options) const {
    Dict context;
    const Value extra = json_or(options.extra_context_json, "extra template variables", Value::dict({}));
    if (!extra.is_dict())
        throw TemplateError(TemplateError::Kind::Runtime, 0, "extra template variables: not an object");
    context.set(Value::string("messages"), messages);
    context.set(Value::string("tools"), json_or(options.tools_json, "tools", Value::none()));
    context.set(Value::string("documents"), Value::none());
    context.set(Value::string("add_generation_prompt"), Value::boolean(options.add_generation_prompt));
    context.set(Value::string("bos_token"), Value::string(options.bos_token));
    context.set(Value::string("eos_token"), Value::string(options.eos_token));
    for (const auto& [key, value] : extra.dict().entries()) context.set(key, value);
    return template_->render(context, options.now ? *options.now : local_now());
}

std::string render_chat(std::string_view template_text, const std::vector<Message>& messages,
                        const ChatOptions& options) {
    return ChatTemplate(template_text).apply(messages, options);
}

}  // namespace worker::chat
