// The interface between the forward passes (src/model/) and the devices that
// run them (src/cpu/, cuda/). A forward pass is written once per architecture
// against this interface and never learns which device executes it; the CPU
// backend is the reference the CUDA backend is checked against op by op.
//
// Conventions every backend follows:
// - A Tensor is a non-owning 2-D view of backend memory: `ne0` elements per
//   row (the contiguous dimension, ggml's ne[0]), `ne1` rows, `nb1` bytes from
//   one row to the next. Element type F32 for activations; weights keep their
//   stored GGUF block type; the KV cache uses whatever kv_type() says. Rows of
//   a quantized tensor hold ne0 / block_size whole blocks.
// - Activation tensors passed to an op may be row-strided views (nb1 larger
//   than the row) — e.g. the Q, K and V column slices of a fused QKV product —
//   but elements inside a row are always contiguous. Outputs may alias inputs
//   only where the op says "in place".
// - Ops are enqueued in call order on the backend's one queue. They may run
//   asynchronously (CUDA); read() and synchronize() wait for everything before
//   them. Host pointers passed to an op are read before the op returns.
// - Positions (RopeParams::pos0, AttentionParams::pos0, copy_to_cache's pos)
//   are host scalars that change every decode step. A decode step is
//   enqueued through decode_step(), which lets a backend capture the step
//   once (the CUDA backend: in a graph whose kernels read the position from
//   device memory) and replay it on later steps without the ops being called.
// - A backend is not thread-safe: the Model serialises the forward steps of
//   its inferences, so one backend (and its queue) serves every inference of
//   one model.
// - Failures throw worker::Error: CUDA_ERROR_OUT_OF_MEMORY from allocations
//   (nothing left allocated), CUDA_ERROR_KERNEL_LAUNCH_FAILED /
//   CUDA_ERROR_INFERENCE_FAILED naming the op from the ops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "quant/ggml_type.h"
#include "sampling/sampler.h"

namespace worker {
class Context;
}

namespace worker::model {

struct Tensor {
    void* data = nullptr;
    GgmlType type = GgmlType::F32;
    int64_t ne0 = 0;  // elements per row
    int64_t ne1 = 1;  // rows
    size_t nb1 = 0;   // bytes between rows

