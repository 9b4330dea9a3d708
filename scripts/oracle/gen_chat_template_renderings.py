#!/usr/bin/env python3
"""Render every chat template of tests/data/chat_templates with Python's jinja2.

The oracle for src/chat/ (our Jinja interpreter). jinja2 is configured the way
Hugging Face transformers' apply_chat_template configures it:

  * jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True,
    lstrip_blocks=True) with the loopcontrols extension ({% break %},
    {% continue %}) and a {% generation %} ... {% endgeneration %} tag that
    renders its body unchanged (transformers' AssistantTracker, which only
    records where assistant text lies);
  * the tojson filter replaced by json.dumps(x, ensure_ascii=False,
    indent=indent, separators=separators, sort_keys=sort_keys) -- jinja2's own
    tojson would sort keys and HTML-escape;
  * globals raise_exception(msg) (raises TemplateError) and strftime_now(fmt),
    here fixed to the "now" of conversations.json so the output is stable;
  * the context: messages, tools (None unless the conversation offers them),
    documents=None, add_generation_prompt, bos_token, eos_token, and the
    conversation's own "context" variables (such as enable_thinking).

Every template is rendered for every conversation of conversations.json, with
add_generation_prompt false and true. A template jinja2 refuses (a compile
error such as an unknown filter, or an error raised while rendering, such as
raise_exception for a role the template does not accept) is recorded as an
error: our interpreter must then fail too.

    pip install jinja2==3.1.6
    python3 scripts/oracle/gen_chat_template_renderings.py

It also renders the small templates of snippets.json, each pinning down one
feature (whitespace control, scoping, a filter, an error jinja2 raises), with
that file's context.

Writes tests/data/chat_templates/renderings.json and snippet_renderings.json.
The tests need no Python. With --check it writes nothing: it renders again and
exits 1 if the committed files differ from what this jinja2 gives (the ctest
oracle.chat_template_renderings), 77 if jinja2 is not installed.
"""

import argparse
import datetime
import glob
import hashlib
import json
import os
import sys

try:
    import jinja2
    import jinja2.ext
    import jinja2.nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:
    print("jinja2 is not installed (pip install -r scripts/requirements-test.txt): skipped", file=sys.stderr)
    sys.exit(77)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA_DIR = os.path.join(REPO, "tests", "data", "chat_templates")


class GenerationTag(jinja2.ext.Extension):
    """{% generation %}body{% endgeneration %} renders body (transformers' tag)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        call = self.call_method("_render_body")
        return jinja2.nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _render_body(self, caller):
        return caller()


def make_environment(now):
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, jinja2.ext.loopcontrols]
    )

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return now.strftime(fmt)

    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def compile_template(env, source):
    """The compiled template, or the error jinja2 raised compiling it."""
    try:
        return env.from_string(source), None
    except Exception as e:  # noqa: BLE001 - TemplateError, or Python's SyntaxError for a misplaced {% break %}
        return None, {"error": f"{type(e).__name__}: {e}", "stage": "compile"}


def render(compiled, context):
    template, error = compiled
    if error:
        return dict(error)
    try:
        text = template.render(**context)
    except Exception as e:  # noqa: BLE001 - every failure of the oracle is a recorded outcome
        return {"error": f"{type(e).__name__}: {e}", "stage": "render"}
    return {"output": text}


def render_case(compiled, conversation, tools, add_generation_prompt, special):
    context = {
        "messages": conversation["messages"],
        "tools": tools if conversation.get("tools") else None,
        "documents": None,
        "add_generation_prompt": add_generation_prompt,
    }
    context.update(special)
    context.update(conversation.get("context", {}))
    return render(compiled, context)


def render_snippets(env, data_dir):
    with open(os.path.join(data_dir, "snippets.json"), encoding="utf-8") as f:
        spec = json.load(f)
    cases = []
    for snippet in spec["snippets"]:
        case = {"id": snippet["id"]}
        case.update(render(compile_template(env, snippet["template"]), spec["context"]))
        cases.append(case)
    return cases


def json_text(data):
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def check(path, data):
    """True when the committed file holds the same cases and template hashes."""
    with open(path, encoding="utf-8") as f:
        committed = json.load(f)
    same = True
    for key in ("cases", "template_sha256"):
        if committed.get(key) != data.get(key):
            print(f"{path}: '{key}' differs from what jinja2 {jinja2.__version__} renders now", file=sys.stderr)
            same = False
    if same:
        print(f"{path}: {len(data['cases'])} cases match jinja2 {jinja2.__version__}")
    return same


def write_json(path, data):
    with open(path, "w", encoding="utf-8") as f:
        f.write(json_text(data))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=DATA_DIR)
    parser.add_argument("--out-dir", default=None, help="where to write the renderings (default: DATA_DIR)")
    parser.add_argument("--check", action="store_true", help="compare with the committed renderings, write nothing")
    args = parser.parse_args()

    with open(os.path.join(args.data_dir, "conversations.json"), encoding="utf-8") as f:
        spec = json.load(f)
    now = datetime.datetime.fromisoformat(spec["now"])
    special = {"bos_token": spec["bos_token"], "eos_token": spec["eos_token"]}
    env = make_environment(now)

    cases = []
    templates = {}
    for path in sorted(glob.glob(os.path.join(args.data_dir, "*.jinja"))):
        name = os.path.basename(path)[: -len(".jinja")]
        with open(path, "rb") as f:
            raw = f.read()
        templates[name] = hashlib.sha256(raw).hexdigest()
        compiled = compile_template(env, raw.decode("utf-8"))
        for conversation in spec["conversations"]:
            for add_generation_prompt in (False, True):
                case = {
                    "template": name,
                    "conversation": conversation["id"],
                    "add_generation_prompt": add_generation_prompt,
                }
                case.update(render_case(compiled, conversation, spec["tools"], add_generation_prompt, special))
                cases.append(case)

    out = {
        "generator": "scripts/oracle/gen_chat_template_renderings.py",
        "jinja2_version": jinja2.__version__,
        "python_version": sys.version.split()[0],
        "template_sha256": templates,
        "cases": cases,
    }
    snippets = {
        "generator": out["generator"],
        "jinja2_version": jinja2.__version__,
        "cases": render_snippets(env, args.data_dir),
    }
    outputs = {"renderings.json": out, "snippet_renderings.json": snippets}
    if args.check:
        same = [check(os.path.join(args.data_dir, name), data) for name, data in outputs.items()]
        sys.exit(0 if all(same) else 1)
    for name, data in outputs.items():
        path = os.path.join(args.out_dir or args.data_dir, name)
        write_json(path, data)
        errors = sum(1 for c in data["cases"] if "error" in c)
        print(f"{len(data['cases'])} cases, {errors} errors -> {path}")


if __name__ == "__main__":
    main()
