#!/usr/bin/env python3
"""More tokenizer vectors on llama.cpp's own vocab files, from llama.cpp.

The .inp strings that come with llama.cpp's models/ggml-vocab-*.gguf do not
tell every rule apart (qwen35's letter runs taking combining marks, gemma-4's
newline runs looked up whole and its forced BOS, byte fallback, ...). This
script tokenizes a corpus aimed at those rules with llama.cpp itself
(llama-cpp-python 0.3.36's C bindings, llama_tokenize as common_tokenize calls
it) on every vocab file of the folder that `scripts/fetch-models.sh vocab`
fills, first checking that it reproduces each file's .out exactly (else it
stops: the oracle would not be llama.cpp 0.3.36's tokenizer).

    python3 -m venv /tmp/oracle && /tmp/oracle/bin/pip install llama-cpp-python==0.3.36
    /tmp/oracle/bin/python scripts/oracle/gen_vocab_file_vectors.py

Writes tests/data/tokenizer/vocab-files-extra.json:
  {"generator", "oracle", "vocab_dir", "notes",
   "vocabs": {"<name>": {"sha256": ..., "cases": [
       {"text" | "text_hex", "add_special": bool, "ids": [...]}, ...]}}}
Only llama.cpp's ids are recorded; worker_cuda is not used. The tests need no
Python.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _llamacpp_common as common  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_VOCAB_DIR = os.path.join(
    os.environ.get("WORKER_MODEL_CACHE", common.DEFAULT_MODEL_DIR), "vocab-llamacpp-0.3.36"
)
OUT = os.path.join(ROOT, "tests", "data", "tokenizer", "vocab-files-extra.json")

CORPUS = [
    # combining marks after letters, alone, after spaces, digits, punctuation
    "re\u0301sume\u0301 cafe\u0301 nai\u0308ve",
    "\u0301\u0301 a\u0301 1\u0301 .\u0301 \u0301x",
    "e\u0301\u0300\u0302\u0303\u0304 o\u0308\u0308\u0308",
    "नमस्ते दुनिया, हिन्दी में लिखा गया पाठ",
    "สวัสดีครับ ภาษาไทยมีสระที่อยู่บนและล่าง",
    "ព្រះរាជាណាចក្រកម្ពុជា ភាសាខ្មែរ",
    "שָׁלוֹם עוֹלָם",
    "مَرْحَبًا بِالْعَالَمِ",
    "தமிழ் மொழி",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O\u0342\u030c\u030c\u0358\u0328\u0335\u0339\u033b\u031d\u0333",
    "\u20dd \u20dd\u20dd a\u20e3 1\ufe0f\u20e3",
    # newline runs, alone and among text and spaces
    "\n" * 4,
    "\n" * 7,
    "\n" * 16,
    "\n" * 33,
    "a\n\n\n\n\n\nb",
    "x\n\n\n\n\n\n\n\n\n\ny",
    " \n \n\n  \n\n\n   \n\n\n\n",
    "\r\n\r\n\r\n",
    "\n\r\n\n\r\r\n\n\n",
    "line one\n\n\n\nline two\n\n\n\n\n\n\n\n\nline three\n",
    "\t\t\n\n\t\n\n\n\t\t\t",
    # spaces and the U+2581 mark written literally
    " " * 17,
    "a" + " " * 9 + "b",
    "\u2581 \u2581\u2581  \u2581x",
    "  leading and trailing  ",
    # bytes that are unlikely to be tokens (byte fallback), emoji sequences
    "\U0002a6a5\U0002b820\U0003134a",
    "\U0001f9d1\U0001f3fd\u200d\U0001f91d\u200d\U0001f9d1\U0001f3fb \U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "\u0001\u001f\u007f",
    "\ufffd\ufeff\u200b\u2028\u2029",
    # digits, contractions, case
    "1234567890 12 345 6789 0.5 1e10 3,141,592",
    "I'M YOU'RE WE'VE THEY'LL HE'D SHE'S IT'T",
    "don't can't won't y'all 'tis",
    "HTTPServerError XMLHttpRequest camelCaseWord snake_case_word",
    # code and mixed scripts
    "def f(x):\n    return x ** 2  # square\n\n\nprint(f(3))\n",
    "<div class=\"a\">\n\t<p>Hi &amp; bye</p>\n</div>",
    "日本語のテキストと한국어 텍스트와 中文文本 mixed with English",
    "Ünïcödé ÀÉÎÕÜ ßẞ ǅǈǋ ﬁﬂ Ⅻ ①②③",
]


def utf8_or_hex(text):
    data = text.encode("utf-8", "surrogatepass")
    try:
        data.decode("utf-8")
        return {"text": text}
    except UnicodeDecodeError:
        return {"text_hex": data.hex()}


def read_inputs(path):
    raw = open(path, "rb").read()
    sep = b"\n__ggml_vocab_test__\n"
    out, pos = [], 0
    while pos < len(raw):
        nxt = raw.find(sep, pos)
        if nxt < 0:
            out.append(raw[pos:])
            break
        out.append(raw[pos:nxt])
        pos = nxt + len(sep)
    return out


def read_outputs(path):
    return [[int(x) for x in line.strip().split(" ") if x] for line in open(path, "rb").read().decode().split("\n")[:-1]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab-dir", default=DEFAULT_VOCAB_DIR)
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()

    common.init_backend()
    doc = {
        "generator": "scripts/oracle/gen_vocab_file_vectors.py",
        "oracle": common.versions(),
        "vocab_dir": "vocab-llamacpp-0.3.36 (scripts/fetch-models.sh vocab)",
        "notes": [
            "llama_tokenize(vocab, text, add_special, parse_special=false); add_special false is "
            "llama.cpp's test-tokenizer-0 call, true adds BOS/EOS as the vocab (and llama.cpp's "
            "overrides) say",
            "before writing, the oracle reproduced every .out of the folder exactly",
        ],
        "vocabs": {},
    }
    names = sorted(
        f[len("ggml-vocab-") : -len(".gguf")]
        for f in os.listdir(args.vocab_dir)
        if f.startswith("ggml-vocab-") and f.endswith(".gguf")
    )
    for name in names:
        path = os.path.join(args.vocab_dir, f"ggml-vocab-{name}.gguf")
        try:
            vocab = common.Vocab(path)
        except RuntimeError as e:
            print(f"{name}: llama.cpp does not load it ({e}); skipped", file=sys.stderr)
            continue
        try:
            if os.path.exists(path + ".inp"):
                inputs = read_inputs(path + ".inp")
                expected = read_outputs(path + ".out")
                assert len(inputs) == len(expected), name
                for text, ids in zip(inputs, expected):
                    got = vocab.tokenize(text, False, False)
                    if got != ids:
                        sys.exit(f"{name}: this llama.cpp gives {got} for {text!r}, the .out says {ids}")
            cases = []
            for text in CORPUS:
                for add_special in (False, True):
                    ids = vocab.tokenize(text.encode("utf-8", "surrogatepass"), add_special, False)
                    cases.append({**utf8_or_hex(text), "add_special": add_special, "ids": ids})
            doc["vocabs"][name] = {"sha256": common.sha256_of(path), "cases": cases}
            print(f"{name}: {len(cases)} cases", file=sys.stderr)
        finally:
            vocab.close()

    # One case per line: small, and diffs stay readable.
    def dumps(value):
        return json.dumps(value, ensure_ascii=False)

    lines = ["{"]
    for key in ("generator", "oracle", "vocab_dir", "notes"):
        lines.append(f" {dumps(key)}: {dumps(doc[key])},")
    lines.append(' "vocabs": {')
    names = list(doc["vocabs"])
    for i, name in enumerate(names):
        entry = doc["vocabs"][name]
        lines.append(f"  {dumps(name)}: {{\"sha256\": {dumps(entry['sha256'])}, \"cases\": [")
        cases = entry["cases"]
        for j, case in enumerate(cases):
            lines.append("   " + dumps(case) + ("," if j + 1 < len(cases) else ""))
        lines.append("  ]}" + ("," if i + 1 < len(names) else ""))
    lines.append(" }")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == doc
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
