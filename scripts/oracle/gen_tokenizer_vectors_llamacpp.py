#!/usr/bin/env python3
"""Tokenizer test vectors from llama.cpp (through llama-cpp-python's C bindings).

For every vocab-only GGUF in ../shared/testdata/vocab/ and both real models,
each string of the corpus below is tokenized twice with llama_tokenize
(add_special=False, i.e. no BOS/EOS): once with parse_special=False and once
with parse_special=True. The ids are then detokenized with llama.cpp's
llama_detokenize(remove_special=False, unparse_special=parse_special), and
"roundtrip" says whether that gives the input back byte for byte, and
"pieces_roundtrip" whether the plain concatenation of the token pieces does
(llama_detokenize applies clean_spaces, e.g. " ?" -> "?", on the gpt-2 family).

Output: tests/data/tokenizer/llamacpp_vectors.json
  {"_meta": {...},
   "<vocab file name>": {"info": {...}, "vectors": [
       {"text": ..., "parse_special": bool, "ids": [...], "detok": ..., "roundtrip": bool}, ...]}}
("detok_hex" replaces "detok" when the bytes are not valid UTF-8.)

Usage:
  python scripts/oracle/gen_tokenizer_vectors_llamacpp.py [--vocab-dir DIR] [--models-dir DIR]
"""

import argparse
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _llamacpp_common as common  # noqa: E402

CORPUS = [
    # basics and whitespace
    "",
    " ",
    "  ",
    "   ",
    "\t",
    "\n",
    "\n\n",
    "\n\n\n\n",
    " \n \t\n",
    "Hello world",
    " Hello world",
    "Hello World!",
    "hello  world   with    spaces",
    "    leading and trailing    ",
    "a" + " " * 20 + "b",
    "line one\nline two\r\nline three\n\n\tindented",
    "HELLO WORLD, this IS Mixed CaSe",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "!!!!!!!!???.....,,,,;;;;",
    "don't I'll we've they're it's can't WON'T",
    # numbers
    "0 1 12 123 1234 12345 123456 1234567",
    "3.14159265358979 -42 +7 1e-10 0x1F 1,000,000.50",
    "On 2024-02-29 at 23:59:59 the price was $1,234.56 (or 1 234,56 €).",
    # code
    'def add(a, b):\n    """Add two numbers."""\n    return a + b\n',
    "#include <stdio.h>\nint main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
    "for (int i = 0; i < n; ++i) { x[i] = y[i] * 2.0f; }",
    "if x != None and y >= 0 or not z: pass  # comment",
    "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
    "<div class=\"main\"><a href=\"https://example.com/path?q=1&r=2\">link</a></div>",
    '{"key": [1, 2, 3], "nested": {"a": null, "b": true}}',
    "user@example.com http://www.example.org/~user/index.html",
    # non-English and scripts
    "La tour Eiffel est située à Paris. Ça coûte très cher.",
    "Größenwahn und Übermut: Straße, Fußgänger.",
    "Привет, как дела? Съешь же ещё этих мягких французских булок.",
    "你好，世界！人工智能是计算机科学的一个分支。",
    "日本語のテキストとカタカナ、ひらがな。",
    "한국어 텍스트입니다.",
    "مرحبا بالعالم",
    "שלום עולם",
    "नमस्ते दुनिया",
    "สวัสดีชาวโลก",
    "Ελληνικά: αβγδε ΑΒΓΔΕ",
    # emoji and symbols
    "🦙🚀🔥",
    "family: 👨‍👩‍👧‍👦 flag: 🇫🇷 skin: 👍🏽 heart: ❤️",
    "∑ ∫ √ ∞ ≠ ≤ ≥ → ← ↔ ° ± × ÷",
    "math: x² + y³ = z½",
    # combining marks and normalisation traps
    "e\u0301 vs \u00e9; A\u030a vs \u00c5; n\u0303",
    "\u0301\u0302 leading combining marks",
    "ﬁ ligature, ＦＵＬＬＷＩＤＴＨ, ½, Ⅻ",
    "zero\u200bwidth\u200djoiner\u00a0nbsp\ufeffbom",
    "tab\tsep\tvalues\u3000ideographic space",
    # chat templates / special tokens of several families
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
    "<start_of_turn>user\nWrite a haiku about GPU computing<end_of_turn>\n<start_of_turn>model\n",
    "<bos><start_of_turn>user\nhello<end_of_turn>\n",
    "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nWhat is 2+2? [/INST] 4 </s>",
    "<|user|>\nHello<|end|>\n<|assistant|>\n",
    "<|endoftext|>text after end<|endoftext|>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
    "<eos><pad><unk><mask>",
    "<|im_start|><|im_end|><|im_start|>",
    "almost special: <|im_sta <start_of_tur <|endoftext| < |im_start| >",
    "<|im_start|>user\n你好 🦙<|im_end|>",
]


def full_corpus(vocab_dir):
    """CORPUS plus the strings of llama.cpp's own gpt-2 .inp file (edge cases they chose)."""
    extra = []
    inp = os.path.join(vocab_dir, "ggml-vocab-gpt-2.gguf.inp")
    if os.path.exists(inp):
        extra = read_inp(inp)
    seen, out = set(), []
    for t in CORPUS + extra:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def read_inp(path):
    """Strings of a llama.cpp .inp file (see ../shared/testdata/vocab/README.md)."""
    with open(path, encoding="utf-8", newline="") as fh:
        raw = fh.read()
    sep = "\n__ggml_vocab_test__\n"
    if raw.endswith(sep):  # the file ends with a separator
        raw = raw[: -len(sep)]
    return raw.split(sep)


