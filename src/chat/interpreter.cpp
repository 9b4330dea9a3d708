// Statements: output, if, for (with loop.*, else, filters, break/continue),
// set (names, tuples, namespace attributes, blocks), macros, filter and with
// blocks; and chat::Template on top.
#include "chat/interpreter.h"

#include "chat/error.h"
#include "chat/ops.h"
#include "chat/parser.h"
#include "chat/template.h"

namespace worker::chat {

namespace {

// Past this many nested macro calls rendering stops (Python would run out of
// stack about as deep).
constexpr int kMaxDepth = 256;

// A TemplateError without a line gets the line of the statement it came from.
[[noreturn]] void rethrow_with_line(const TemplateError& e, int line) {
    if (e.line() != 0) throw e;
    throw TemplateError(e.kind(), line, e.detail());
}

std::vector<Value> unpack(const Value& value, size_t want) {
    std::vector<Value> items = value.iterate();
    if (items.size() < want) {
        runtime_error("ValueError: not enough values to unpack (expected " + std::to_string(want) + ", got " +
                      std::to_string(items.size()) + ")");
    }
    if (items.size() > want) {
        runtime_error("ValueError: too many values to unpack (expected " + std::to_string(want) + ")");
    }
    return items;
}

// The keys of a loop object, made once.
const std::vector<Value>& loop_keys() {
    static const std::vector<Value> keys = [] {
        std::vector<Value> k;
        for (const char* name : {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth",
                                 "depth0", "previtem", "nextitem", "cycle", "changed"}) {
            k.push_back(Value::string(name));
        }
        return k;
    }();
    return keys;
}

Value loop_object(const std::vector<Value>& items, size_t i) {
    static const Value changed =
        Value::function("loop.changed", [](const CallArgs&) -> Value { unsupported("loop.changed()"); });
    const auto n = static_cast<int64_t>(items.size());
    const auto k = static_cast<int64_t>(i);
    const Value values[] = {
        Value::integer(k + 1),
        Value::integer(k),
        Value::integer(n - k),
        Value::integer(n - k - 1),
        Value::boolean(k == 0),
        Value::boolean(k == n - 1),
        Value::integer(n),
        Value::integer(1),
        Value::integer(0),
        i > 0 ? items[i - 1] : Value::undefined("there is no previous item"),
        k + 1 < n ? items[i + 1] : Value::undefined("there is no next item"),
        Value::function("loop.cycle",
                        [k](const CallArgs& a) {
                            if (a.positional.empty()) runtime_error("TypeError: no items for cycling given");
                            return a.positional[static_cast<size_t>(k) % a.positional.size()];
                        }),
        changed,
    };
    Dict loop;
    for (size_t j = 0; j < loop_keys().size(); ++j) loop.append(loop_keys()[j], values[j]);
    return Value::dict(std::move(loop));
}

}  // namespace

const Value* Scope::find(const std::string& name) const {
    for (const auto& [key, value] : vars) {
        if (key == name) return &value;
    }
    return nullptr;
}

void Scope::set(const std::string& name, Value value) {
    for (auto& [key, v] : vars) {
        if (key == name) {
            v = std::move(value);
            return;
        }
    }
    vars.emplace_back(name, std::move(value));
}

Interpreter::Interpreter(const std::tm& now) : now_(now) { add_globals(); }

Interpreter::~Interpreter() {
    for (Value& ns : namespaces_) ns.namespace_dict() = Dict();
}

Interpreter::Flow Interpreter::exec(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const StmtPtr& stmt : body) {
        if (++steps_ > kMaxSteps) {
            throw TemplateError(TemplateError::Kind::Unsupported, stmt->line,
                                "a render of more than 2000000 steps (statements and loop iterations)");
        }
        Flow flow;
        try {
            flow = exec_statement(*stmt, scope, out);
        } catch (const TemplateError& e) {
            rethrow_with_line(e, stmt->line);
        }
        if (flow != Flow::Normal) return flow;
    }
    return Flow::Normal;
}

