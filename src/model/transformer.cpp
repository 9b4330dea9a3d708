#include "model/transformer.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/error.h"

namespace worker::model {

namespace {

std::string shape_text(const std::vector<uint64_t>& dims) {
    std::string s = "[";
    for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + "]";
}

enum class Kind { Matrix, Vector };

class Loader {
public:
    // Without a backend, tensors are checked and not uploaded: their views
    // point into the file's mapping.
    Loader(const gguf::File& file, Backend* backend, const LoadProgress* progress = nullptr)
        : file_(file), backend_(backend), progress_(progress) {
        for (const gguf::TensorInfo& t : file_.tensors()) total_bytes_ += t.n_bytes;
    }

    // A tensor of ggml shape `dims` ({cols, rows} for a matrix, {n} for a
    // vector): matrices in a block type the matmul supports, vectors in F32.
    Tensor get(const std::string& name, std::vector<uint64_t> dims, Kind kind, bool required = true) {
        read_.insert(name);
        const gguf::TensorInfo* info = file_.find_tensor(name);
        if (info == nullptr) {
            if (!required) return {};
            fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file_.path(), "': required tensor '", name,
                 "' is missing");
        }
        if (info->dims != dims) {
            fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file_.path(), "': tensor '", name, "' has shape ",
                 shape_text(info->dims), ", expected ", shape_text(dims));
        }
        const bool ok = kind == Kind::Vector ? info->type == GgmlType::F32 : is_weight_matrix_type(info->type);
        if (!ok) {
            fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file_.path(), "': tensor '", name, "' has type ",
                 type_name(info->type), ", which is not supported for a ",
                 kind == Kind::Vector ? "norm or bias (F32 expected)" : "weight matrix");
        }
        if (backend_ == nullptr) {
            Tensor t;
            t.data = const_cast<uint8_t*>(file_.tensor_data(*info));
            t.type = info->type;
            return t;
        }
        Tensor uploaded = backend_->upload_weight(file_, *info);
        report(info->n_bytes);
        return uploaded;
    }
    const gguf::File& file() const { return file_; }

    // A tensor that no code reads is a part of the model this engine would
    // silently leave out (llama 3's rope_freqs.weight, say): refused.
    void refuse_unread() const {
        for (const gguf::TensorInfo& t : file_.tensors()) {
            if (read_.count(t.name) == 0) {
                fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file_.path(), "': tensor '", t.name,
                     "' is not used by this engine's ", file_.get_string("general.architecture"),
                     " forward pass; running without it would not be the model the file describes");
            }
        }
    }

private:
    void report(uint64_t bytes) {
        done_bytes_ += bytes;
        if (progress_ == nullptr || !*progress_) return;
        const double fraction = total_bytes_ == 0 ? 1.0 : static_cast<double>(done_bytes_) / total_bytes_;
        if (!(*progress_)(fraction)) {
            fail(CUDA_ERROR_MODEL_LOAD_FAILED, "loading model file '", file_.path(),
                 "' was cancelled by its progress callback at ", static_cast<int>(fraction * 100), "%");
        }
    }

    const gguf::File& file_;
    Backend* backend_;
    const LoadProgress* progress_;
    uint64_t total_bytes_ = 0, done_bytes_ = 0;
    std::unordered_set<std::string> read_;
};