def check_upstream_vectors(v, path):
    """Compare with the .inp/.out vectors shipped next to the vocab (llama.cpp build 4748)."""
    inp, out = path + ".inp", path + ".out"
    if not (os.path.exists(inp) and os.path.exists(out)):
        return None
    strings = read_inp(inp)
    with open(out, encoding="utf-8") as fh:
        expected = [[int(t) for t in line.split()] for line in fh.read().split("\n")[: len(strings)]]
    bad = [i for i, (s, e) in enumerate(zip(strings, expected)) if v.tokenize(s.encode("utf-8"), False, False) != e]
    return {"strings": len(strings), "mismatches": bad}


def detok_field(b):
    try:
        return {"detok": b.decode("utf-8")}
    except UnicodeDecodeError:
        return {"detok_hex": b.hex()}


def run_file(path, corpus):
    v = common.Vocab(path)
    info = {
        "sha256": common.sha256_of(path),
        "tokenizer_model": v.meta("tokenizer.ggml.model"),
        "tokenizer_pre": v.meta("tokenizer.ggml.pre"),
        "n_tokens": v.n_tokens(),
        "vocab_type": v.vocab_type(),
        "add_bos": v.add_bos(),
    }
    up = check_upstream_vectors(v, path)
    if up is not None:
        info["upstream_inp_out_check"] = up
    vectors = []
    n_rt = 0
    n_rt_plain = 0
    for text in corpus:
        b = text.encode("utf-8")
        for special in (False, True):
            ids = v.tokenize(b, False, special)
            d = v.detokenize(ids, False, special)
            rt = d == b
            n_rt += rt
            if not special:
                n_rt_plain += rt
            e = {"text": text, "parse_special": special, "ids": ids}
            e.update(detok_field(d))
            e["roundtrip"] = rt
            # plain concatenation of llama_token_to_piece(special=parse_special) bytes, no clean-up
            e["pieces_roundtrip"] = b"".join(v.piece(t, special) for t in ids) == b
            vectors.append(e)
    info["roundtrip_plain"] = f"{n_rt_plain}/{len(corpus)}"
    info["roundtrip_all"] = f"{n_rt}/{2 * len(corpus)}"
    info["lossless_on_corpus"] = n_rt_plain == len(corpus)
    v.close()
    return {"info": info, "vectors": vectors}


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    ap.add_argument("--vocab-dir", default=os.path.join(os.path.dirname(repo), "shared", "testdata", "vocab"))
    ap.add_argument("--models-dir", default=common.DEFAULT_MODEL_DIR)
    ap.add_argument("--out", default="tests/data/tokenizer/llamacpp_vectors.json")
    args = ap.parse_args()
    common.init_backend()

    files = sorted(glob.glob(os.path.join(args.vocab_dir, "*.gguf")))
    files += [
        os.path.join(args.models_dir, "SmolLM2-135M-Instruct.Q4_1.gguf"),
        os.path.join(args.models_dir, "gemma-3-270m-q4_k_m.gguf"),
    ]
    corpus = full_corpus(args.vocab_dir)
    doc = {
        "_meta": {
            "versions": common.versions(),
            "tokenize": "llama_tokenize(add_special=False, parse_special=<parse_special>)",
            "detokenize": "llama_detokenize(remove_special=False, unparse_special=<parse_special>)",
            "roundtrip": "detok bytes == text bytes",
            "pieces_roundtrip": "concatenated llama_token_to_piece bytes == text bytes (no clean_spaces, no leading-space strip)",
        }
    }
    for f in files:
        name = os.path.basename(f)
        try:
            doc[name] = run_file(f, corpus)
            info = doc[name]["info"]
            print(
                f"{name}: {info['tokenizer_model']}/{info['tokenizer_pre']} roundtrip {info['roundtrip_plain']}"
                f" upstream {info.get('upstream_inp_out_check')}",
                flush=True,
            )
        except Exception as ex:  # record refusals instead of hiding them
            doc[name] = {"error": str(ex)}
            print(f"{name}: ERROR {ex}", flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    write_json(doc, args.out)


def write_json(doc, path):
    """Readable but compact: one vector per line."""
    d = lambda o: json.dumps(o, ensure_ascii=False)  # noqa: E731
    lines = ["{"]
    keys = list(doc)
    for ki, k in enumerate(keys):
        tail = "," if ki + 1 < len(keys) else ""
        val = doc[k]
        if isinstance(val, dict) and "vectors" in val:
            lines.append(f" {d(k)}: {{\"info\": {d(val['info'])}, \"vectors\": [")
            vs = val["vectors"]
            for vi, vec in enumerate(vs):
                lines.append("  " + d(vec) + ("," if vi + 1 < len(vs) else ""))
            lines.append(" ]}" + tail)
        else:
            lines.append(f" {d(k)}: {d(val)}{tail}")
    lines.append("}")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    json.loads(open(path, encoding="utf-8").read())  # self-check


if __name__ == "__main__":
    main()
