// Backend parameters that every forward pass (arch_*.cpp) derives the same
// way from the model's config.
#pragma once

#include <cstdint>

#include "model/backend.h"
#include "model/config.h"

namespace worker::model {

// RoPE of one layer's Q (all heads) and K (the KV heads) at positions from pos0.
struct LayerRope {
    RopeParams q;
    RopeParams k;
};

inline LayerRope layer_rope(const Config& c, int32_t pos0, float freq_base) {
    LayerRope r;
    r.q.n_head = static_cast<int32_t>(c.head_count);
    r.q.head_dim = static_cast<int32_t>(c.head_dim);
    r.q.n_rot = static_cast<int32_t>(c.rope_dimension_count);
    r.q.pos0 = pos0;
    r.q.freq_base = freq_base;
    r.q.freq_scale = c.rope_freq_scale;
    r.q.neox = c.rope_neox;
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
