#include <cmath>

#include "core/error.h"
#include "cuda_backend_impl.h"

namespace worker::cuda {

using model::Tensor;

void CudaBackend::embed(const Tensor& table, const Tensor& ids, const Tensor& out) {
    const OpScope scope(*this);
    require_type(ids, GgmlType::I32, "embed", "ids");
    require_type(out, GgmlType::F32, "embed", "out");
    const int64_t n = ids.ne0 * ids.ne1;
    if (out.ne0 != table.ne0 || out.ne1 < n) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "embed: out [", out.ne1, "][", out.ne0, "] cannot hold ", n, " rows of ",
             table.ne0);
    }
    if (!type_traits(table.type).can(kCudaDequant)) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "embed: table type ", type_name(table.type), " is not supported");
    }
    launch_embed(table.type, table.data, table.nb1, table.ne0, table.ne1, static_cast<const int32_t*>(ids.data), n,
                 f32(out), stride_of(out, 4, "embed", "out"), embed_flag(), stream_);
}

void CudaBackend::add(const Tensor& a, const Tensor& b, const Tensor& out) {
    const OpScope scope(*this);
    require_type(a, GgmlType::F32, "add", "a");
    require_type(b, GgmlType::F32, "add", "b");
    require_type(out, GgmlType::F32, "add", "out");
    const bool broadcast = b.ne1 == 1 && a.ne1 != 1;
    if (a.ne0 != b.ne0 || (!broadcast && a.ne1 != b.ne1) || out.ne0 != a.ne0 || out.ne1 != a.ne1) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "add: shapes [", a.ne1, "][", a.ne0, "] and [", b.ne1, "][", b.ne0,
             "] do not match");
    }
    launch_add(f32(a), stride_of(a, 4, "add", "a"), f32(b), broadcast ? 0 : stride_of(b, 4, "add", "b"), f32(out),
               stride_of(out, 4, "add", "out"), a.ne0, a.ne1, stream_);
}

void CudaBackend::scale(const Tensor& x, float s) {
    const OpScope scope(*this);
    require_type(x, GgmlType::F32, "scale", "x");
    launch_scale(f32(x), stride_of(x, 4, "scale", "x"), x.ne0, x.ne1, s, stream_);
}

void CudaBackend::rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) {
    const OpScope scope(*this);
    require_type(x, GgmlType::F32, "rms_norm", "x");
    require_type(out, GgmlType::F32, "rms_norm", "out");
    if (!weight.empty()) {
        require_type(weight, GgmlType::F32, "rms_norm", "weight");
        if (weight.ne0 != x.ne0) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "rms_norm: weight of ", weight.ne0, " for rows of ", x.ne0);
        }
    }
    if (out.ne0 != x.ne0 || out.ne1 != x.ne1) fail(CUDA_ERROR_INFERENCE_FAILED, "rms_norm: out shape differs from x");
    launch_rms_norm(f32(x), stride_of(x, 4, "rms_norm", "x"), weight.empty() ? nullptr : f32(weight), eps, f32(out),
                    stride_of(out, 4, "rms_norm", "out"), x.ne0, x.ne1, stream_);
}

void CudaBackend::rope(const Tensor& x, const model::RopeParams& p) {
    const OpScope scope(*this);
    require_type(x, GgmlType::F32, "rope", "x");
    if (x.ne0 != static_cast<int64_t>(p.n_head) * p.head_dim || p.n_rot > p.head_dim || p.n_rot % 2 != 0 ||
        p.n_rot < 0) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "rope: row of ", x.ne0, " does not hold ", p.n_head, " heads of ", p.head_dim,
             " rotating ", p.n_rot);
    }
    RopeExtension ext;
    if (!p.freq_factors.empty()) {
        require_type(p.freq_factors, GgmlType::F32, "rope", "freq_factors");
        if (p.freq_factors.ne0 < p.n_rot / 2) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "rope: ", p.freq_factors.ne0, " frequency factors for ", p.n_rot / 2,
                 " pairs");
        }
        ext.freq_factors = f32(p.freq_factors);
    }
    ext.ext_factor = p.ext_factor;
    ext.corr_low = p.corr_low;
    ext.corr_high = p.corr_high;
    // The CPU backend's (ggml's) magnitude, with the host's logf.
    ext.mscale = p.attn_factor;
    if (p.ext_factor != 0.0f) ext.mscale *= std::fma(0.1f, std::log(1.0f / p.freq_scale), 1.0f);
    launch_rope(f32(x), stride_of(x, 4, "rope", "x"), x.ne1, p.n_head, p.head_dim, p.n_rot, p.pos0,
                step_position("rope", p.pos0), p.freq_base, p.freq_scale, p.neox, ext, stream_);
}

