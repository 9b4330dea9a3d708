// A decoder-only transformer on a backend: its weights, and the per-inference
// state (KV cache, activations) one forward pass per step runs over.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "gguf/gguf_file.h"
#include "model/backend.h"
#include "model/config.h"

namespace worker::model {

struct LayerWeights {
    Tensor attn_norm;
    Tensor wq, wk, wv;      // separate projections, or
    Tensor wqkv;            // fused [q | k | v] (phi3)
    Tensor bq, bk, bv;      // optional biases (qwen2)
    Tensor q_norm, k_norm;  // per-head RMS norm of q and k (gemma3)
    Tensor wo;
    Tensor post_attn_norm;  // gemma3
    Tensor ffn_norm;
    Tensor gate, up;  // separate, or
    Tensor gate_up;   // fused [gate | up] (phi3)
    Tensor down;
    Tensor post_ffn_norm;  // gemma3
};

struct Weights {
    Tensor token_embd;
    Tensor output_norm;
    Tensor output;      // token_embd when the embeddings are tied
    Tensor rope_freqs;  // llama 3's rope frequency factors, or empty
    std::vector<LayerWeights> layers;
};

class Transformer;

// What one inference owns on the device: its KV cache, sized for the tokens it
// will ever hold, and activations for the largest batch it evaluates.
class Session {
public:
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session();

    int32_t capacity() const { return capacity_; }
    int32_t n_past() const { return n_past_; }
    // Positions the KV cache holds now: it starts small and doubles as the
    // inference grows, up to capacity(), so that a large max_tokens costs
    // memory only when it is used.
    int32_t kv_rows() const { return kv_rows_; }
    // Device memory the session holds.
    size_t bytes() const;

private:
    friend class Transformer;
    Session(Backend& backend, uint64_t id) : backend_(backend), id_(id) {}

    Backend& backend_;  // the transformer's, which outlives its sessions
    uint64_t id_;       // unique for the life of the process: decode_step's key
    int32_t capacity_ = 0;
    int32_t max_batch_ = 0;
    int32_t n_past_ = 0;
    int32_t kv_rows_ = 0;
    std::vector<std::unique_ptr<Buffer>> buffers_;
    std::vector<std::unique_ptr<Buffer>> kv_buffers_;  // k then v, per layer
    std::vector<Tensor> k_cache, v_cache;              // per layer [kv_rows][kv_dim]
    Tensor ids, x, xb, q, k, v, qkv, attn, gate, up, gate_up, ffn_out, logits;
};

// Sees the named intermediates of every forward pass, in the spirit of
// llama.cpp's eval callback: `name` is llama.cpp's name for the same tensor
// ("attn_norm", "Qcur", "kqv_out", "l_out", "result_output", ...), `layer` the
// block (-1 outside the blocks), `t` the device tensor of the current
// batch's rows, valid only during the call (read it with Backend::read()).
using TensorTap = std::function<void(const char* name, int layer, const Tensor& t)>;

// Told the fraction of a model's weights loaded so far, in [0, 1]; false stops the load.
using LoadProgress = std::function<bool(double fraction)>;

class Transformer {
public:
    // Checks every tensor the architecture needs (presence, type, shape) and
    // uploads it. Throws Error(CUDA_ERROR_MODEL_LOAD_FAILED) naming the tensor.
    // `progress`, when set, is called after each tensor with the fraction of
    // the file's tensor bytes handled so far; returning false cancels the
    // load (Error(CUDA_ERROR_MODEL_LOAD_FAILED) saying so).
    Transformer(const gguf::File& file, Config config, std::unique_ptr<Backend> backend,
                const LoadProgress& progress = {});
    // The same checks without a backend: nothing is uploaded or allocated.
    static void check_weights(const gguf::File& file, const Config& config);

    const Config& config() const { return config_; }
    Backend& backend() { return *backend_; }
    const Backend& backend() const { return *backend_; }

    // Calls `tap` with every named intermediate of every later forward pass
    // (an empty function removes it). While a tap is set, decode steps run as
    // plain ops rather than captured ones, so that the tap can read tensors
    // in the middle of a step. Set it while no forward pass runs (under the
    // model's step lock). Without a tap the forward passes pay one branch per
    // intermediate.
    void set_tap(TensorTap tap) { tap_ = std::move(tap); }

    // State for `capacity` tokens, evaluated in batches of at most `max_batch`.
    std::unique_ptr<Session> create_session(int32_t capacity, int32_t max_batch);
    // Evaluates `tokens` at positions [n_past, n_past + n) and returns the
    // logits of the last one (a device tensor of the session, valid until the
    // next call). Throws Error(CUDA_ERROR_INFERENCE_FAILED) past the capacity.
    Tensor forward(Session& session, std::span<const int32_t> tokens);

private:
    void forward_llama(Session& s, int32_t n);
    void forward_gemma3(Session& s, int32_t n);
    void logits_of_last(Session& s, int32_t n);
    void tap(const char* name, int layer, const Tensor& t) const {
        if (tap_) tap_(name, layer, t);
    }
    // Makes the session's KV cache hold at least `rows` positions.
    void grow_kv(Session& s, int32_t rows);

    Config config_;
    std::unique_ptr<Backend> backend_;
    Weights weights_;
    TensorTap tap_;
};

}  // namespace worker::model