Interpreter::Flow Interpreter::exec_statement(const Stmt& stmt, const ScopePtr& scope, std::string& out) {
    Flow flow = Flow::Normal;
    switch (stmt.kind) {
        case Stmt::Kind::Text:
            out += stmt.text;
            check_text_size(out.size(), "the rendered text");
            break;
        case Stmt::Kind::Print:
            out += eval(*stmt.expr, scope).str();
            check_text_size(out.size(), "the rendered text");
            break;
        case Stmt::Kind::If:
            exec_if(stmt, scope, out, flow);
            break;
        case Stmt::Kind::For:
            return exec_for(stmt, scope, out);
        case Stmt::Kind::Set:
            exec_set(stmt, scope);
            break;
        case Stmt::Kind::SetBlock: {
            const std::string text = apply_filters(stmt.filters, render_block(stmt, scope), scope);
            assign(*stmt.target, Value::string(text), scope);
            break;
        }
        case Stmt::Kind::Macro:
            scope->set(stmt.name, make_macro(stmt, scope));
            break;
        case Stmt::Kind::FilterBlock:
            out += apply_filters(stmt.filters, render_block(stmt, scope), scope);
            break;
        case Stmt::Kind::With:
            exec_with(stmt, scope, out);
            break;
        case Stmt::Kind::Scope:
            return exec(stmt.body, scope, out);
        case Stmt::Kind::Break:
            return Flow::Break;
        case Stmt::Kind::Continue:
            return Flow::Continue;
    }
    return flow;
}

void Interpreter::exec_if(const Stmt& stmt, const ScopePtr& scope, std::string& out, Flow& flow) {
    for (const auto& [test, body] : stmt.branches) {
        if (eval(*test, scope).truthy()) {
            flow = exec(body, scope, out);
            return;
        }
    }
    flow = exec(stmt.else_body, scope, out);
}

Interpreter::Flow Interpreter::exec_for(const Stmt& stmt, const ScopePtr& scope, std::string& out) {
    std::vector<Value> items = eval(*stmt.expr, scope).iterate();
    if (stmt.cond) {  // {% for x in xs if cond %}: loop.* counts the items that pass
        std::vector<Value> kept;
        for (const Value& item : items) {
            auto probe = std::make_shared<Scope>(Scope{scope, {}});
            assign(*stmt.target, item, probe);
            if (eval(*stmt.cond, probe).truthy()) kept.push_back(item);
        }
        items = std::move(kept);
    }
    for (size_t i = 0; i < items.size(); ++i) {
        if (++steps_ > kMaxSteps) {
            throw TemplateError(TemplateError::Kind::Unsupported, stmt.line,
                                "a render of more than 2000000 steps (statements and loop iterations)");
        }
        auto iteration = std::make_shared<Scope>(Scope{scope, {}});
        if (stmt.uses_loop) iteration->set("loop", loop_object(items, i));
        assign(*stmt.target, items[i], iteration);
        if (exec(stmt.body, iteration, out) == Flow::Break) break;
    }
    if (items.empty()) exec(stmt.else_body, std::make_shared<Scope>(Scope{scope, {}}), out);
    return Flow::Normal;
}

void Interpreter::exec_set(const Stmt& stmt, const ScopePtr& scope) {
    assign(*stmt.target, eval(*stmt.expr, scope), scope);
}

void Interpreter::exec_with(const Stmt& stmt, const ScopePtr& scope, std::string& out) {
    auto inner = std::make_shared<Scope>(Scope{scope, {}});
    for (size_t i = 0; i < stmt.params.size(); ++i) inner->set(stmt.params[i], eval(*stmt.defaults[i], scope));
    exec(stmt.body, inner, out);
}

std::string Interpreter::render_block(const Stmt& stmt, const ScopePtr& scope) {
    std::string text;
    exec(stmt.body, std::make_shared<Scope>(Scope{scope, {}}), text);
    return text;
}

