#!/usr/bin/env python3
"""Generate tokenizer test vectors from an independent implementation.

The oracle is llama.cpp's own tokenizer, run through the `llama-cpp-python`
package (PyPI) on the same GGUF files our tokenizer reads: the vocab-only files
in ../shared/testdata/vocab and the real models in the model cache. For the
real models, Hugging Face `transformers` (loading the tokenizer from the same
GGUF file) is run as a second opinion when it is installed; its agreement is
recorded in the output but the expected ids are llama.cpp's, since our
tokenizer follows llama.cpp's GGUF conventions (see the README of the vocab
test data: its vectors come from llama.cpp too). transformers' GGUF loader
imports torch; without torch installed the cross-check is skipped.

    python3 -m venv /tmp/oracle && /tmp/oracle/bin/pip install llama-cpp-python
    # optional second opinion: /tmp/oracle/bin/pip install transformers tokenizers gguf sentencepiece protobuf
    /tmp/oracle/bin/python scripts/oracle/gen_tokenizer_vectors.py

Writes tests/data/tokenizer/<name>.json. The tests need no Python.
"""

import argparse
import json
import os
import random
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_VOCAB = os.path.join(REPO, "..", "shared", "testdata", "vocab")
MODEL_CACHE = os.environ.get("WORKER_MODEL_CACHE", os.path.expanduser("~/.cache/worker_cuda/models"))
OUT_DIR = os.path.join(REPO, "tests", "data", "tokenizer")

VOCABS = ["falcon", "mpt", "gpt-neox", "refact", "deepseek-coder", "baichuan",
          "gpt-2", "llama-spm", "phi-3", "deepseek-llm", "starcoder"]
# Pre-tokenizers without a vocab file of their own: the GPT-2 vocabulary with
# tokenizer.ggml.pre set to each name (the tests build the same file in memory).
PRE_VARIANTS = ["llama-bpe", "qwen2", "smollm", "gpt-4o", "tekken", "poro-chat", "viking", "deepseek-v3",
                "stablelm2", "dbrx", "command-r", "phi-2"]
GPT2_BOS_EOS = 50256

REAL_MODELS = {
    "smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3": "gemma-3-270m-q4_k_m.gguf",
}

# Hand-picked strings: code, numbers, whitespace runs, scripts, emoji,
# combining marks, odd whitespace and controls, contractions, chat templates.
CORPUS = [
    "Hello world",
    " Hello world",
    "Hello, world! How's it going? I'd've thought we'll see 'em.",
    "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "#include <stdio.h>\nint main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
    '{"key": [1, 2.5, -3e10, true, null], "nested": {"a": "b"}}',
    "for (auto& x : xs) { total += x * 0.5f; } // sum",
    "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name;",
    "https://example.com/path?query=1&lang=en#frag user@example.org",
    "3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3",
    "1,000,000.00 $12.50 €9,99 ¥100 0x7FFF 1e-9 -42 +7 50% 3/4 ½ ² ³",
    "12345678901234567890123456789",
    "   ",
    "\t\t\t",
    "\n\n\n",
    " \n \n ",
    "a  b   c    d     e",
    "trailing spaces   ",
    "   leading spaces",
    "line1\r\nline2\rline3\n",
    "\u00a0non\u00a0breaking\u2009thin\u3000ideographic\u0085nel",
    "zero\u200bwidth\u200djoiner\ufeffbom",
    # Unicode spaces next to CJK-range and punctuation classes (deepseek's patterns).
    "\u2029 123the \u3000\u3000 \u3000\u3002 a\u2028 b \u1680x \u0085 y\u205f",
    "ctrl\x01\x02\x1f\x7fchars",
    "日本語のテキストと中文文本。今日は良い天気ですね。",
    "你好，世界！这是一个测试。",
    "한국어 문장입니다. 안녕하세요!",
    "Привет, мир! Съешь же ещё этих мягких французских булок.",
    "Γειά σου κόσμε! ΐ Ω K ι ώ Ί",
    "مرحبا بالعالم",
    "שלום עולם",
    "สวัสดีชาวโลก",
    "नमस्ते दुनिया, हिन्दी भाषा",
    "ញុំបានធ្វើការ",
    "🙂 🚀 👍🏽 👩‍👩‍👧‍👦 🇫🇷 ❤️ ✅ 🦙🦙",
    "🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ (only emoji that has its own token)",
    "e\u0301 a\u0308 n\u0303 o\u0302\u0323 Z\u0351\u0315a\u0310\u0358l\u0357g\u0314o\u0311",
    "Ça déjà vu — naïve façade, Ångström, señor, Straße, œuvre",
    "Cửa Việt, Hà Nội",
    "ALL CAPS SHOUTING AND MiXeD cAsE",
    "!!!!!! ?????? ...... ------======= ''''''``````` \"\"\"\"",
    "<html><body><p class=\"x\">Hello &amp; bye</p></body></html>",
    "| col | col |\n|-----|-----|\n| **b** | _i_ |",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n",
    "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n4<end_of_turn>",
    "<|endoftext|>Once upon a time<|endoftext|>",
    "<s>[INST] Hello [/INST] Hi</s>",
    "<|user|>\nHello<|end|>\n<|assistant|>\nHi<|end|>",
    "<bos><eos><pad><unk><mask>",
    "text<|im_end|>more",
    " <|im_start|> spaced <|im_end|> ",
    "<|im_start|<|im_end|>>",
    "<|eot_id|><|start_header_id|>user<|end_header_id|>",
    "<fim_prefix>def f():<fim_suffix>\n<fim_middle>",
    "",
    " ",
    "a",
    "\n",
]