// Every weight the architecture reads, checked (presence, shape, type) and
// handed to the loader in one walk.
Weights load_weights(const Config& c, Loader& l) {
    const gguf::File& file = l.file();
    if (c.arch == Arch::GptOss) {
        fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file.path(),
             "': architecture 'gpt-oss' is recognised but has no forward pass in this build yet");
    }
    Weights weights;
    const uint64_t dim = c.embedding_length, qd = c.q_dim(), kvd = c.kv_dim(), ff = c.feed_forward_length;
    weights.token_embd = l.get("token_embd.weight", {dim, c.vocab_size}, Kind::Matrix);
    weights.output_norm = l.get("output_norm.weight", {dim}, Kind::Vector);
    weights.output = l.get("output.weight", {dim, c.vocab_size}, Kind::Matrix, false);
    if (weights.output.empty()) weights.output = weights.token_embd;
    // Llama 3.x: the llama3 rope scaling, computed at conversion into one
    // divisor per rotated pair, applied to every layer's Q and K.
    if (c.arch == Arch::Llama) {
        weights.rope_freqs = l.get("rope_freqs.weight", {c.rope_dimension_count / 2}, Kind::Vector, false);
    }

    const bool gemma = c.arch == Arch::Gemma3;
    for (uint32_t il = 0; il < c.block_count; ++il) {
        const std::string p = "blk." + std::to_string(il) + ".";
        LayerWeights w;
        w.attn_norm = l.get(p + "attn_norm.weight", {dim}, Kind::Vector);
        if (c.arch == Arch::Phi3 && file.find_tensor(p + "attn_qkv.weight") != nullptr) {
            w.wqkv = l.get(p + "attn_qkv.weight", {dim, qd + 2 * kvd}, Kind::Matrix);
        } else {
            w.wq = l.get(p + "attn_q.weight", {dim, qd}, Kind::Matrix);
            w.wk = l.get(p + "attn_k.weight", {dim, kvd}, Kind::Matrix);
            w.wv = l.get(p + "attn_v.weight", {dim, kvd}, Kind::Matrix);
        }
        // Biases are part of qwen2; llama-family files occasionally carry them too.
        const bool need_bias = c.arch == Arch::Qwen2;
        w.bq = l.get(p + "attn_q.bias", {qd}, Kind::Vector, need_bias);
        w.bk = l.get(p + "attn_k.bias", {kvd}, Kind::Vector, need_bias);
        w.bv = l.get(p + "attn_v.bias", {kvd}, Kind::Vector, need_bias);
        w.wo = l.get(p + "attn_output.weight", {qd, dim}, Kind::Matrix);
        w.ffn_norm = l.get(p + "ffn_norm.weight", {dim}, Kind::Vector);
        if (c.arch == Arch::Phi3 && file.find_tensor(p + "ffn_gate.weight") == nullptr) {
            w.gate_up = l.get(p + "ffn_up.weight", {dim, 2 * ff}, Kind::Matrix);
        } else {
            w.gate = l.get(p + "ffn_gate.weight", {dim, ff}, Kind::Matrix);
            w.up = l.get(p + "ffn_up.weight", {dim, ff}, Kind::Matrix);
        }
        w.down = l.get(p + "ffn_down.weight", {ff, dim}, Kind::Matrix);
        if (gemma || c.arch == Arch::Qwen3) {
            w.q_norm = l.get(p + "attn_q_norm.weight", {c.head_dim}, Kind::Vector);
            w.k_norm = l.get(p + "attn_k_norm.weight", {c.head_dim}, Kind::Vector);
        }
        if (gemma) {
            w.post_attn_norm = l.get(p + "post_attention_norm.weight", {dim}, Kind::Vector);
            w.post_ffn_norm = l.get(p + "post_ffw_norm.weight", {dim}, Kind::Vector);
        }
        weights.layers.push_back(w);
    }
    l.refuse_unread();
    return weights;
}

}  // namespace

void Transformer::check_weights(const gguf::File& file, const Config& config) {
    Loader l(file, nullptr);
    load_weights(config, l);
}

Transformer::Transformer(const gguf::File& file, Config config, std::unique_ptr<Backend> backend,
                         const LoadProgress& progress)
    : config_(std::move(config)), backend_(std::move(backend)) {
    Loader l(file, backend_.get(), &progress);
    weights_ = load_weights(config_, l);
}

namespace {
// KV positions a session starts with (then doubled as needed).
constexpr int32_t kInitialKvRows = 256;
}  // namespace

std::unique_ptr<Session> Transformer::create_session(int32_t capacity, int32_t max_batch) {
    const Config& c = config_;
    static std::atomic<uint64_t> next_id{1};
    auto s = std::unique_ptr<Session>(new Session(*backend_, next_id.fetch_add(1)));
    s->capacity_ = capacity;
    s->max_batch_ = max_batch;
    Backend& b = *backend_;
    auto make = [&](GgmlType type, int64_t cols, int64_t rows, const char* purpose) {
        const TypeTraits t = type_traits(type);
        const size_t bytes = static_cast<size_t>(cols * rows) / t.block_size * t.type_size;
        s->buffers_.push_back(b.allocate(bytes, purpose));
        return s->buffers_.back()->view(type, cols, rows);
    };
    grow_kv(*s, std::min(capacity, std::max(kInitialKvRows, max_batch)));
    const int64_t n = max_batch, ff = c.feed_forward_length;
    s->ids = make(GgmlType::I32, n, 1, "token ids");
    s->x = make(GgmlType::F32, c.embedding_length, n, "activations");
    s->xb = make(GgmlType::F32, c.embedding_length, n, "activations");
    s->ffn_out = make(GgmlType::F32, c.embedding_length, n, "activations");
    s->attn = make(GgmlType::F32, c.q_dim(), n, "activations");
    const LayerWeights& l0 = weights_.layers[0];
    if (!l0.wqkv.empty()) {
        s->qkv = make(GgmlType::F32, c.q_dim() + 2 * c.kv_dim(), n, "activations");
        s->q = s->qkv.cols(0, c.q_dim());
        s->k = s->qkv.cols(c.q_dim(), c.kv_dim());
        s->v = s->qkv.cols(c.q_dim() + c.kv_dim(), c.kv_dim());
    } else {
        s->q = make(GgmlType::F32, c.q_dim(), n, "activations");
        s->k = make(GgmlType::F32, c.kv_dim(), n, "activations");
        s->v = make(GgmlType::F32, c.kv_dim(), n, "activations");
    }
    if (!l0.gate_up.empty()) {
        s->gate_up = make(GgmlType::F32, 2 * ff, n, "activations");
        s->gate = s->gate_up.cols(0, ff);
        s->up = s->gate_up.cols(ff, ff);
    } else {
        s->gate = make(GgmlType::F32, ff, n, "activations");
        s->up = make(GgmlType::F32, ff, n, "activations");
    }
    s->logits = make(GgmlType::F32, c.vocab_size, 1, "logits");
    return s;
}

