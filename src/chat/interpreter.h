// The tree-walking interpreter behind chat::Template (internal).
//
// Scopes follow jinja2: the template's top level is one scope (the context's
// variables live there, {% set %} there assigns there); every iteration of a
// for loop, a macro call, a {% set %}...{% endset %}, {% filter %} or
// {% with %} body gets a new scope whose assignments end with it; {% if %}
// opens none. A macro sees the scope it was defined in, as it is when called.
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/ast.h"
#include "chat/value.h"

namespace worker::chat {

struct Scope {
    std::shared_ptr<Scope> parent;
    std::vector<std::pair<std::string, Value>> vars;

    const Value* find(const std::string& name) const;
    void set(const std::string& name, Value value);
};
using ScopePtr = std::shared_ptr<Scope>;

class Interpreter {
public:
    explicit Interpreter(const std::tm& now);
    // Empties every namespace the render created: a namespace may hold
    // itself ({% set ns.me = ns %}), a cycle shared ownership never frees.
    ~Interpreter();
    Interpreter(const Interpreter&) = delete;
    Interpreter& operator=(const Interpreter&) = delete;

    enum class Flow { Normal, Break, Continue };

    Flow exec(const Body& body, const ScopePtr& scope, std::string& out);
    Value eval(const Expr& expr, const ScopePtr& scope);

private:
    Flow exec_statement(const Stmt& stmt, const ScopePtr& scope, std::string& out);
    void exec_if(const Stmt& stmt, const ScopePtr& scope, std::string& out, Flow& flow);
    Flow exec_for(const Stmt& stmt, const ScopePtr& scope, std::string& out);
    void exec_set(const Stmt& stmt, const ScopePtr& scope);
    void exec_with(const Stmt& stmt, const ScopePtr& scope, std::string& out);
    std::string render_block(const Stmt& stmt, const ScopePtr& scope);
    std::string apply_filters(const std::vector<ExprPtr>& filters, std::string text, const ScopePtr& scope);
    void assign(const Expr& target, const Value& value, const ScopePtr& scope);
    Value make_macro(const Stmt& stmt, const ScopePtr& scope);
    Value call_macro(const Stmt& stmt, const ScopePtr& defined_in, const CallArgs& args);

    Value eval_node(const Expr& expr, const ScopePtr& scope);
    Value lookup(const std::string& name, const ScopePtr& scope) const;
    CallArgs eval_args(const Expr& expr, size_t first, const ScopePtr& scope);
    Value eval_compare(const Expr& expr, const ScopePtr& scope);
    Value eval_filter(const Expr& expr, const ScopePtr& scope);
    Value eval_literal(const Expr& expr, const ScopePtr& scope);
    void add_globals();

    Dict globals_;
    std::vector<Value> namespaces_;
    std::tm now_;
    int depth_ = 0;
    size_t steps_ = 0;
};

}  // namespace worker::chat