# Bytes that are not UTF-8 (a prompt is any C string): llama.cpp's decoder
# repairs them; written to the JSON as "text_hex".
BYTE_CORPUS = [
    b"ok \xff\xc3 done", b"\xed\xa0\x80 surrogate", b"\xc0\xaf overlong \xe0\x80\xaf", b"\xf0\x9f\x99 cut",
    b"\xe2\x82\xac\xe2\x82", b"a\x80b\xf8c\xfe",
]
# Not in the list: 4-byte forms above U+10FFFF (F4 90.., F5..F7 leads), on
# which llama.cpp's byte-level BPE throws and aborts; ours reads U+FFFD.


def random_byte_strings(count, seed=31337):
    rng = random.Random(seed)
    pool = [b"a", b" ", b"\xe2", b"\x82", b"\xac", b"\xf0\x9f", b"\x99\x82", b"\xff", b"\xc0\xaf", b"\xed\xa0\x80",
            b"\n", b"\xc3", b"\xa9", b"<|im_end|>", b"123", b"\xe6\x97\xa5"]
    return [b"".join(rng.choice(pool) for _ in range(rng.randint(1, 20))) for _ in range(count)]


def random_strings(count, seed=20261123):
    """Fixed-seed strings that mix the pieces above at random."""
    rng = random.Random(seed)
    pool = [
        "a", "Z", " ", "  ", "\t", "\n", "\r\n", "'s", "'LL", "3", "42", "9999", ".", ",", "!?", "...", "-", "_",
        "(", ")", "{", "}", "<", ">", "<|", "|>", "é", "e\u0301", "ß", "日", "本", "語", "한", "ñ", "Ж", "λ", "🙂",
        "👍🏽", "\u200d", "\u00a0", "\u3000", "x", "the", " the", "ing", "Hello", "wörld", "<|im_start|>",
        "<|im_end|>", "<end_of_turn>", "<|endoftext|>", "</s>", "\\", "\"", "`", "~", "$", "%", "#",
    ]
    out = []
    for _ in range(count):
        n = rng.randint(1, 24)
        out.append("".join(rng.choice(pool) for _ in range(n)))
    return out


def cases_for(tokenize, texts):
    cases = []
    for text in texts:
        for add_special in (False, True):
            for parse_special in (False, True):
                ids = tokenize(text, add_special, parse_special)
                key = {"text_hex": text.hex()} if isinstance(text, bytes) else {"text": text}
                cases.append({**key, "add_special": add_special, "parse_special": parse_special, "ids": ids})
    return cases


def llama_cpp_tokenizer(path):
    import llama_cpp

    llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)

    def tokenize(text, add_special, parse_special):
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        return list(llm.tokenize(data, add_bos=add_special, special=parse_special))

    return tokenize, "llama-cpp-python " + llama_cpp.__version__


