#!/usr/bin/env python3
"""Speed reference: llama.cpp (through llama-cpp-python) prefill and decode on one model.

Per run (fresh KV cache each run, one unmeasured warm-up run first):
  * prefill: a prompt of exactly --prompt-tokens tokens evaluated as one batch;
  * decode: --gen-tokens tokens evaluated one at a time after it (greedy argmax
    of the logits picks each next token).
Reports tokens/s from wall-clock time around the eval calls, and also from
llama.cpp's own counters (llama_perf_context: t_p_eval_ms, t_eval_ms), the median
over --runs runs.

Usage:
  python scripts/oracle/bench_llamacpp.py [-m MODEL] [-t 2] [-p 128] [-n 128] [-r 3] [--json]
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _llamacpp_common as common  # noqa: E402

import llama_cpp  # noqa: E402
from llama_cpp import Llama  # noqa: E402

FILLER = (
    "The quick brown fox jumps over the lazy dog. Computers process numbers, text and "
    "images by following simple instructions very quickly. "
)


def make_prompt(llm, n):
    ids = []
    while len(ids) < n:
        ids = llm.tokenize((FILLER * (1 + n // 8)).encode("utf-8"), add_bos=True, special=False)
    return ids[:n]


def one_run(llm, prompt, n_gen):
    llm.reset()
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
    llama_cpp.llama_perf_context_reset(llm.ctx)
    n_vocab = llm.n_vocab()
    t0 = time.perf_counter()
    llm.eval(prompt)
    t1 = time.perf_counter()
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(n_vocab,))
    t_dec = 0.0
    for _ in range(n_gen):
        tok = int(np.argmax(logits))
        a = time.perf_counter()
        llm.eval([tok])
        t_dec += time.perf_counter() - a
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(n_vocab,))
    perf = llama_cpp.llama_perf_context(llm.ctx)
    return {
        "prefill_tok_s_wall": len(prompt) / (t1 - t0),
        "decode_tok_s_wall": n_gen / t_dec,
        "prefill_tok_s_llama": perf.n_p_eval / (perf.t_p_eval_ms / 1000.0) if perf.t_p_eval_ms > 0 else None,
        "decode_tok_s_llama": perf.n_eval / (perf.t_eval_ms / 1000.0) if perf.t_eval_ms > 0 else None,
        "n_p_eval": perf.n_p_eval,
        "n_eval": perf.n_eval,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-m", "--model", default=os.path.join(common.DEFAULT_MODEL_DIR, "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-p", "--prompt-tokens", type=int, default=128)
    ap.add_argument("-n", "--gen-tokens", type=int, default=128)
    ap.add_argument("-r", "--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    common.init_backend()

    n_ctx = args.prompt_tokens + args.gen_tokens + 16
    llm = Llama(
        model_path=args.model,
        n_ctx=n_ctx,
        n_batch=max(512, args.prompt_tokens),
        n_ubatch=max(512, args.prompt_tokens),
        n_threads=args.threads,
        n_threads_batch=args.threads,
        logits_all=False,
        flash_attn=False,
        verbose=False,
    )
    prompt = make_prompt(llm, args.prompt_tokens)
    one_run(llm, prompt, min(16, args.gen_tokens))  # warm-up
    runs = [one_run(llm, prompt, args.gen_tokens) for _ in range(args.runs)]

    def med(k):
        vals = [r[k] for r in runs if r[k] is not None]
        return statistics.median(vals) if vals else None

    result = {
        "model": os.path.basename(args.model),
        "threads": args.threads,
        "prompt_tokens": args.prompt_tokens,
        "gen_tokens": args.gen_tokens,
        "runs": runs,
        "median": {k: med(k) for k in ("prefill_tok_s_wall", "decode_tok_s_wall", "prefill_tok_s_llama", "decode_tok_s_llama")},
        "versions": common.versions(),
        "loadavg_after": os.getloadavg(),
        "nproc": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        m = result["median"]
        for i, r in enumerate(runs):
            print(f"run {i}: prefill {r['prefill_tok_s_wall']:.1f} tok/s, decode {r['decode_tok_s_wall']:.1f} tok/s "
                  f"(llama.cpp counters: {r['prefill_tok_s_llama']:.1f} / {r['decode_tok_s_llama']:.1f})")
        print(f"median over {args.runs}: prefill {m['prefill_tok_s_wall']:.1f} tok/s, decode {m['decode_tok_s_wall']:.1f} tok/s "
              f"(llama.cpp counters: {m['prefill_tok_s_llama']:.1f} / {m['decode_tok_s_llama']:.1f})")
        print(f"model {result['model']}, threads {args.threads}, llama-cpp-python {result['versions']['llama_cpp_python']}, "
              f"llama.cpp {result['versions']['llama_cpp_commit']}, loadavg {result['loadavg_after']}")


if __name__ == "__main__":
    main()
