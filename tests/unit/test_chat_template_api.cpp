// The chat-template API (render_chat, ChatTemplate, Message) and the errors
// of the interpreter: constructs it does not implement are refused with an
// error naming the construct and its line, never rendered as something else.
// Expected renderings come from jinja2 (tests/data/chat_templates/renderings.json).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "chat/chat_template.h"
#include "chat/json.h"
#include "chat/template.h"

namespace {

using worker::chat::ChatOptions;
using worker::chat::ChatTemplate;
using worker::chat::Message;
using worker::chat::TemplateError;
using worker::chat::ToolCall;
using worker::chat::Value;

std::string data_dir() { return std::string(WORKER_SOURCE_DIR) + "/tests/data/chat_templates"; }

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// jinja2's rendering of `conversation` by `template_name`.
std::string jinja2_output(const std::string& template_name, const std::string& conversation,
                          bool add_generation_prompt) {
    static const Value oracle = worker::chat::parse_json(read_file(data_dir() + "/renderings.json"));
    for (const Value& c : oracle.dict().find(std::string("cases"))->items()) {
        const auto& d = c.dict();
        if (d.find(std::string("template"))->as_string() == template_name &&
            d.find(std::string("conversation"))->as_string() == conversation &&
            d.find(std::string("add_generation_prompt"))->as_bool() == add_generation_prompt) {
            return d.find(std::string("output"))->as_string();
        }
    }
    throw std::runtime_error("no rendering for " + template_name + " / " + conversation);
}

ChatOptions oracle_options(bool add_generation_prompt) {
    ChatOptions options;
    options.add_generation_prompt = add_generation_prompt;
    options.bos_token = "<|bos|>";
    options.eos_token = "<|eos|>";
    std::tm now{};
    now.tm_year = 125;
    now.tm_mon = 2;
    now.tm_mday = 7;
    now.tm_hour = 9;
    now.tm_min = 5;
    now.tm_sec = 2;
    std::mktime(&now);
    options.now = now;
    return options;
}

std::string render(const std::string& source, const std::string& context_json = "{}") {
    std::tm now{};
    return worker::chat::Template(source).render(worker::chat::parse_json(context_json).dict(), now);
}

// Runs `f`, which must throw a TemplateError of `kind` whose message contains
// every one of `parts`.
template <typename F>
void expect_error(F f, TemplateError::Kind kind, std::initializer_list<const char*> parts) {
    try {
        f();
        ADD_FAILURE() << "no error; expected one containing " << *parts.begin();
    } catch (const TemplateError& e) {
        EXPECT_EQ(e.kind(), kind) << e.what();
        EXPECT_EQ(e.code(), CUDA_ERROR_INVALID_PARAMETER);
        for (const char* part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
}

TEST(ChatTemplateApi, MessagesFromStructsRenderAsJinja2Did) {
    const std::string qwen = read_file(data_dir() + "/Qwen-Qwen2.5-7B-Instruct.jinja");
    const std::vector<Message> messages = {
        {"system", "You are a concise assistant.", {}, "", "", std::nullopt},
        {"user", "What is 2 + 2?", {}, "", "", std::nullopt},
        {"assistant", "2 + 2 = 4.", {}, "", "", std::nullopt},
        {"user", "And times 3?", {}, "", "", std::nullopt},
    };
    for (bool agp : {false, true}) {
        EXPECT_EQ(worker::chat::render_chat(qwen, messages, oracle_options(agp)),
                  jinja2_output("Qwen-Qwen2.5-7B-Instruct", "multi_turn", agp));
    }
}

TEST(ChatTemplateApi, ToolCallsFromStructsRenderAsJinja2Did) {
    const ChatTemplate qwen(read_file(data_dir() + "/Qwen-Qwen2.5-7B-Instruct.jinja"));
    const Value conversations = worker::chat::parse_json(read_file(data_dir() + "/conversations.json"));
    std::vector<Message> messages(5);
    messages[0] = {"user", "What's the weather in Paris?", {}, "", "", std::nullopt};
    messages[1] = {"assistant", "", {ToolCall{"call_0001", "get_weather", R"({"city": "Paris", "unit": "celsius"})"}},
                   "",          "", std::nullopt};
    messages[2] = {"tool", R"({"temperature": 18, "sky": "cloudy"})", {}, "call_0001", "get_weather", std::nullopt};
    messages[3] = {"assistant", "It is 18 °C and cloudy in Paris.", {}, "", "", std::nullopt};
    messages[4] = {"user", "And tomorrow?", {}, "", "", std::nullopt};
    ChatOptions options = oracle_options(true);
    options.tools_json = worker::chat::to_json(*conversations.dict().find(std::string("tools")));
    EXPECT_EQ(qwen.apply(messages, options), jinja2_output("Qwen-Qwen2.5-7B-Instruct", "tool_call", true));
}

TEST(ChatTemplateApi, ParsedTemplateRendersOnManyThreads) {
    const ChatTemplate qwen(read_file(data_dir() + "/Qwen-Qwen2.5-7B-Instruct.jinja"));
    const std::vector<Message> messages = {{"user", "Hello!", {}, "", "", std::nullopt}};
    const std::string want = jinja2_output("Qwen-Qwen2.5-7B-Instruct", "user_only", true);
    std::vector<std::thread> threads;
    std::vector<std::string> got(4);
    const ChatOptions options = oracle_options(true);
    for (size_t t = 0; t < got.size(); ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 20; ++i) got[t] = qwen.apply(messages, options);
        });
    }
    for (auto& th : threads) th.join();
    for (const auto& g : got) EXPECT_EQ(g, want);
}