def transformers_tokenizer(path):
    """Hugging Face's reading of the same GGUF, or None when unavailable."""
    try:
        import transformers
        from transformers import AutoTokenizer
    except ImportError:
        return None
    try:
        tok = AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
    except Exception as e:  # noqa: BLE001 - report and go on without the second opinion
        print(f"  transformers could not load {path}: {e}", file=sys.stderr)
        return None

    def tokenize(text, add_special, parse_special):
        # transformers always parses special tokens; plain text only.
        assert parse_special
        return tok(text, add_special_tokens=add_special)["input_ids"]

    return tokenize, "transformers " + transformers.__version__


def make_pre_variant(pre, out_path):
    """The GPT-2 vocab file with another pre-tokenizer name, via gguf-py."""
    import gguf

    r = gguf.GGUFReader(os.path.join(SHARED_VOCAB, "ggml-vocab-gpt-2.gguf"))
    w = gguf.GGUFWriter(out_path, arch="gpt2")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(r.fields["tokenizer.ggml.tokens"].contents())
    w.add_token_types(r.fields["tokenizer.ggml.token_type"].contents())
    w.add_token_merges(r.fields["tokenizer.ggml.merges"].contents())
    w.add_bos_token_id(GPT2_BOS_EOS)
    w.add_eos_token_id(GPT2_BOS_EOS)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()


def write(name, model_file, location, oracle, cases, notes):
    os.makedirs(OUT_DIR, exist_ok=True)
    doc = {
        "generator": "scripts/oracle/gen_tokenizer_vectors.py",
        "oracle": oracle,
        "model": model_file,
        "location": location,
        "notes": notes,
        "cases": cases,
    }
    path = os.path.join(OUT_DIR, name + ".json")
    # One case per line keeps diffs readable; ASCII escapes keep bytes exact.
    header = json.dumps({k: v for k, v in doc.items() if k != "cases"}, ensure_ascii=True, indent=1)[:-2]
    lines = [json.dumps(c, ensure_ascii=True, separators=(",", ":")) for c in cases]
    with open(path, "w", encoding="utf-8") as f:
        f.write(header + ',\n "cases": [\n' + ",\n".join(lines) + "\n ]\n}\n")
    with open(path, encoding="utf-8") as f:
        assert json.load(f) == doc
    print(f"{path}: {len(cases)} cases")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--random", type=int, default=40, help="number of random mixed strings")
    parser.add_argument("--no-transformers", action="store_true", help="skip the transformers cross-check")
    args = parser.parse_args()
    texts = CORPUS + random_strings(args.random) + BYTE_CORPUS + random_byte_strings(args.random // 4)

    for vocab in VOCABS:
        path = os.path.join(SHARED_VOCAB, f"ggml-vocab-{vocab}.gguf")
        tokenize, oracle = llama_cpp_tokenizer(path)
        write("vocab-" + vocab, os.path.basename(path), "shared:vocab", oracle, cases_for(tokenize, texts), [])

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for pre in PRE_VARIANTS:
            path = os.path.join(tmp, f"gpt-2-as-{pre}.gguf")
            make_pre_variant(pre, path)
            tokenize, oracle = llama_cpp_tokenizer(path)
            write("pre-" + pre, "ggml-vocab-gpt-2.gguf", "shared:vocab", oracle, cases_for(tokenize, texts),
                  [f"tokenizer.ggml.pre set to '{pre}'; tokens, types, merges and BOS/EOS id of gpt-2"])

    for name, file in REAL_MODELS.items():
        path = os.path.join(MODEL_CACHE, file)
        if not os.path.exists(path):
            print(f"skipping {name}: {path} not found (scripts/fetch-models.sh)", file=sys.stderr)
            continue
        tokenize, oracle = llama_cpp_tokenizer(path)
        cases = cases_for(tokenize, texts)
        notes = []
        second = None if args.no_transformers else transformers_tokenizer(path)
        if second is not None:
            hf_tokenize, hf_name = second
            checked = [c for c in cases if "text" in c and c["parse_special"] and not c["add_special"]]
            differ = [c["text"] for c in checked if hf_tokenize(c["text"], False, True) != c["ids"]]
            notes.append(f"{hf_name} agrees on {len(checked) - len(differ)} of {len(checked)} texts "
                         f"(special tokens parsed, no BOS)")
            if differ:
                notes.append("texts where it differs: " + json.dumps(differ[:20], ensure_ascii=True))
            print(f"  {name}: " + "; ".join(notes))
        write("model-" + name, file, "model-cache:" + name, oracle, cases, notes)


if __name__ == "__main__":
    main()
