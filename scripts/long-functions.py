#!/usr/bin/env python3
"""Lists C++/CUDA function bodies longer than a limit (default 80 lines).

Usage: scripts/long-functions.py [--max N] [PATH ...]   (default: src tools tests)

A brace matcher, not a parser: it skips comments, string and character
literals (raw strings included) and preprocessor lines, and takes as a
function body every outermost '{' ... '}' whose opening follows a ')' (with
only qualifiers such as const, noexcept, override, or a trailing return type
or constructor initialiser list between) and that is not inside another
function. Bodies of namespaces, classes and initialiser lists are walked
into, so member functions defined in a class are found too. Lambdas count
as part of the function that holds them. Exits 1 when any body is too long.
"""
import argparse
import pathlib
import re
import sys

EXTENSIONS = {".c", ".cc", ".cpp", ".cu", ".cuh", ".h", ".hpp"}


def blank_out(text):
    """The text with comments, literals and preprocessor lines replaced by
    spaces (newlines kept), so that braces in them are not counted."""
    out = []
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if at_line_start and c == "#":
            j = i
            while j < n and (text[j] != "\n" or text[j - 1] == "\\"):
                j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        if c == "\n":
            at_line_start = True
            out.append(c)
            i += 1
            continue
        if not c.isspace():
            at_line_start = False
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            delimiter_end = text.find("(", i + 2)
            closing = ")" + text[i + 2:delimiter_end] + '"'
            j = text.find(closing, delimiter_end)
            j = n if j < 0 else j + len(closing)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            # A digit separator (1'000) is not a character literal.
            if c == "'" and i > 0 and text[i - 1].isalnum() and i + 1 < n and text[i + 1].isalnum():
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


# What may stand between a parameter list's ')' and the body's '{'.
TAIL = re.compile(
    r"\)\s*(?:const|noexcept(?:\s*\([^()]*\))?|override|final|mutable|volatile|&&|&|\s)*"
    r"(?:->\s*[^{;]+?)?\s*(?::[^;{}]*(?:\{[^{}]*\}[^;{}]*)*)?\s*$",
    re.S,
)


def function_bodies(code):
    """(name, open index, close index) of each function body in the
    blanked code."""
    names = {}
    stack = []  # (index, is_function)
    bodies = []
    inside_function = 0
    for i, c in enumerate(code):
        if c == "{":
            is_function = False
            if inside_function == 0:
                head = code[max(0, i - 2000):i]
                close = head.rfind(")")
                if close >= 0 and TAIL.match(head, close) and not re.search(r"[;}]\s*$", head[:close + 1]):
                    # Not a control statement, initialiser or namespace.
                    before = head[:close]
                    depth, k = 0, len(before) - 1
                    while k >= 0:
                        if before[k] == ")":
                            depth += 1
                        elif before[k] == "(":
                            if depth == 0:
                                break
                            depth -= 1
                        k -= 1
                    name = re.search(r"([A-Za-z_~][\w:<>~]*|operator\s*\S+)\s*$", before[:k])
                    keyword = name and name.group(1) in {"if", "for", "while", "switch", "catch", "return", "sizeof"}
                    is_function = bool(name) and not keyword
                    if is_function:
                        names[i] = name.group(1)
            stack.append((i, is_function))
            if is_function:
                inside_function += 1
        elif c == "}" and stack:
            start, is_function = stack.pop()
            if is_function:
                inside_function -= 1
                bodies.append((names[start], start, i))
    return bodies


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=80, help="longest body allowed, in lines")
    parser.add_argument("paths", nargs="*", default=["src", "tools", "tests"])
    args = parser.parse_args()
    found = 0
    for root in args.paths:
        root_path = pathlib.Path(root)
        files = [root_path] if root_path.is_file() else sorted(root_path.rglob("*"))
        for path in files:
            if path.suffix not in EXTENSIONS or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            code = blank_out(text)
            for name, start, end in function_bodies(code):
                first = code.count("\n", 0, start) + 1
                last = code.count("\n", 0, end) + 1
                lines = last - first + 1
                if lines > args.max:
                    found += 1
                    print(f"{path}:{first}: {lines} lines: {name}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