TEST(ChatTemplateApi, LocalTimeOnManyThreads) {
    // strftime_now without ChatOptions::now reads the local time: the same
    // date on every thread (barring a render across midnight).
    const ChatTemplate t("{{ strftime_now('%Y-%m-%d') }}");
    std::vector<std::thread> threads;
    std::vector<std::string> got(4);
    for (size_t i = 0; i < got.size(); ++i) {
        threads.emplace_back([&, i] { got[i] = t.apply(std::vector<Message>{}, ChatOptions{}); });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(got[0].size(), 10u);
    for (const auto& g : got) EXPECT_EQ(g.substr(0, 4), got[0].substr(0, 4));
}

TEST(ChatTemplateApi, RaiseExceptionCarriesTheTemplatesMessage) {
    const std::string gemma = read_file(data_dir() + "/google-gemma-2-2b-it.jinja");
    const std::vector<Message> messages = {{"system", "Be brief.", {}, "", "", std::nullopt},
                                           {"user", "Hi", {}, "", "", std::nullopt}};
    expect_error([&] { worker::chat::render_chat(gemma, messages, ChatOptions{}); }, TemplateError::Kind::Raised,
                 {"System role not supported", "line 1"});
    std::string detail;
    int line = 0;
    try {
        render("a\n{{ raise_exception('exact text') }}");
    } catch (const TemplateError& e) {
        detail = e.detail();
        line = e.line();
    }
    EXPECT_EQ(detail, "exact text");
    EXPECT_EQ(line, 2);
}

TEST(ChatTemplateApi, BadJsonInOptionsIsAnError) {
    const ChatTemplate t("{{ tools | length }}");
    ChatOptions options;
    options.tools_json = "[{\"type\": ";
    expect_error([&] { t.apply(std::vector<Message>{}, options); }, TemplateError::Kind::Runtime, {"tools", "JSON"});
    options.tools_json = "";
    options.extra_context_json = "[1]";
    expect_error([&] { t.apply(std::vector<Message>{}, options); }, TemplateError::Kind::Runtime, {"not an object"});
}

TEST(ChatTemplateRefusal, StatementsNotImplementedNameTheConstructAndLine) {
    using K = TemplateError::Kind;
    expect_error([] { render("x\n{% include 'other.jinja' %}"); }, K::Unsupported, {"include", "line 2"});
    expect_error([] { render("{% extends 'base' %}"); }, K::Unsupported, {"extends"});
    expect_error([] { render("{% import 'm' as m %}"); }, K::Unsupported, {"import"});
    expect_error([] { render("{% macro m() %}{{ caller() }}{% endmacro %}{% call m() %}x{% endcall %}"); },
                 K::Unsupported, {"call"});
    expect_error([] { render("{% for x in [] recursive %}{% endfor %}"); }, K::Unsupported, {"recursive"});
    expect_error([] { render("a\n\n{% raw %}{{ x }}{% endraw %}"); }, K::Unsupported, {"raw", "line 3"});
    expect_error([] { render("{% autoescape true %}{% endautoescape %}"); }, K::Unsupported, {"autoescape"});
}

TEST(ChatTemplateRefusal, FiltersTestsAndFunctionsNotImplemented) {
    using K = TemplateError::Kind;
    // jinja2 filters we do not implement: refused when the template is parsed...
    expect_error([] { render("{{ 'a b' | wordwrap(3) }}"); }, K::Unsupported, {"filter 'wordwrap'", "line 1"});
    expect_error([] { render("{{ 1 is escaped }}"); }, K::Unsupported, {"test 'escaped'"});
    // ...or, inside an if (where jinja2 too only fails when it is reached), when reached.
    const std::string guarded = "{% if x %}{{ 'a' | urlencode }}{% endif %}ok";
    EXPECT_EQ(render(guarded, R"({"x": false})"), "ok");
    expect_error([&] { render(guarded, R"({"x": true})"); }, K::Unsupported, {"filter 'urlencode'"});
    expect_error([] { render("{{ '%s' % 1 }}"); }, K::Unsupported, {"printf-style"});
    expect_error([] { render("{{ 'x'.zfill(3) }}"); }, K::Unsupported, {"str.zfill"});
    expect_error([] { render("{{ cycler(1, 2).next() }}"); }, K::Unsupported, {"cycler"});
    expect_error([] { render("{{ 2 ** 70 }}"); }, K::Unsupported, {"64 bits"});
    expect_error([] { render("{{ '{:>4}'.format(1) }}"); }, K::Unsupported, {"str.format"});
    // jinja2 prints a generator's memory address; we refuse rather than invent one.
    expect_error([] { render("{{ [1, 2] | map('string') }}"); }, K::Unsupported, {"generator"});
}

TEST(ChatTemplateRefusal, WhatJinja2RefusesWeRefuse) {
    using K = TemplateError::Kind;
    expect_error([] { render("{{ x | no_such_filter }}"); }, K::Syntax, {"No filter named 'no_such_filter'"});
    expect_error([] { render("{% if x %}\n{% endfor %}"); }, K::Syntax, {"line 2"});
    expect_error([] { render("{{ 'unterminated }}"); }, K::Syntax, {"unterminated string"});
    expect_error([] { render("{# never closed"); }, K::Syntax, {"comment"});
    expect_error([] { render("{{ [1].append(2) }}"); }, K::Runtime, {"SecurityError", "append"});
    expect_error([] { render("{{ y.z }}"); }, K::Runtime, {"UndefinedError", "'y' is undefined"});
    expect_error([] { render("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"); }, K::Runtime, {"RecursionError"});
}

TEST(ChatTemplateRefusal, DeepNestingIsRefusedNotAStackOverflow) {
    using K = TemplateError::Kind;
    const size_t deep = 100000;
    expect_error([&] { render("{{ " + std::string(deep, '(') + "1" + std::string(deep, ')') + " }}"); }, K::Unsupported,
                 {"nested"});
    expect_error([&] { render("{{ " + std::string(deep, '[') + std::string(deep, ']') + " }}"); }, K::Unsupported,
                 {"nested"});
    std::string ifs;
    for (size_t i = 0; i < 5000; ++i) ifs += "{% if true %}";
    expect_error([&] { render(ifs); }, K::Unsupported, {"nested"});
    std::string nots = "{{ ";
    for (size_t i = 0; i < deep; ++i) nots += "not ";
    expect_error([&] { render(nots + "1 }}"); }, K::Unsupported, {"nested"});
    // Values nested deeper than Python's recursion limit, built by a loop.
    const std::string build =
        "{% set ns = namespace(v=[]) %}{% for i in range(100000) %}{% set ns.v = [ns.v] %}{% endfor %}";
    expect_error([&] { render(build); }, K::Runtime, {"RecursionError"});
    expect_error(
        [&] {
            render(
                "{% set ns = namespace(v={}) %}{% for i in range(100000) %}{% set ns.v = {'k': ns.v} %}{% endfor %}");
        },
        K::Runtime, {"RecursionError"});
}

TEST(ChatTemplateRefusal, RunawayTemplatesStopAtTheLimits) {
    using K = TemplateError::Kind;
    expect_error([] { render("{{ 'x' * 100000000 }}"); }, K::Unsupported, {"64 MiB"});
    expect_error([] { render("{{ [1, 2] * 1000000 }}"); }, K::Unsupported, {"items"});
    expect_error(
        [] {
            render("{% set ns = namespace(s='xy') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}");
        },
        K::Unsupported, {"64 MiB"});
    expect_error([] { render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"); },
                 K::Unsupported, {"steps", "line 1"});
    expect_error([] { render("{% for i in range(100000) %}{{ 'abcdefghij' * 100 }}{% endfor %}"); }, K::Unsupported,
                 {"rendered text"});
}

TEST(ChatTemplateJson, ReadsAndWritesInDocumentOrder) {
    const std::string text = R"({"z": 1, "a": [true, null, 2.5, -3, "é\n\u00e9\ud83d\ude00"], "m": {}})";
    const Value v = worker::chat::parse_json(text);
    // Expected texts: Python's json.dumps(json.loads(text)) (ensure_ascii False, then True).
    EXPECT_EQ(worker::chat::to_json(v), R"({"z": 1, "a": [true, null, 2.5, -3, "é\né😀"], "m": {}})");
    worker::chat::JsonOptions ascii;
    ascii.ensure_ascii = true;
    EXPECT_EQ(worker::chat::to_json(worker::chat::parse_json(R"("é😀")"), ascii), R"("\u00e9\ud83d\ude00")");
    expect_error([] { worker::chat::parse_json("{\"a\": }"); }, TemplateError::Kind::Runtime, {"offset 6"});
    expect_error([] { worker::chat::parse_json("[1] x"); }, TemplateError::Kind::Runtime, {"trailing"});
}

}  // namespace