    bool empty() const { return data == nullptr; }
    // Bytes of one row's elements (for quantized types: its blocks).
    size_t row_bytes() const {
        const TypeTraits t = type_traits(type);
        return static_cast<size_t>(ne0 / t.block_size) * t.type_size;
    }
    bool contiguous() const { return nb1 == row_bytes(); }
    // Rows [first, first + count) of this tensor.
    Tensor rows(int64_t first, int64_t count) const {
        Tensor v = *this;
        v.data = static_cast<char*>(data) + static_cast<size_t>(first) * nb1;
        v.ne1 = count;
        return v;
    }
    // Columns [first, first + count) of every row (F32/F16 only): a strided view.
    Tensor cols(int64_t first, int64_t count) const {
        Tensor v = *this;
        v.data = static_cast<char*>(data) + static_cast<size_t>(first) * type_traits(type).type_size;
        v.ne0 = count;
        return v;
    }
    // The same contiguous memory seen as rows of `row_elements` (e.g. a
    // [n][heads * head_dim] activation as [n * heads][head_dim]).
    Tensor reshape(int64_t row_elements) const {
        Tensor v = *this;
        const int64_t total = ne0 * ne1;
        v.ne0 = row_elements;
        v.ne1 = total / row_elements;
        v.nb1 = v.row_bytes();
        return v;
    }
};

// Memory owned by a backend; freed (or returned to the backend) on destruction.
class Buffer {
public:
    virtual ~Buffer() = default;
    // A contiguous [rows][cols] view of the start of the buffer.
    Tensor view(GgmlType type, int64_t cols, int64_t rows) const;
    void* data() const { return data_; }
    size_t size() const { return size_; }

protected:
    Buffer(void* data, size_t size) : data_(data), size_(size) {}

private:
    void* data_;
    size_t size_;
};

// Attention over a KV cache for n query tokens at positions [pos0, pos0 + n).
struct AttentionParams {
    int32_t n_head = 0;
    int32_t n_head_kv = 0;  // n_head is a multiple of it (grouped-query attention)
    int32_t head_dim = 0;
    int32_t pos0 = 0;
    float scale = 1.0f;  // applied to q·k, usually 1/sqrt(head_dim)
    int32_t window = 0;  // > 0: token at p sees keys at positions (p - window, p]
};

struct RopeParams {
    int32_t n_head = 0;    // heads per row of the tensor
    int32_t head_dim = 0;  // elements per head
    int32_t n_rot = 0;     // leading elements of each head that rotate (the rest pass through)
    int32_t pos0 = 0;      // position of row 0; row i is at pos0 + i
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;  // linear position scaling: angle uses pos * freq_scale
    bool neox = false;        // false: pairs (2i, 2i+1); true: pairs (i, i + n_rot/2)
    // F32 row of n_rot / 2 divisors of the pairs' angles (llama 3's
    // rope_freqs.weight), or empty for none.
    Tensor freq_factors;
    // YaRN as ggml's rope_yarn computes it: with ext_factor != 0, pair i
    // mixes the scaled and unscaled angle by a ramp over [corr_low,
    // corr_high] and the rotation gains 1 + 0.1 ln(1 / freq_scale); cos and
    // sin are always multiplied by attn_factor.
    float ext_factor = 0.0f;
    float attn_factor = 1.0f;
    float corr_low = 0.0f;
    float corr_high = 0.0f;
};

class Backend {
public:
    virtual ~Backend() = default;

    // "cpu" or "cuda:N", for messages.
    virtual std::string name() const = 0;

    // ---- memory -----------------------------------------------------------
    // Makes a weight tensor of the (mapped, still open) file available to the
    // ops in its stored block format. The CPU backend points into the
    // mapping; a GPU backend copies the blocks into its own memory. 1-D
    // tensors become one row. The file must outlive the backend.
    virtual Tensor upload_weight(const gguf::File& file, const gguf::TensorInfo& info) = 0;
    // Bytes of weights held by the device (0 for the CPU backend, which maps them).
    virtual uint64_t weight_bytes() const = 0;
    // Every byte the backend holds in device memory — weights, KV caches,
    // activations and its scratch buffers — as its allocation ledger counts
    // them; nullopt for a backend whose memory is the host's (the CPU).
    virtual std::optional<uint64_t> device_memory_bytes() const { return std::nullopt; }
    // Uninitialised memory for activations, KV cache or token ids.
    virtual std::unique_ptr<Buffer> allocate(size_t bytes, const char* purpose) = 0;
    // Element type the KV cache is stored in (F32 or F16); copy_to_cache
    // converts into it and attention reads it.
    virtual GgmlType kv_type() const = 0;
    // Host to device and device to host copies of whole contiguous tensors.
    // read() waits for every op enqueued before it.
    virtual void write(const Tensor& dst, const void* host, size_t bytes) = 0;
    virtual void read(const Tensor& src, void* host, size_t bytes) = 0;
    // Device to device copy of the first `bytes` of src into dst, enqueued.
    virtual void copy(const Tensor& src, const Tensor& dst, size_t bytes) = 0;
    virtual void synchronize() = 0;
    // Throws Error(CUDA_ERROR_VRAM_RESIDENCY_FAILED) naming any weight, cache or
    // scratch allocation that is not plain device memory. The CPU backend has
    // nothing to check.
    virtual void check_residency() const {}

