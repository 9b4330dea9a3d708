// The chat-template interpreter (src/chat/) against Python's jinja2.
//
// tests/data/chat_templates/ holds the 70 templates of llama.cpp's
// models/templates folder (as vendored by llama-cpp-python 0.3.36), the
// conversations they are rendered for (conversations.json), and what jinja2,
// set up as transformers' apply_chat_template sets it up, rendered for each
// (renderings.json, from scripts/oracle/gen_chat_template_renderings.py).
// Every rendering must match byte for byte; where jinja2 raised, we must
// raise too. snippets.json / snippet_renderings.json do the same for small
// templates that pin down single features.
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>
#include <string>

#include "chat/chat_template.h"
#include "chat/json.h"
#include "chat/template.h"

namespace {

using worker::chat::ChatOptions;
using worker::chat::ChatTemplate;
using worker::chat::TemplateError;
using worker::chat::Value;

std::string data_dir() { return std::string(WORKER_SOURCE_DIR) + "/tests/data/chat_templates"; }

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

Value load_json(const std::string& name) { return worker::chat::parse_json(read_file(data_dir() + "/" + name)); }

const Value& member(const Value& dict, const char* key) {
    const Value* v = dict.dict().find(std::string(key));
    if (!v) throw std::runtime_error(std::string("missing key ") + key);
    return *v;
}

bool has(const Value& dict, const char* key) { return dict.dict().find(std::string(key)) != nullptr; }

std::tm parse_time(const std::string& iso) {  // "YYYY-MM-DDTHH:MM:SS"
    std::tm t{};
    std::istringstream in(iso);
    in >> std::get_time(&t, "%Y-%m-%dT%H:%M:%S");
    t.tm_isdst = 0;
    std::mktime(&t);  // fills in tm_wday and tm_yday
    return t;
}

// Shows where two renderings part, with control characters visible.
std::string first_difference(const std::string& want, const std::string& got) {
    size_t i = 0;
    while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
    auto show = [&](const std::string& s) {
        const size_t from = i > 40 ? i - 40 : 0;
        std::string out;
        for (char c : s.substr(from, 100)) out += c == '\n' ? std::string("\\n") : std::string(1, c);
        return out;
    };
    return "at byte " + std::to_string(i) + "\n  jinja2: ..." + show(want) + "\n  ours:   ..." + show(got);
}

struct Outcome {
    bool ok = false;
    std::string text;  // the rendering, or the error message
    TemplateError::Kind kind = TemplateError::Kind::Runtime;
    std::string detail;  // the error message without prefix and line
};

Outcome render(const ChatTemplate* tmpl, const Outcome& parse_error, const Value& messages,
               const ChatOptions& options) {
    if (!tmpl) return parse_error;
    try {
        return {true, tmpl->apply(messages, options)};
    } catch (const TemplateError& e) {
        return {false, e.what(), e.kind(), e.detail()};
    }
}

// Whether our error is the one jinja2 raised ("<Python exception>: message"):
// raise_exception's TemplateError must come out Raised with the same message;
// jinja2's compile errors as Syntax; the rest as Runtime, naming the same
// Python exception.
bool same_error(const std::string& jinja2_error, const TemplateError::Kind kind, const std::string& detail) {
    const std::string type = jinja2_error.substr(0, jinja2_error.find(':'));
    if (type == "TemplateError")
        return kind == TemplateError::Kind::Raised && "TemplateError: " + detail == jinja2_error;
    if (type == "TemplateSyntaxError" || type == "TemplateAssertionError" || type == "SyntaxError") {
        return kind == TemplateError::Kind::Syntax;
    }
    return kind == TemplateError::Kind::Runtime && detail.rfind(type + ":", 0) == 0;
}

// Templates we cannot render yet, and why. Each must be refused with an
// Unsupported error naming the construct, never rendered wrongly.
const std::map<std::string, std::string> kKnownGaps = {};

TEST(ChatTemplateOracle, EveryTemplateMatchesJinja2) {
    const Value spec = load_json("conversations.json");
    const Value oracle = load_json("renderings.json");
    std::map<std::string, const Value*> conversations;
    for (const Value& c : member(spec, "conversations").items()) conversations[member(c, "id").as_string()] = &c;
    const std::string tools_json = worker::chat::to_json(member(spec, "tools"));

    std::map<std::string, std::unique_ptr<ChatTemplate>> templates;
    std::map<std::string, Outcome> parse_errors;
    size_t cases = 0, matched = 0, refused_gaps = 0;
    for (const Value& c : member(oracle, "cases").items()) {
        const std::string name = member(c, "template").as_string();
        if (!templates.count(name) && !parse_errors.count(name)) {
            try {
                templates[name] = std::make_unique<ChatTemplate>(read_file(data_dir() + "/" + name + ".jinja"));
            } catch (const TemplateError& e) {
                parse_errors[name] = {false, e.what(), e.kind(), e.detail()};
                templates[name] = nullptr;
            }
        }
        const Value& conversation = *conversations.at(member(c, "conversation").as_string());
        ChatOptions options;
        options.add_generation_prompt = member(c, "add_generation_prompt").as_bool();
        options.bos_token = member(spec, "bos_token").as_string();
        options.eos_token = member(spec, "eos_token").as_string();
        options.now = parse_time(member(spec, "now").as_string());
        if (has(conversation, "tools") && member(conversation, "tools").truthy()) options.tools_json = tools_json;
        if (has(conversation, "context"))
            options.extra_context_json = worker::chat::to_json(member(conversation, "context"));
        const Outcome got =
            render(templates[name].get(), parse_errors[name], member(conversation, "messages"), options);

        ++cases;
        const std::string label = name + " / " + member(c, "conversation").as_string() +
                                  (options.add_generation_prompt ? " / add_generation_prompt" : "");
        if (kKnownGaps.count(name)) {
            EXPECT_FALSE(got.ok) << label << ": a known gap rendered; remove it from kKnownGaps";
            EXPECT_EQ(got.kind, TemplateError::Kind::Unsupported) << label << ": " << got.text;
            refused_gaps += !got.ok;
            continue;
        }
        if (has(c, "error")) {
            const std::string& error = member(c, "error").as_string();
            EXPECT_FALSE(got.ok) << label << ": jinja2 raised " << error
                                 << "\n  we rendered: " << got.text.substr(0, 300);
            if (got.ok) continue;
            EXPECT_TRUE(same_error(error, got.kind, got.detail))
                << label << ": jinja2 raised " << error << "\n  we raised " << got.text;
            matched += same_error(error, got.kind, got.detail);
            continue;
        }
        const std::string& want = member(c, "output").as_string();
        if (!got.ok) {
            ADD_FAILURE() << label << ": we raised: " << got.text;
        } else if (got.text != want) {
            ADD_FAILURE() << label << ": rendering differs " << first_difference(want, got.text);
        } else {
            ++matched;
        }
    }
    for (const auto& [name, why] : kKnownGaps) std::printf("known gap: %s: %s\n", name.c_str(), why.c_str());
    std::printf("chat templates: %zu templates, %zu cases, %zu match jinja2, %zu refused (known gaps)\n",
                templates.size(), cases, matched, refused_gaps);
    EXPECT_EQ(templates.size(), 70u);
    EXPECT_EQ(cases, 70u * 2u * member(spec, "conversations").items().size());
}

TEST(ChatTemplateOracle, EverySnippetMatchesJinja2) {
    const Value spec = load_json("snippets.json");
    const Value oracle = load_json("snippet_renderings.json");
    const Value& context = member(spec, "context");
    std::map<std::string, std::string> sources;
    for (const Value& s : member(spec, "snippets").items()) {
        sources[member(s, "id").as_string()] = member(s, "template").as_string();
    }
    const std::tm now = parse_time(member(load_json("conversations.json"), "now").as_string());
    size_t matched = 0;
    for (const Value& c : member(oracle, "cases").items()) {
        const std::string id = member(c, "id").as_string();
        Outcome got;
        try {
            got = {true, worker::chat::Template(sources.at(id)).render(context.dict(), now)};
        } catch (const TemplateError& e) {
            got = {false, e.what(), e.kind(), e.detail()};
        }
        if (has(c, "error")) {
            const std::string& error = member(c, "error").as_string();
            EXPECT_FALSE(got.ok) << id << ": jinja2 raised " << error << "\n  we rendered: " << got.text;
            EXPECT_TRUE(got.ok || same_error(error, got.kind, got.detail))
                << id << ": jinja2 raised " << error << "\n  we raised " << got.text;
            matched += !got.ok && same_error(error, got.kind, got.detail);
        } else if (!got.ok) {
            ADD_FAILURE() << id << ": we raised: " << got.text;
        } else if (got.text != member(c, "output").as_string()) {
            ADD_FAILURE() << id << ": rendering differs "
                          << first_difference(member(c, "output").as_string(), got.text);
        } else {
            ++matched;
        }
    }
    std::printf("snippets: %zu cases, %zu match jinja2\n", member(oracle, "cases").items().size(), matched);
    EXPECT_EQ(member(oracle, "cases").items().size(), sources.size());
}

}  // namespace
