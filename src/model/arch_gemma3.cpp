// Gemma 3: embeddings scaled by sqrt(dim); RMS norms before and after both
// the attention and the feed-forward block; per-head RMS norm of Q and K;
// five sliding-window layers (rope base 10k) per global layer (the file's
// rope base); GELU(tanh)-gated feed-forward.
#include <cmath>

#include "model/arch_params.h"
#include "model/transformer.h"

namespace worker::model {

void Transformer::forward_gemma3(Session& s, int32_t n) {
    Backend& b = *backend_;
    const Config& c = config_;
    const Tensor x = s.x.rows(0, n), xb = s.xb.rows(0, n), ffn_out = s.ffn_out.rows(0, n);
    const Tensor q = s.q.rows(0, n), k = s.k.rows(0, n), v = s.v.rows(0, n), attn = s.attn.rows(0, n);
    const Tensor gate = s.gate.rows(0, n), up = s.up.rows(0, n);
    const auto pos0 = static_cast<int32_t>(s.n_past());
    const auto hd = static_cast<int32_t>(c.head_dim);

    b.embed(weights_.token_embd, s.ids.cols(0, n), x);
    b.scale(x, std::sqrt(static_cast<float>(c.embedding_length)));
    tap("inp_scaled", -1, x);

    // Like llama.cpp, scale q itself (before it meets K in half precision)
    // rather than the scores.
    const float query_scale = 1.0f / std::sqrt(static_cast<float>(hd));
    AttentionParams ap = attention_params(c, pos0, 1.0f);

    for (uint32_t il = 0; il < c.block_count; ++il) {
        const LayerWeights& w = weights_.layers[il];
        const bool local = c.layer_is_local(il);
        const LayerRope rope = local ? layer_rope(c, pos0, c.rope_freq_base_local, c.rope_freq_scale_local)
                                     : layer_rope(c, pos0, c.rope_freq_base, c.rope_freq_scale);

        b.rms_norm(x, w.attn_norm, c.norm_eps, xb);
        tap("attn_norm", static_cast<int>(il), xb);
        b.matmul(w.wq, xb, q);
        b.matmul(w.wk, xb, k);
        b.matmul(w.wv, xb, v);
        tap("Qcur", static_cast<int>(il), q);
        tap("Kcur", static_cast<int>(il), k);
        tap("Vcur", static_cast<int>(il), v);
        b.rms_norm(q.reshape(hd), w.q_norm, c.norm_eps, q.reshape(hd));
        b.rms_norm(k.reshape(hd), w.k_norm, c.norm_eps, k.reshape(hd));
        tap("Qnorm", static_cast<int>(il), q);
        tap("Knorm", static_cast<int>(il), k);
        b.rope(q, rope.q);
        b.rope(k, rope.k);
        tap("Qrope", static_cast<int>(il), q);
        tap("Krope", static_cast<int>(il), k);
        b.scale(q, query_scale);
        b.copy_to_cache(k, s.k_cache[il], pos0);
        b.copy_to_cache(v, s.v_cache[il], pos0);
        ap.window = local ? static_cast<int32_t>(c.sliding_window) : 0;
        b.attention(q, s.k_cache[il], s.v_cache[il], ap, attn);
        tap("kqv_out", static_cast<int>(il), attn);
        b.matmul(w.wo, attn, xb);
        tap("attn_out", static_cast<int>(il), xb);
        b.rms_norm(xb, w.post_attn_norm, c.norm_eps, xb);
        tap("attn_post_norm", static_cast<int>(il), xb);
        b.add(x, xb, x);
        tap("ffn_inp", static_cast<int>(il), x);

        b.rms_norm(x, w.ffn_norm, c.norm_eps, xb);
        tap("ffn_norm", static_cast<int>(il), xb);
        b.matmul(w.gate, xb, gate);
        b.matmul(w.up, xb, up);
        tap("ffn_gate", static_cast<int>(il), gate);
        tap("ffn_up", static_cast<int>(il), up);
        b.geglu(gate, up, gate);
        tap("ffn_geglu", static_cast<int>(il), gate);
        b.matmul(w.down, gate, ffn_out);
        tap("ffn_out", static_cast<int>(il), ffn_out);
        b.rms_norm(ffn_out, w.post_ffn_norm, c.norm_eps, ffn_out);
        tap("ffn_post_norm", static_cast<int>(il), ffn_out);
        b.add(x, ffn_out, x);
        tap("l_out", static_cast<int>(il), x);
    }
}

}  // namespace worker::model
