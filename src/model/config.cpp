#include "model/config.h"

#include <cmath>
#include <set>
#include <string>

#include "core/error.h"
#include "gguf/summary.h"

namespace worker::model {

const char* arch_name(Arch arch) {
    switch (arch) {
        case Arch::Llama:
            return "llama";
        case Arch::Qwen2:
            return "qwen2";
        case Arch::Qwen3:
            return "qwen3";
        case Arch::Phi3:
            return "phi3";
        case Arch::Gemma3:
            return "gemma3";
        case Arch::GptOss:
            return "gpt-oss";
    }
    return "?";
}

bool Config::layer_is_local(uint32_t il) const {
    if (sliding_window == 0) return false;
    if (sliding_window_pattern == 0) return true;
    return (il + 1) % sliding_window_pattern != 0;
}

namespace {

// Bounds that keep every size derived from the head geometry far inside the
// 32-bit integers the backends index with (q_dim <= 2^26); real models use
// at most a few hundred heads of at most 256.
constexpr uint32_t kMaxHeads = 65536;
constexpr uint32_t kMaxHeadDim = 1024;

Arch detect(const std::string& name, const std::string& path) {
    if (name == "llama") return Arch::Llama;
    if (name == "qwen2") return Arch::Qwen2;
    if (name == "qwen3") return Arch::Qwen3;
    if (name == "phi3") return Arch::Phi3;
    if (name == "gemma3") return Arch::Gemma3;
    if (name == "gpt-oss") return Arch::GptOss;
    fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", path, "': architecture '", name,
         "' is not supported (supported: llama, qwen2, qwen3, phi3, gemma3, gpt-oss)");
}

// Reads "<arch>.<suffix>" keys into a Config, naming the key in every error.
class ConfigReader {
public:
    ConfigReader(const gguf::File& f, Config& c) : f_(f), c_(c), prefix_(c.arch_key + ".") {}

    // The key's full name, recorded as read: refuse_unread() refuses the rest.
    std::string key(const char* suffix) const {
        std::string name = prefix_ + suffix;
        read_.insert(name);
        return name;
    }

    // A "<arch>." key this engine does not read would change the model in a
    // way it does not implement (a softcap, a scaling, a window): refused,
    // naming the key and its value, rather than silently run without it.
    void refuse_unread() const {
        for (const auto& [name, value] : f_.metadata()) {
            if (name.compare(0, prefix_.size(), prefix_) != 0 || read_.count(name) != 0) continue;
            bad("metadata key '", name, "' = ", gguf::format_value(value), " is not implemented by this engine's ",
                c_.arch_key, " forward pass; running without it would not be the model the file describes");
        }
    }

    template <typename... Parts>
    [[noreturn]] void bad(const Parts&... parts) const {
        fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", f_.path(), "': ", parts...);
    }

    void dimensions() {
        c_.context_length = f_.get_u32(key("context_length"));
        c_.embedding_length = f_.get_u32(key("embedding_length"));
        c_.block_count = f_.get_u32(key("block_count"));
        c_.feed_forward_length = f_.get_u32(key("feed_forward_length"));
        c_.head_count = f_.get_u32(key("attention.head_count"));
        c_.head_count_kv = f_.get_u32_or(key("attention.head_count_kv"), c_.head_count);
        if (c_.head_count == 0 || c_.head_count_kv == 0 || c_.head_count % c_.head_count_kv != 0) {
            bad("attention.head_count ", c_.head_count, " is not a positive multiple of attention.head_count_kv ",
                c_.head_count_kv);
        }
        if (c_.embedding_length == 0 || c_.block_count == 0 || c_.context_length == 0) {
            bad("embedding_length, block_count and context_length must be positive");
        }
        if (c_.head_count > kMaxHeads || c_.head_count_kv > kMaxHeads) {
            bad(key("attention.head_count"), " ", c_.head_count, " / ", key("attention.head_count_kv"), " ",
                c_.head_count_kv, ": at most ", kMaxHeads, " heads are supported");
        }
        c_.head_dim = f_.get_u32_or(key("attention.key_length"), c_.embedding_length / c_.head_count);
        const uint32_t value_length = f_.get_u32_or(key("attention.value_length"), c_.head_dim);
        if (value_length != c_.head_dim) {
            bad(key("attention.value_length"), " ", value_length, " differs from key_length");
        }
        if (c_.head_dim == 0 || c_.head_dim % 2 != 0 || c_.head_dim > kMaxHeadDim) {
            bad(key("attention.key_length"), " (head dimension) ", c_.head_dim, " must be even and in [2, ",
                kMaxHeadDim, "]");
        }
    }