void CudaBackend::swiglu(const Tensor& gate, const Tensor& up, const Tensor& out) { glu(Glu::Silu, gate, up, out); }

void CudaBackend::geglu(const Tensor& gate, const Tensor& up, const Tensor& out) { glu(Glu::GeluTanh, gate, up, out); }

void CudaBackend::glu(Glu kind, const Tensor& gate, const Tensor& up, const Tensor& out) {
    const OpScope scope(*this);
    const char* op = kind == Glu::Silu ? "swiglu" : "geglu";
    require_type(gate, GgmlType::F32, op, "gate");
    require_type(up, GgmlType::F32, op, "up");
    require_type(out, GgmlType::F32, op, "out");
    if (gate.ne0 != up.ne0 || gate.ne1 != up.ne1 || out.ne0 != gate.ne0 || out.ne1 != gate.ne1) {
        fail(CUDA_ERROR_INFERENCE_FAILED, op, ": shapes [", gate.ne1, "][", gate.ne0, "] and [", up.ne1, "][", up.ne0,
             "] do not match");
    }
    launch_glu(kind, f32(gate), stride_of(gate, 4, op, "gate"), f32(up), stride_of(up, 4, op, "up"), f32(out),
               stride_of(out, 4, op, "out"), gate.ne0, gate.ne1, stream_);
}

void CudaBackend::copy_to_cache(const Tensor& src, const Tensor& cache, int32_t pos) {
    const OpScope scope(*this);
    require_type(src, GgmlType::F32, "copy_to_cache", "src");
    require_type(cache, GgmlType::F16, "copy_to_cache", "cache");
    if (src.ne0 != cache.ne0 || pos < 0 || pos + src.ne1 > cache.ne1) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "copy_to_cache: ", src.ne1, " rows of ", src.ne0, " at ", pos,
             " do not fit a cache of ", cache.ne1, " rows of ", cache.ne0);
    }
    launch_copy_to_cache(f32(src), stride_of(src, 4, "copy_to_cache", "src"), src.ne0, src.ne1,
                         static_cast<uint16_t*>(cache.data), stride_of(cache, 2, "copy_to_cache", "cache"), pos,
                         step_position("copy_to_cache", pos), stream_);
}

void CudaBackend::attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                            const model::AttentionParams& p, const Tensor& out) {
    const OpScope scope(*this);
    require_type(q, GgmlType::F32, "attention", "q");
    require_type(out, GgmlType::F32, "attention", "out");
    require_type(k_cache, GgmlType::F16, "attention", "k_cache");
    require_type(v_cache, GgmlType::F16, "attention", "v_cache");
    const int64_t n = q.ne1;
    const int hd = p.head_dim;
    if (p.n_head <= 0 || p.n_head_kv <= 0 || p.n_head % p.n_head_kv != 0 ||
        q.ne0 != static_cast<int64_t>(p.n_head) * hd || k_cache.ne0 != static_cast<int64_t>(p.n_head_kv) * hd ||
        v_cache.ne0 != k_cache.ne0 || p.pos0 < 0 || p.pos0 + n > k_cache.ne1 || p.pos0 + n > v_cache.ne1 ||
        out.ne0 != q.ne0 || out.ne1 != n) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "attention: q [", n, "][", q.ne0, "] and cache [", k_cache.ne1, "][",
             k_cache.ne0, "] do not fit ", p.n_head, "/", p.n_head_kv, " heads of ", hd, " at ", p.pos0);
    }
    AttentionLaunch a{};
    a.q = f32(q);
    a.q_stride = stride_of(q, 4, "attention", "q");
    a.k_cache = static_cast<const uint16_t*>(k_cache.data);
    a.k_stride = stride_of(k_cache, 2, "attention", "k_cache");
    a.v_cache = static_cast<const uint16_t*>(v_cache.data);
    a.v_stride = stride_of(v_cache, 2, "attention", "v_cache");
    a.out = f32(out);
    a.out_stride = stride_of(out, 4, "attention", "out");
    a.n_tokens = n;
    a.n_head = p.n_head;
    a.n_head_kv = p.n_head_kv;
    a.head_dim = hd;
    a.pos0 = p.pos0;
    a.pos_dev = step_position("attention", p.pos0);
    a.scale = p.scale;
    a.window = p.window;
    float* partial = nullptr;
    if (n == 1) {
        // Sized for the most splits on every decode step (not only the
        // long ones), so nothing grows inside a captured step.
        partial = static_cast<float*>(
            ensure(attention_partial_, static_cast<size_t>(attention_partial_floats(p.n_head, hd)) * sizeof(float),
                   "attention partial results", Graphs::UseIt));
    }
    launch_attention(a, partial, stream_);
}

}  // namespace worker::cuda
