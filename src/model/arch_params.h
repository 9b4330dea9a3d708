// Backend parameters that every forward pass (arch_*.cpp) derives the same
// way from the model's config.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "model/backend.h"
#include "model/config.h"

namespace worker::model {

// RoPE of one layer's Q (all heads) and K (the KV heads) at positions from pos0.
struct LayerRope {
    RopeParams q;
    RopeParams k;
};

// ggml_rope_yarn_corr_dims: the first and last pair whose wavelength lies
// between beta_fast and beta_slow turns at the original context, in float.
inline void yarn_corr_dims(const Config& c, float freq_base, float& low, float& high) {
    const int n_dims = static_cast<int>(c.rope_dimension_count);
    const int n_ctx_orig = static_cast<int>(c.rope_n_ctx_orig);
    const auto corr_dim = [&](float n_rot) {
        return static_cast<float>(n_dims) *
               std::log(static_cast<float>(n_ctx_orig) / (n_rot * 2.0f * static_cast<float>(M_PI))) /
               (2.0f * std::log(freq_base));
    };
    low = std::max(0.0f, std::floor(corr_dim(c.rope_beta_fast)));
    high = std::min(static_cast<float>(n_dims - 1), std::ceil(corr_dim(c.rope_beta_slow)));
}

// `freq_factors`: the model's rope_freqs.weight, or empty.
inline LayerRope layer_rope(const Config& c, int32_t pos0, float freq_base, float freq_scale,
                            const Tensor& freq_factors = {}) {
    LayerRope r;
    r.q.n_head = static_cast<int32_t>(c.head_count);
    r.q.head_dim = static_cast<int32_t>(c.head_dim);
    r.q.n_rot = static_cast<int32_t>(c.rope_dimension_count);
    r.q.pos0 = pos0;
    r.q.freq_base = freq_base;
    r.q.freq_scale = freq_scale;
    r.q.neox = c.rope_neox;
    r.q.freq_factors = freq_factors;
    r.q.ext_factor = c.rope_ext_factor;
    r.q.attn_factor = c.rope_attn_factor;
    yarn_corr_dims(c, freq_base, r.q.corr_low, r.q.corr_high);
    r.k = r.q;
    r.k.n_head = static_cast<int32_t>(c.head_count_kv);
    return r;
}

// Attention of the queries at positions from pos0 over the cache, q·k scaled
// by `scale`; the window is set per layer.
inline AttentionParams attention_params(const Config& c, int32_t pos0, float scale) {
    AttentionParams a;
    a.n_head = static_cast<int32_t>(c.head_count);
    a.n_head_kv = static_cast<int32_t>(c.head_count_kv);
    a.head_dim = static_cast<int32_t>(c.head_dim);
    a.pos0 = pos0;
    a.scale = scale;
    return a;
}

}  // namespace worker::model