    void rope() {
        c_.rope_freq_base = f_.get_f32_or(key("rope.freq_base"), 10000.0f);
        c_.rope_freq_base_local = c_.rope_freq_base;
        c_.rope_dimension_count = f_.get_u32_or(key("rope.dimension_count"), c_.head_dim);
        if (c_.rope_dimension_count > c_.head_dim || c_.rope_dimension_count % 2 != 0) {
            bad(key("rope.dimension_count"), " ", c_.rope_dimension_count, " does not fit head dimension ",
                c_.head_dim);
        }
        // llama.cpp's reading (llama_model::load_hparams, llama_context): the
        // type defaults to linear, an absent or zero factor means 1, "none"
        // never scales, and "yarn" turns on the ramp (ext_factor 1) with the
        // magnitude factor computed below. Other types are refused rather than
        // run unscaled. ("llama3" is no rope.scaling.type llama.cpp accepts:
        // its conversion writes the factors as rope_freqs.weight instead.)
        const std::string scaling = f_.get_string_or(key("rope.scaling.type"), "linear");
        float factor = f_.get_f32_or(key("rope.scaling.factor"), 0.0f);
        if (factor == 0.0f) factor = 1.0f;
        if (!(factor > 0.0f) || !std::isfinite(factor)) {
            bad(key("rope.scaling.factor"), " ", factor, " must be positive");
        }
        if (scaling == "none") {
            c_.rope_freq_scale = 1.0f;
        } else if (scaling == "linear" || scaling == "yarn") {
            c_.rope_freq_scale = 1.0f / factor;
        } else {
            bad("metadata key '", key("rope.scaling.type"), "' = '", scaling,
                "': this rope scaling is not implemented (supported: none, linear, yarn)");
        }
        // The context the rope was trained at before any scaling; only YaRN's
        // correction dimensions use it.
        c_.rope_n_ctx_orig = f_.get_u32_or(key("rope.scaling.original_context_length"), 0);
        if (c_.rope_n_ctx_orig == 0) c_.rope_n_ctx_orig = c_.context_length;
        if (scaling == "yarn") {
            if (c_.arch == Arch::Gemma3) {
                // llama.cpp scales gemma3's sliding-window layers by their own
                // (swa) factor, which this engine does not model.
                bad("metadata key '", key("rope.scaling.type"), "' = 'yarn' is not implemented for gemma3");
            }
            c_.rope_ext_factor = 1.0f;
            // llama_context's yarn_attn_factor: get_mscale(factor) times the
            // inverse of the factor rope_yarn multiplies in again, each step
            // rounded to float as there.
            const float f = 1.0f / c_.rope_freq_scale;
            const float log_f = std::log(f);
            const float mscale = f <= 1.0f ? 1.0f : 0.1f * 1.0f * log_f + 1.0f;
            c_.rope_attn_factor = mscale;
            c_.rope_attn_factor *= 1.0f / (1.0f + 0.1f * log_f);
        }
        // A further magnitude factor llama.cpp reads for every architecture.
        c_.rope_attn_factor *= f_.get_f32_or(key("rope.scaling.attn_factor"), 1.0f);
        // llama.cpp's convention per architecture: Meta's llama permutes Q/K at
        // conversion so that adjacent elements pair; the others pair i with i + n/2.
        c_.rope_neox = c_.arch != Arch::Llama;
    }

    void norms_and_windows() {
        if (f_.has(key("attention.layer_norm_rms_epsilon"))) {
            c_.norm_eps = f_.get_f32(key("attention.layer_norm_rms_epsilon"));
        } else {
            c_.norm_eps = f_.get_f32_or(key("attention.layer_norm_epsilon"), 1e-5f);
        }
        if (c_.arch == Arch::Gemma3) {
            c_.sliding_window = f_.get_u32(key("attention.sliding_window"));
            // Fixed by the Gemma 3 design (and llama.cpp): five local layers, then a
            // global one; local layers use a 10k rope base whatever the global one is.
            c_.sliding_window_pattern = 6;
            c_.rope_freq_base_local = 10000.0f;
            // llama.cpp scales only the global layers (its rope_freq_scale_train_swa
            // stays 1 for gemma3): Gemma 3's linear factor is for long context.
            c_.rope_freq_scale_local = 1.0f;
        } else {
            c_.sliding_window = f_.get_u32_or(key("attention.sliding_window"), 0);
            if (c_.sliding_window != 0) c_.sliding_window_pattern = c_.arch == Arch::GptOss ? 2 : 0;
        }
    }

    void experts() {
        c_.expert_count = f_.get_u32_or(key("expert_count"), 0);
        c_.expert_used_count = f_.get_u32_or(key("expert_used_count"), 0);
        if (c_.expert_count > 0 && c_.arch != Arch::GptOss) {
            bad(key("expert_count"), " ", c_.expert_count, ": a mixture-of-experts ", c_.arch_key,
                " is not implemented (its feed-forward would be run as a dense one)");
        }
        if (c_.expert_count > 0 && (c_.expert_used_count == 0 || c_.expert_used_count > c_.expert_count)) {
            bad(key("expert_used_count"), " ", c_.expert_used_count, " does not fit expert_count ", c_.expert_count);
        }
    }

    void vocab_size() {
        if (f_.has(key("vocab_size"))) {
            c_.vocab_size = f_.get_u32(key("vocab_size"));
        } else if (const gguf::TensorInfo* embd = f_.find_tensor("token_embd.weight"); embd && embd->dims.size() == 2) {
            c_.vocab_size = static_cast<uint32_t>(embd->dims[1]);
        } else if (f_.has("tokenizer.ggml.tokens")) {
            c_.vocab_size = static_cast<uint32_t>(f_.get_array_size("tokenizer.ggml.tokens"));
        }
        if (c_.vocab_size == 0) {
            bad("vocabulary size unknown: no vocab_size, token_embd.weight or tokenizer.ggml.tokens");
        }
    }

private:
    const gguf::File& f_;
    Config& c_;
    const std::string prefix_;
    mutable std::set<std::string> read_;
};

}  // namespace

Config read_config(const gguf::File& f) {
    Config c;
    if (!f.has("general.architecture")) {
        fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", f.path(),
             "': metadata key 'general.architecture' is missing");
    }
    c.arch_key = f.get_string("general.architecture");
    c.arch = detect(c.arch_key, f.path());
    ConfigReader r(f, c);
    r.dimensions();
    r.rope();
    r.norms_and_windows();
    r.experts();
    r.vocab_size();
    r.refuse_unread();
    return c;
}

}  // namespace worker::model