std::string Interpreter::apply_filters(const std::vector<ExprPtr>& filters, std::string text, const ScopePtr& scope) {
    Value v = Value::string(std::move(text));
    for (const ExprPtr& f : filters) {
        if (!f->deferred_error.empty()) eval(*f, scope);  // fails with the deferred error
        v = apply_filter(f->name, v, eval_args(*f, 1, scope));
    }
    return v.str();
}

void Interpreter::assign(const Expr& target, const Value& value, const ScopePtr& scope) {
    if (target.kind == Expr::Kind::Name) {
        scope->set(target.name, value);
        return;
    }
    if (target.kind == Expr::Kind::GetAttr) {  // ns.attr = value
        const Value ns = lookup(target.kids[0]->name, scope);
        if (!ns.is_namespace()) runtime_error("TemplateRuntimeError: cannot assign attribute on non-namespace object");
        ns.namespace_dict().set(Value::string(target.name), value);
        return;
    }
    const std::vector<Value> parts = unpack(value, target.kids.size());
    for (size_t i = 0; i < parts.size(); ++i) assign(*target.kids[i], parts[i], scope);
}

Value Interpreter::make_macro(const Stmt& stmt, const ScopePtr& scope) {
    const Stmt* macro = &stmt;
    // The macro holds its defining scope weakly: a scope that stores the macro
    // would otherwise own itself. Calls happen while that scope is alive.
    std::weak_ptr<Scope> defined_in = scope;
    return Value::function("macro '" + stmt.name + "'", [this, macro, defined_in](const CallArgs& args) {
        const ScopePtr scope_now = defined_in.lock();
        if (!scope_now) unsupported("calling macro '" + macro->name + "' after its scope ended");
        return call_macro(*macro, scope_now, args);
    });
}

Value Interpreter::call_macro(const Stmt& stmt, const ScopePtr& defined_in, const CallArgs& args) {
    if (depth_ >= kMaxDepth) runtime_error("RecursionError: macro calls nested too deeply");
    const size_t n = stmt.params.size();
    if (args.positional.size() > n) {
        runtime_error("TypeError: macro '" + stmt.name + "' takes not more than " + std::to_string(n) + " argument(s)");
    }
    auto scope = std::make_shared<Scope>(Scope{defined_in, {}});
    std::vector<bool> given(n, false);
    for (size_t i = 0; i < args.positional.size(); ++i) {
        scope->set(stmt.params[i], args.positional[i]);
        given[i] = true;
    }
    for (const auto& [key, value] : args.keyword) {
        size_t i = 0;
        while (i < n && stmt.params[i] != key) ++i;
        if (i == n) runtime_error("TypeError: macro '" + stmt.name + "' takes no keyword argument '" + key + "'");
        scope->set(key, value);
        given[i] = true;
    }
    const size_t first_default = n - stmt.defaults.size();
    for (size_t i = 0; i < n; ++i) {
        if (given[i]) continue;
        scope->set(stmt.params[i], i >= first_default
                                       ? eval(*stmt.defaults[i - first_default], scope)
                                       : Value::undefined("parameter '" + stmt.params[i] + "' was not provided"));
    }
    std::string out;
    ++depth_;
    try {
        exec(stmt.body, scope, out);
    } catch (...) {
        --depth_;
        throw;
    }
    --depth_;
    return Value::string(std::move(out));
}

Template::Template(std::string_view source, const LexOptions& options) : body_(parse(tokenize(source, options))) {}

std::string Template::render(const Dict& context, const std::tm& now) const {
    Interpreter interpreter(now);
    auto root = std::make_shared<Scope>();
    for (const auto& [key, value] : context.entries()) root->set(key.str(), value);
    std::string out;
    interpreter.exec(body_, root, out);
    // Macros hold their scopes weakly (see make_macro); dropping the root
    // here frees every scope of the render.
    return out;
}

}  // namespace worker::chat
