// The syntax tree of a parsed template: expressions and statements.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/value.h"

namespace worker::chat {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    enum class Kind {
        Const,     // value
        Name,      // name
        List,      // kids: items
        Tuple,     // kids: items
        Dict,      // kids: key, value, key, value, ...
        GetAttr,   // kids[0].name
        GetItem,   // kids[0][kids[1]]
        Slice,     // kids[0]:kids[1]:kids[2], each may be null
        Call,      // kids[0](kids[1..], kwargs)
        Filter,    // kids[0] | name(kids[1..], kwargs); kids[0] null in a filter block
        Test,      // kids[0] is name(kids[1..], kwargs)
        Unary,     // name ("-", "+", "not") kids[0]
        Binary,    // kids[0] name kids[1]: + - * / // % **
        And,       // kids[0] and kids[1]
        Or,        // kids[0] or kids[1]
        Concat,    // kids joined with ~
        Compare,   // kids[0] ops[0] kids[1] ops[1] kids[2] ...
        Condition  // kids[0] if kids[1] else kids[2] (kids[2] may be null)
    };

    Kind kind;
    int line;
    Value value;
    std::string name;
    std::vector<ExprPtr> kids;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    std::vector<std::string> ops;
    // A filter or test this interpreter does not know, inside an if (jinja2
    // then fails only if it is evaluated): the message to fail with, and
    // whether jinja2 has it (Unsupported) or not (jinja2's runtime error).
    std::string deferred_error;
    bool deferred_unsupported = false;

    Expr(Kind k, int l) : kind(k), line(l) {}
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
    enum class Kind {
        Text,         // text
        Print,        // {{ expr }}
        If,           // branches (condition, body) ..., else_body
        For,          // for target in expr [if cond] body [else else_body]
        Set,          // set target = expr
        SetBlock,     // set target [| filters] body endset
        Macro,        // macro name(params = defaults) body
        FilterBlock,  // filter filters body endfilter
        With,         // with params = defaults body
        Scope,        // a body rendered in place ({% generation %})
        Break,
        Continue
    };

    Kind kind;
    int line;
    std::string text;
    ExprPtr expr;
    ExprPtr target;
    ExprPtr cond;
    std::vector<std::pair<ExprPtr, Body>> branches;
    Body body;
    Body else_body;
    std::string name;
    std::vector<std::string> params;
    std::vector<ExprPtr> defaults;  // for the last defaults.size() params (With: one per param)
    std::vector<ExprPtr> filters;   // Filter nodes with kids[0] null
    bool uses_loop = false;         // For: the body names `loop`

    Stmt(Kind k, int l) : kind(k), line(l) {}
};

}  // namespace worker::chat