    // ---- ops ----------------------------------------------------------------
    // out[i] = dequantized row ids[i] of table, for the I32 tensor ids (one row
    // of n ids in device memory, written with write()); out is F32 [n][ne0].
    virtual void embed(const Tensor& table, const Tensor& ids, const Tensor& out) = 0;
    // out[i][r] = sum_c w[r][c] * x[i][c]: w is [rows][cols] in any supported
    // block type, x is F32 [n][cols], out is F32 [n][rows]. n = 1 is a decode
    // step, larger n a prefill batch. Supported w types: those the type table
    // says every backend's matmul takes (is_weight_matrix_type,
    // quant/ggml_type.h).
    virtual void matmul(const Tensor& w, const Tensor& x, const Tensor& out) = 0;
    // out = a + b, elementwise; b may have a single row that is broadcast to
    // every row of a (a bias). In place when out aliases a.
    virtual void add(const Tensor& a, const Tensor& b, const Tensor& out) = 0;
    // x *= s, in place.
    virtual void scale(const Tensor& x, float s) = 0;
    // out[i] = x[i] / sqrt(mean(x[i]^2) + eps) * weight, per row; weight is
    // an F32 row of ne0 elements (or empty for none). In place allowed.
    virtual void rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) = 0;
    // Rotary position embedding, in place, on x = [n][n_head * head_dim].
    virtual void rope(const Tensor& x, const RopeParams& p) = 0;
    // out = silu(gate) * up (SwiGLU) or gelu_tanh(gate) * up (GeGLU); all F32
    // [n][ff]. out may alias gate.
    virtual void swiglu(const Tensor& gate, const Tensor& up, const Tensor& out) = 0;
    virtual void geglu(const Tensor& gate, const Tensor& up, const Tensor& out) = 0;
    // Copies src = F32 [n][kv_dim] into rows [pos, pos + n) of the cache
    // (kv_type() [n_ctx][kv_dim]), converting.
    virtual void copy_to_cache(const Tensor& src, const Tensor& cache, int32_t pos) = 0;
    // Causal attention: q = F32 [n][n_head * head_dim] at positions
    // [pos0, pos0 + n); k_cache / v_cache hold [pos0 + n][n_head_kv * head_dim]
    // valid rows (the current tokens already copied in). Query head h uses KV
    // head h / (n_head / n_head_kv). out = F32 [n][n_head * head_dim].
    virtual void attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, const AttentionParams& p,
                           const Tensor& out) = 0;

    // ---- decode steps -------------------------------------------------------------
    // Enqueues one decode step (one token at position `pos`) of the session
    // `session`: `record` calls the step's ops. Every call for a session must
    // record the same ops on the same tensors, with every position in them
    // equal to `pos`; nothing in `record` may read, write, synchronize or
    // allocate. A backend may therefore capture what `record` enqueues once
    // and, on later calls for the same session, replay it at the new position
    // without calling `record` at all. The default calls `record`.
    virtual void decode_step(uint64_t session, int32_t pos, const std::function<void()>& record) {
        (void)session;
        (void)pos;
        record();
    }
    // The session is gone (before its buffers are freed): drop what
    // decode_step kept for it.
    virtual void forget_session(uint64_t session) noexcept { (void)session; }

    // ---- sampling -------------------------------------------------------------
    // Picks the next token from one row of F32 logits. `history` holds the
    // prompt and generated ids the repetition penalty applies to; `uniform` is
    // a draw in [0, 1) from the inference's seeded generator, so that every
    // device makes the same choice from the same distribution. The default
    // reads the logits to the host and runs src/sampling; a GPU backend may
    // override it so that only the chosen id crosses to the host.
    virtual int32_t sample(const Tensor& logits, const sampling::Settings& settings, std::span<const int32_t> history,
                           double uniform);
};

// The backend of the context's device: the CPU backend for WORKER_DEVICE_CPU,
// the CUDA backend for a GPU. Throws Error when the device has none.
std::unique_ptr<Backend> create_backend(const Context& context);

}  // namespace worker::model
