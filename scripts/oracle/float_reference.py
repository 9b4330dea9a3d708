#!/usr/bin/env python3
"""Gemma-3 first-step logits in float64 from the dequantized GGUF weights (NumPy).

An analysis tool, not a test oracle: it shows how far an implementation that
quantizes activations (ours, llama.cpp) lands from the exact result of the
same quantized weights. Every weight is dequantized with the gguf package;
activations, attention and norms stay in float64. Short prompts only (no
sliding window: the window is 512 tokens).

Usage: python scripts/oracle/float_reference.py MODEL.gguf OUT.f32 ID [ID...]
Then compare OUT.f32 with llama.cpp's tests/data/golden/.../logits_N.f32 and ours.
"""

import sys

import gguf
import numpy as np
from gguf import quants


def main():
    path, out, toks = sys.argv[1], sys.argv[2], [int(t) for t in sys.argv[3:]]
    r = gguf.GGUFReader(path)
    if str(bytes(r.fields["general.architecture"].parts[-1]), "utf-8") != "gemma3":
        sys.exit("only gemma3 is implemented")
    tensors = {t.name: t for t in r.tensors}

    def w(name):
        t = tensors[name]
        a = np.asarray(quants.dequantize(t.data, t.tensor_type), dtype=np.float64)
        return a.reshape([int(x) for x in reversed(t.shape)]) if len(t.shape) > 1 else a.reshape(-1)

    def meta(key):
        return r.fields[key].parts[-1][0]

    dim, n_layer = int(meta("gemma3.embedding_length")), int(meta("gemma3.block_count"))
    n_head, n_kv = int(meta("gemma3.attention.head_count")), int(meta("gemma3.attention.head_count_kv"))
    hd, eps = int(meta("gemma3.attention.key_length")), float(meta("gemma3.attention.layer_norm_rms_epsilon"))
    base_global = float(meta("gemma3.rope.freq_base"))
    n = len(toks)

    def rms(x, weight):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight

    def gelu(x):
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))

    def rope(x, base):  # NeoX pairs (i, i + d/2)
        half = hd // 2
        ang = np.arange(n)[:, None] * (base ** (-np.arange(half) * 2.0 / hd))[None, :]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        a, b = x[..., :half], x[..., half:]
        return np.concatenate([a * c - b * s, a * s + b * c], axis=-1)

    emb = w("token_embd.weight")
    x = emb[toks] * np.sqrt(float(dim))
    mask = np.triu(np.full((n, n), -np.inf), 1)
    for il in range(n_layer):
        p = f"blk.{il}."
        base = base_global if (il + 1) % 6 == 0 else 10000.0  # five local layers, then a global one
        h = rms(x, w(p + "attn_norm.weight"))
        q = (h @ w(p + "attn_q.weight").T).reshape(n, n_head, hd)
        k = (h @ w(p + "attn_k.weight").T).reshape(n, n_kv, hd)
        v = (h @ w(p + "attn_v.weight").T).reshape(n, n_kv, hd)
        q = rope(rms(q, w(p + "attn_q_norm.weight")), base)
        k = rope(rms(k, w(p + "attn_k_norm.weight")), base)
        k, v = np.repeat(k, n_head // n_kv, axis=1), np.repeat(v, n_head // n_kv, axis=1)
        scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(hd) + mask
        prob = np.exp(scores - scores.max(-1, keepdims=True))
        prob /= prob.sum(-1, keepdims=True)
        o = np.einsum("hqk,khd->qhd", prob, v).reshape(n, n_head * hd)
        x = x + rms(o @ w(p + "attn_output.weight").T, w(p + "post_attention_norm.weight"))
        h = rms(x, w(p + "ffn_norm.weight"))
        f = (gelu(h @ w(p + "ffn_gate.weight").T) * (h @ w(p + "ffn_up.weight").T)) @ w(p + "ffn_down.weight").T
        x = x + rms(f, w(p + "post_ffw_norm.weight"))
    logits = emb @ rms(x[-1], w("output_norm.weight"))
    logits.astype("<f4").tofile(out)


if __name__ == "__main__":
    main()
