// The llama family: llama (SmolLM2; Llama 3's rope frequency factors), qwen2
// (biases on Q, K, V), qwen3 (per-head RMS norm of Q and K before RoPE) and
// phi3 (fused QKV and gate/up projections). Pre-norm blocks, RoPE,
// grouped-query attention, SwiGLU feed-forward.
#include <cmath>

#include "model/arch_params.h"
#include "model/transformer.h"

namespace worker::model {

void Transformer::forward_llama(Session& s, int32_t n) {
    Backend& b = *backend_;
    const Config& c = config_;
    const Tensor x = s.x.rows(0, n), xb = s.xb.rows(0, n), ffn_out = s.ffn_out.rows(0, n);
    const Tensor q = s.q.rows(0, n), k = s.k.rows(0, n), v = s.v.rows(0, n), attn = s.attn.rows(0, n);
    const Tensor gate = s.gate.rows(0, n), up = s.up.rows(0, n);
    const auto pos0 = static_cast<int32_t>(s.n_past());
    const auto hd = static_cast<int32_t>(c.head_dim);

    b.embed(weights_.token_embd, s.ids.cols(0, n), x);
    tap("embd", -1, x);

    const LayerRope rope = layer_rope(c, pos0, c.rope_freq_base, c.rope_freq_scale, weights_.rope_freqs);
    AttentionParams ap = attention_params(c, pos0, 1.0f / std::sqrt(static_cast<float>(hd)));

    for (uint32_t il = 0; il < c.block_count; ++il) {
        const LayerWeights& w = weights_.layers[il];
        b.rms_norm(x, w.attn_norm, c.norm_eps, xb);
        tap("attn_norm", static_cast<int>(il), xb);
        if (!w.wqkv.empty()) {
            b.matmul(w.wqkv, xb, s.qkv.rows(0, n));
        } else {
            b.matmul(w.wq, xb, q);
            b.matmul(w.wk, xb, k);
            b.matmul(w.wv, xb, v);
        }
        if (!w.bq.empty()) b.add(q, w.bq, q);
        if (!w.bk.empty()) b.add(k, w.bk, k);
        if (!w.bv.empty()) b.add(v, w.bv, v);
        tap("Qcur", static_cast<int>(il), q);
        tap("Kcur", static_cast<int>(il), k);
        tap("Vcur", static_cast<int>(il), v);
        if (!w.q_norm.empty()) {
            b.rms_norm(q.reshape(hd), w.q_norm, c.norm_eps, q.reshape(hd));
            b.rms_norm(k.reshape(hd), w.k_norm, c.norm_eps, k.reshape(hd));
            tap("Qcur_normed", static_cast<int>(il), q);
            tap("Kcur_normed", static_cast<int>(il), k);
        }
        b.rope(q, rope.q);
        b.rope(k, rope.k);
        tap("Qrope", static_cast<int>(il), q);
        tap("Krope", static_cast<int>(il), k);
        b.copy_to_cache(k, s.k_cache[il], pos0);
        b.copy_to_cache(v, s.v_cache[il], pos0);
        ap.window = c.layer_is_local(il) ? static_cast<int32_t>(c.sliding_window) : 0;
        b.attention(q, s.k_cache[il], s.v_cache[il], ap, attn);
        tap("kqv_out", static_cast<int>(il), attn);
        b.matmul(w.wo, attn, xb);
        tap("attn_out", static_cast<int>(il), xb);
        b.add(x, xb, x);
        tap("ffn_inp", static_cast<int>(il), x);

        b.rms_norm(x, w.ffn_norm, c.norm_eps, xb);
        tap("ffn_norm", static_cast<int>(il), xb);
        if (!w.gate_up.empty()) {
            b.matmul(w.gate_up, xb, s.gate_up.rows(0, n));
        } else {
            b.matmul(w.gate, xb, gate);
            b.matmul(w.up, xb, up);
        }
        tap("ffn_gate", static_cast<int>(il), gate);
        tap("ffn_up", static_cast<int>(il), up);
        b.swiglu(gate, up, gate);
        tap("ffn_swiglu", static_cast<int>(il), gate);
        b.matmul(w.down, gate, ffn_out);
        tap("ffn_out", static_cast<int>(il), ffn_out);
        b.add(x, ffn_out, x);
        tap("l_out", static_cast<int>(il), x);
    }
}

}  // namespace worker::model