void Transformer::grow_kv(Session& s, int32_t rows) {
    if (rows <= s.kv_rows_) return;
    const Config& c = config_;
    Backend& b = *backend_;
    const GgmlType type = b.kv_type();
    const TypeTraits t = type_traits(type);
    const auto row_bytes = static_cast<size_t>(c.kv_dim()) / t.block_size * t.type_size;
    std::vector<std::unique_ptr<Buffer>> buffers;
    std::vector<Tensor> k, v;
    for (uint32_t il = 0; il < c.block_count; ++il) {
        for (std::vector<Tensor>* cache : {&k, &v}) {
            buffers.push_back(b.allocate(row_bytes * static_cast<size_t>(rows), "KV cache"));
            cache->push_back(buffers.back()->view(type, static_cast<int64_t>(c.kv_dim()), rows));
        }
    }
    const size_t used = row_bytes * static_cast<size_t>(s.n_past_);
    for (uint32_t il = 0; il < c.block_count && used > 0; ++il) {
        b.copy(s.k_cache[il], k[il], used);
        b.copy(s.v_cache[il], v[il], used);
    }
    // A decode step captured for the session uses the old cache addresses.
    b.forget_session(s.id_);
    s.kv_buffers_ = std::move(buffers);
    s.k_cache = std::move(k);
    s.v_cache = std::move(v);
    s.kv_rows_ = rows;
}

Session::~Session() { backend_.forget_session(id_); }

size_t Session::bytes() const {
    size_t total = 0;
    for (const auto& b : buffers_) total += b->size();
    for (const auto& b : kv_buffers_) total += b->size();
    return total;
}

Tensor Transformer::forward(Session& s, std::span<const int32_t> tokens) {
    const auto n = static_cast<int32_t>(tokens.size());
    if (n < 1 || n > s.max_batch_ || s.n_past_ + n > s.capacity_) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "forward: ", n, " tokens after ", s.n_past_, " exceed the session's ",
             s.capacity_, " positions or batch of ", s.max_batch_);
    }
    for (const int32_t id : tokens) {
        if (id < 0 || static_cast<uint32_t>(id) >= config_.vocab_size) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "forward: token id ", id, " is outside the vocabulary of ",
                 config_.vocab_size);
        }
    }
    if (s.n_past_ + n > s.kv_rows_) {
        grow_kv(s, std::min(s.capacity_, std::max(s.n_past_ + n, 2 * std::min(s.kv_rows_, s.capacity_ / 2))));
    }
    const Tensor ids = s.ids.cols(0, n);
    backend_->write(ids, tokens.data(), tokens.size() * sizeof(int32_t));
    auto record = [&] {
        if (config_.arch == Arch::Gemma3) {
            forward_gemma3(s, n);
        } else {
            forward_llama(s, n);
        }
        logits_of_last(s, n);
    };
    // A tap reads tensors in the middle of a step, which a captured step
    // cannot do: with a tap every step runs as plain ops.
    if (n == 1 && !tap_) {
        backend_->decode_step(s.id_, s.n_past_, record);
    } else {
        record();
    }
    s.n_past_ += n;
    return s.logits;
}

void Transformer::logits_of_last(Session& s, int32_t n) {
    Backend& b = *backend_;
    const Tensor last = s.x.rows(n - 1, 1);
    const Tensor normed = s.xb.rows(0, 1);
    b.rms_norm(last, weights_.output_norm, config_.norm_eps, normed);
    tap("result_norm", -1, normed);
    b.matmul(weights_.output, normed, s.logits);
    tap("result_output", -1, s.logits);
}

}  // namespace worker::model
