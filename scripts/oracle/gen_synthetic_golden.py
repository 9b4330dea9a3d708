#!/usr/bin/env python3
"""Golden forward-pass data from llama.cpp for the synthetic architecture models.

tests/unit/test_engine_synthetic_golden.cpp builds small models of real shape
with the test GGUF writer (qwen3, llama with rope_freqs.weight, qwen2 with
YaRN, llama with YaRN and rope.scaling.attn_factor, gemma3 with linear
scaling) and writes them when WORKER_WRITE_SYNTHETIC_GOLDEN_MODELS=<dir> is set:

    WORKER_WRITE_SYNTHETIC_GOLDEN_MODELS=/tmp/synth-models \\
        build/tests/test_engine_synthetic_golden --gtest_filter='*WriteModels*'
    python3 scripts/oracle/gen_synthetic_golden.py --models-dir /tmp/synth-models

For each model this records, from llama.cpp alone (llama-cpp-python 0.3.36's
low-level API, with llama.cpp's default context parameters: rope scaling,
YaRN factors and beta values as the file says; flash attention off, f16 KV
cache, n_ctx = n_batch = 256, 2 threads):
  * the file's FNV-1a 64-bit hash (the test rebuilds the bytes and checks it);
  * the prompt's token ids (llama_tokenize, add_special and parse_special);
  * the logits after the prompt, evaluated as one batch (little-endian float32);
  * 32 greedy steps: argmax of the raw logits (ties to the lowest id), each
    evaluated alone; every step's logits digest (gen_golden.py's
    logits_digest) and id.

The CPU kernels must be those of the existing goldens (tests/data/golden/
README.md: AVX2 FMA F16C AVX512 VBMI VNNI BF16, repacking on, no AMX). On a CPU
with AMX, a GGML_NATIVE wheel takes ggml's AMX matmul (other arithmetic; in a
sandbox without AMX permission it crashes), so these data were made with the
wheel's libllama.so and a libggml-base/libggml-cpu built from the same sdist
(vendor/llama.cpp) without it:

    cmake -S vendor/llama.cpp -B /tmp/ggml-noamx -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DGGML_NATIVE=OFF -DGGML_F16C=ON -DGGML_FMA=ON -DGGML_BMI2=ON -DGGML_AVX=ON \
      -DGGML_AVX2=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON \
      -DGGML_AVX512_BF16=ON -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF \
      -DGGML_AMX_BF16=OFF -DBUILD_SHARED_LIBS=ON && ninja -C /tmp/ggml-noamx ggml-cpu
    # a folder with the wheel's llama_cpp/lib/* and /tmp/ggml-noamx/bin/libggml-{base,cpu}.so*
    LD_LIBRARY_PATH=$DIR LLAMA_CPP_LIB_PATH=$DIR python3 scripts/oracle/gen_synthetic_golden.py ...

That build reproduces the real models' recorded first-step logits
(SmolLM2 Q4_1 and gemma-3 Q4_K_M, prompt 0) bit for bit, checked before these
were made.
"""

import argparse
import ctypes
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _llamacpp_common as common  # noqa: E402
from gen_golden import libm_fingerprint, logits_digest  # noqa: E402

import llama_cpp  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "golden", "synthetic")

MODELS = ["qwen3-q4_k", "llama-rope-freqs-q4_k", "qwen2-yarn-q6_k", "llama-yarn-attn-factor-q4_k", "gemma3-linear-q4_k"]
PROMPT = "hello world, the king and the queen of the north is in the house of the sea and the cat is singing"
N_STEPS = 32
N_CTX = 256
N_THREADS = 2


def fnv1a64(path):
    h = 0xCBF29CE484222325
    with open(path, "rb") as f:
        data = f.read()
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


class Runner:
    def __init__(self, path):
        mparams = llama_cpp.llama_model_default_params()
        self.model = llama_cpp.llama_model_load_from_file(path.encode("utf-8"), mparams)
        if not self.model:
            raise RuntimeError(f"llama.cpp refused to load {path}")
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = N_CTX
        cparams.n_batch = N_CTX
        cparams.n_ubatch = N_CTX
        cparams.n_threads = N_THREADS
        cparams.n_threads_batch = N_THREADS
        cparams.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        self.ctx = llama_cpp.llama_init_from_model(self.model, cparams)
        if not self.ctx:
            raise RuntimeError("llama_init_from_model failed")
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.pos = 0

    def tokenize(self, text):
        data = text.encode("utf-8")
        buf = (llama_cpp.llama_token * (len(data) + 16))()
        n = llama_cpp.llama_tokenize(self.vocab, data, len(data), buf, len(buf), True, True)
        if n < 0:
            raise RuntimeError("tokenize failed")
        return [int(buf[i]) for i in range(n)]

    def eval(self, ids):
        batch = llama_cpp.llama_batch_init(len(ids), 0, 1)
        try:
            for i, t in enumerate(ids):
                batch.token[i] = t
                batch.pos[i] = self.pos + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = i == len(ids) - 1
            batch.n_tokens = len(ids)
            if llama_cpp.llama_decode(self.ctx, batch) != 0:
                raise RuntimeError("llama_decode failed")
        finally:
            llama_cpp.llama_batch_free(batch)
        self.pos += len(ids)
        ptr = llama_cpp.llama_get_logits_ith(self.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).astype(np.float32, copy=True)

    def close(self):
        llama_cpp.llama_free(self.ctx)
        llama_cpp.llama_model_free(self.model)


def run(models_dir, name):
    path = os.path.join(models_dir, name + ".gguf")
    r = Runner(path)
    ids = r.tokenize(PROMPT)
    logits = r.eval(ids)
    assert np.all(np.isfinite(logits))
    first = logits
    out_dir = os.path.join(OUT, name)
    os.makedirs(out_dir, exist_ok=True)
    first.astype("<f4").tofile(os.path.join(out_dir, "logits_first.f32"))
    greedy, digests, margins = [], [], []
    for step in range(N_STEPS):
        digests.append(logits_digest(logits))
        order = np.argsort(-logits, kind="stable")
        tok = int(np.argmax(logits))
        greedy.append(tok)
        margins.append(float(logits[order[0]] - logits[order[1]]))
        if step + 1 < N_STEPS:
            logits = r.eval([tok])
    r.close()
    doc = {
        "model_file": name + ".gguf",
        "model_fnv1a64": fnv1a64(path),
        "model_writer": "tests/unit/test_engine_synthetic_golden.cpp (test GGUF writer)",
        "n_vocab": r.n_vocab,
        "prompt": PROMPT,
        "prompt_ids": ids,
        "first_logits_file": "logits_first.f32",
        "greedy_ids": greedy,
        "greedy_margins": margins,
        "step_logits_digest": digests,
        "versions": common.versions(),
        "settings": {
            "context": "llama_context_default_params(), n_ctx = n_batch = n_ubatch = 256, 2 threads, "
            "flash attention off (f16 KV cache)",
            "prompt_eval": "whole prompt as one batch, then one token per step",
            "greedy": "argmax of raw logits, ties to the lowest id",
        },
        "libm_fingerprint": libm_fingerprint(),
    }
    with open(os.path.join(out_dir, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"{name}: {len(ids)} prompt tokens, min margin {min(margins):.5f}, greedy {greedy[:8]}...")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models-dir", required=True)
    ap.add_argument("--only")
    args = ap.parse_args()
    common.init_backend()
    for name in MODELS:
        if args.only and args.only != name:
            continue
        run(args.models_dir, name)


if __name__ == "__main__":
    main()
