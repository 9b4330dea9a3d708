// libFuzzer target: arbitrary bytes as a chat template (a GGUF's
// tokenizer.chat_template comes from the model file), parsed and, when it
// parses, rendered for a conversation with a system message, a tool call and
// its result, and tools offered. Only chat::TemplateError may come out: no
// crash, leak, hang or other exception (runaway templates hit the
// interpreter's limits).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_template.h"

namespace {

std::vector<worker::chat::Message> conversation() {
    using worker::chat::Message;
    using worker::chat::ToolCall;
    std::vector<Message> m(5);
    m[0] = {"system", "You are helpful.", {}, "", "", std::nullopt};
    m[1] = {"user", "Weather in Paris? {{ x }} <|im_end|>", {}, "", "", std::nullopt};
    m[2] = {"assistant", std::nullopt, {ToolCall{"c1", "get_weather", R"({"city": "Paris", "n": [1, 2.5]})"}},
            "", "", "thinking"};
    m[3] = {"tool", R"({"t": 18})", {}, "c1", "get_weather", std::nullopt};
    m[4] = {"user", "Thanks \xc3\xa9\xf0\x9f\x98\x80", {}, "", "", std::nullopt};
    return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view source(reinterpret_cast<const char*>(data), size);
    static const std::vector<worker::chat::Message> messages = conversation();
    worker::chat::ChatOptions options;
    options.bos_token = "<s>";
    options.eos_token = "</s>";
    options.tools_json = R"([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}])";
    options.extra_context_json = R"({"enable_thinking": false})";
    options.now = std::tm{};
    try {
        const worker::chat::ChatTemplate tmpl(source);
        for (bool add_generation_prompt : {false, true}) {
            options.add_generation_prompt = add_generation_prompt;
            (void)tmpl.apply(messages, options);
        }
    } catch (const worker::chat::TemplateError&) {
    }
    return 0;
}
