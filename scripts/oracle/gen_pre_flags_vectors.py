#!/usr/bin/env python3
"""What llama.cpp does, per pre-tokenizer name, beyond the regexes.

Besides its regexes, a tokenizer.ggml.pre name sets flags in llama.cpp
(src/llama-vocab.cpp): ignore_merges (a word that is itself a token is not
merged), the default of add_bos_token, byte encoding. The vocab files cover a
few names only, so this script writes one tiny synthetic GGUF per name that
worker_cuda's BPE tokenizer accepts, where those flags change the ids, and
records what llama.cpp (llama-cpp-python 0.3.36) gives:

  tokens  <s> </s> a b c Ġ bc ab abc \n \n\n\n (raw newlines, no merge makes them)
  merges  "b c" (rank 0), "a b" (rank 1)
  "abc":  merges give a + bc; with ignore_merges the word is the token abc
  "a\n\n\nb": without byte encoding (gemma4) a newline run that is a token is
          taken whole
  add_special true with no add_bos_token key: BOS when the name's default asks

The test (tests/unit/test_tokenizer_pre_flags.cpp) builds the same file with
the test GGUF writer, key for key.

    /tmp/oracle/bin/python scripts/oracle/gen_pre_flags_vectors.py

Writes tests/data/tokenizer/pre-flags.json. Only llama.cpp's ids are recorded.
"""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _llamacpp_common as common  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "tokenizer", "pre-flags.json")

# The names src/tokenizer/bpe.cpp knows (inputs only: the expected ids are
# llama.cpp's).
NAMES = """default llama3 llama-v3 llama-bpe falcon3 falcon-h1 pixtral midm-2.0 lfm2 dbrx smaug-bpe
chatglm-bpe glm4 deepseek-llm deepseek-coder deepseek-v3 falcon starcoder refact command-r smollm codeshell
exaone minerva-7b gpt-2 phi-2 mpt olmo jais jina-es jina-de gigachat jina-v1-en jina-v2-es jina-v2-de
jina-v2-code roberta-bpe trillion exaone4 a.x-4.0 mellum modern-bert granite-docling qwen2 deepseek-r1-qwen
stablelm2 megrez hunyuan kormo qwen35 gemma4 granite-embed-multi-311m sarvam-moe poro-chat bloom gpt3-finnish
viking gpt-4o llama4 tekken jina-v5-nano glm5 f2llmv2 kanana2 talkie minimax-m2""".split()

TOKENS = ["<s>", "</s>", "a", "b", "c", "\u0120", "bc", "ab", "abc", "\n", "\n\n\n"]
TYPES = [3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1]
MERGES = ["b c", "a b"]
TEXTS = ["abc", "abc abc", "cab", "a\n\n\nb", "\n\n"]


def write_vocab(pre, path):
    import gguf

    w = gguf.GGUFWriter(path, arch="gpt2")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(TOKENS)
    w.add_token_types(TYPES)
    w.add_token_merges(MERGES)
    w.add_bos_token_id(0)
    w.add_eos_token_id(1)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()


def main():
    common.init_backend()
    doc = {
        "generator": "scripts/oracle/gen_pre_flags_vectors.py",
        "oracle": common.versions(),
        "vocab": {"tokens": TOKENS, "token_type": TYPES, "merges": MERGES, "bos_token_id": 0, "eos_token_id": 1},
        "notes": ["tokenizer.ggml.model gpt2, tokenizer.ggml.pre NAME, general.architecture gpt2; "
                  "llama_tokenize(text, add_special, parse_special=false)"],
        "names": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in NAMES:
            path = os.path.join(tmp, "v.gguf")
            write_vocab(name, path)
            try:
                vocab = common.Vocab(path)
            except RuntimeError:
                doc["names"][name] = {"refused": True}
                print(f"{name}: refused by llama.cpp", file=sys.stderr)
                continue
            try:
                cases = []
                for text in TEXTS:
                    for add_special in (False, True):
                        cases.append({"text": text, "add_special": add_special,
                                      "ids": vocab.tokenize(text.encode(), add_special, False)})
                doc["names"][name] = {"refused": False, "cases": cases}
                print(f"{name}: {[c['ids'] for c in cases]}", file=sys.stderr)
            finally:
                vocab.close()
            os.remove(path)

    lines = ["{"]
    for key in ("generator", "oracle", "vocab", "notes"):
        lines.append(f" {json.dumps(key)}: {json.dumps(doc[key])},")
    lines.append(' "names": {')
    names = list(doc["names"])
    for i, name in enumerate(names):
        lines.append(f"  {json.dumps(name)}: {json.dumps(doc['names'][name])}" + ("," if i + 1 < len(names) else ""))
    lines += [" }", "}"]
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == doc
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
