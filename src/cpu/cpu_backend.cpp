#include "cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "core/error.h"
#include "cpu/quant_dot.h"
#include "cpu/thread_pool.h"
#include "cpu/vec.h"
#include "quant/blocks.h"
#include "quant/dequant.h"

namespace worker::cpu {

namespace {

using model::Tensor;

class HostBuffer : public model::Buffer {
public:
    HostBuffer(void* data, size_t size) : Buffer(data, size) {}
    ~HostBuffer() override { std::free(data()); }
};

inline float* row_f32(const Tensor& t, int64_t i) {
    return reinterpret_cast<float*>(static_cast<char*>(t.data) + static_cast<size_t>(i) * t.nb1);
}

void require_f32(const Tensor& t, const char* op, const char* what) {
    if (t.type != GgmlType::F32)
        fail(CUDA_ERROR_INFERENCE_FAILED, op, ": ", what, " must be F32, got ", type_name(t.type));
}

// Rotated pairs per head the RoPE kernel keeps on its stack (head dims up to 1024).
constexpr int kMaxRopePairs = 512;

class CpuBackend final : public model::Backend {
public:
    CpuBackend(int n_threads, CpuIsa level)
        : level_(level), vec_(vec_kernels(level)), pool_(n_threads), scratch_(static_cast<size_t>(pool_.size())) {}

    std::string name() const override { return "cpu"; }

    Tensor upload_weight(const gguf::File& file, const gguf::TensorInfo& info) override {
        Tensor t;
        // The mapping is read-only; ops never write through weight tensors.
        t.data = const_cast<uint8_t*>(file.tensor_data(info));
        t.type = info.type;
        t.ne0 = static_cast<int64_t>(info.dims.empty() ? 1 : info.dims[0]);
        t.ne1 = static_cast<int64_t>(info.n_elements / static_cast<uint64_t>(t.ne0));
        t.nb1 = t.row_bytes();
        return t;
    }
    uint64_t weight_bytes() const override { return 0; }

    std::unique_ptr<model::Buffer> allocate(size_t bytes, const char* purpose) override {
        const size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
        void* p = std::aligned_alloc(64, rounded);
        if (p == nullptr) fail(CUDA_ERROR_OUT_OF_MEMORY, "cpu: cannot allocate ", bytes, " bytes for ", purpose);
        // Freed here if making its owner fails (bad_alloc).
        std::unique_ptr<void, void (*)(void*)> guard(p, &std::free);
        auto buffer = std::make_unique<HostBuffer>(p, bytes);
        guard.release();
        return buffer;
    }
    // Half precision, as llama.cpp's default cache: it halves the cache traffic,
    // and rounding where llama.cpp rounds keeps our logits close to its own.
    GgmlType kv_type() const override { return GgmlType::F16; }
    void write(const Tensor& dst, const void* host, size_t bytes) override { std::memcpy(dst.data, host, bytes); }
    void read(const Tensor& src, void* host, size_t bytes) override { std::memcpy(host, src.data, bytes); }
    void copy(const Tensor& src, const Tensor& dst, size_t bytes) override { std::memcpy(dst.data, src.data, bytes); }
    void synchronize() override {}

    void embed(const Tensor& table, const Tensor& ids, const Tensor& out) override {
        require_f32(out, "embed", "out");
        const auto* id = static_cast<const int32_t*>(ids.data);
        for (int64_t i = 0; i < ids.ne0; ++i) {
            if (id[i] < 0 || id[i] >= table.ne1) {
                fail(CUDA_ERROR_INFERENCE_FAILED, "embed: token id ", id[i], " outside the vocabulary of ", table.ne1);
            }
            worker::dequantize_row(table.type,
                                   static_cast<const char*>(table.data) + static_cast<size_t>(id[i]) * table.nb1,
                                   row_f32(out, i), table.ne0);
        }
    }

    void matmul(const Tensor& w, const Tensor& x, const Tensor& out) override {
        require_f32(x, "matmul", "x");
        require_f32(out, "matmul", "out");
        if (x.ne0 != w.ne0 || out.ne0 != w.ne1 || out.ne1 != x.ne1) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "matmul: shapes do not match: w [", w.ne1, "][", w.ne0, "], x [", x.ne1,
                 "][", x.ne0, "], out [", out.ne1, "][", out.ne0, "]");
        }
        if (w.type == GgmlType::F32 || w.type == GgmlType::F16) {
            matmul_float(w, x, out);
            return;
        }
        if (!type_traits(w.type).can(kCpuDot))
            fail(CUDA_ERROR_INFERENCE_FAILED, "matmul: weight type ", type_name(w.type), " is not supported");
        const int64_t n = x.ne1;
        // The kernels llama.cpp would use for this type and batch size (see
        // the loop below).
        const BatchKernels kernels = batch_kernels(w.type, n, level_);
        const int64_t nb = w.ne0 / 32;
        if (w.ne0 % 32 != 0)
            fail(CUDA_ERROR_INFERENCE_FAILED, "matmul: row length ", w.ne0, " is not a multiple of 32");
        xq_.resize(static_cast<size_t>(n * nb));
        pool_.parallel_for(n, 1, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) {
                quantize_activations(w.type, row_f32(x, i), xq_.data() + i * nb, w.ne0, level_);
            }
        });
        // Rows are split across threads in tiles: a tile of weight rows stays in
        // cache while every token of a prefill batch uses it, four tokens per
        // pass over a row. The groups of four start at the batch's first token
        // and the rest go one by one, as in llama.cpp's batched kernels, whose
        // sums the four-token kernels reproduce.
        const Dot4Fn dot4 = kernels.dot4;
        constexpr int64_t kTile = 16;
        const int64_t n_tiles = (w.ne1 + kTile - 1) / kTile;
        const auto* wdata = static_cast<const char*>(w.data);
        pool_.parallel_for(n_tiles, 1, [&](int64_t tb, int64_t te) {
            for (int64_t tile = tb; tile < te; ++tile) {
                const int64_t r0 = tile * kTile, r1 = std::min(w.ne1, r0 + kTile);
                int64_t i = 0;
                for (; dot4 != nullptr && i + 4 <= n; i += 4) {
                    float* o[4] = {row_f32(out, i), row_f32(out, i + 1), row_f32(out, i + 2), row_f32(out, i + 3)};
                    for (int64_t r = r0; r < r1; ++r) {
                        float v[4];
                        dot4(wdata + static_cast<size_t>(r) * w.nb1, xq_.data() + i * nb, nb, nb, v);
                        for (int t = 0; t < 4; ++t) o[t][r] = v[t];
                    }
                }
                for (; i < n; ++i) {
                    float* o = row_f32(out, i);
                    const BlockQ8* xi = xq_.data() + i * nb;
                    for (int64_t r = r0; r < r1; ++r) {
                        o[r] = kernels.dot1(wdata + static_cast<size_t>(r) * w.nb1, xi, nb);
                    }
                }
            }
        });
    }

    void add(const Tensor& a, const Tensor& b, const Tensor& out) override {
        require_f32(a, "add", "a");
        require_f32(b, "add", "b");
        const bool broadcast = b.ne1 == 1 && a.ne1 != 1;
        if (a.ne0 != b.ne0 || (!broadcast && a.ne1 != b.ne1)) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "add: shapes [", a.ne1, "][", a.ne0, "] and [", b.ne1, "][", b.ne0,
                 "] do not match");
        }
        for_rows(a.ne1, a.ne0, [&](int64_t i) {
            const float* pa = row_f32(a, i);
            const float* pb = row_f32(b, broadcast ? 0 : i);
            float* po = row_f32(out, i);
            for (int64_t j = 0; j < a.ne0; ++j) po[j] = pa[j] + pb[j];
        });
    }

    void scale(const Tensor& x, float s) override {
        require_f32(x, "scale", "x");
        for_rows(x.ne1, x.ne0, [&](int64_t i) {
            float* p = row_f32(x, i);
            for (int64_t j = 0; j < x.ne0; ++j) p[j] *= s;
        });
    }

    void rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) override {
        require_f32(x, "rms_norm", "x");
        if (!weight.empty()) {
            require_f32(weight, "rms_norm", "weight");
            if (weight.ne0 != x.ne0) {
                fail(CUDA_ERROR_INFERENCE_FAILED, "rms_norm: weight of ", weight.ne0, " for rows of ", x.ne0);
            }
        }
        const float* w = weight.empty() ? nullptr : static_cast<const float*>(weight.data);
        for_rows(x.ne1, x.ne0, [&](int64_t i) {
            const float* px = row_f32(x, i);
            float* po = row_f32(out, i);
            double sum = 0.0;
            // Squares in float, summed in double, as llama.cpp does.
            for (int64_t j = 0; j < x.ne0; ++j) sum += static_cast<double>(px[j] * px[j]);
            const float inv = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(x.ne0)) + eps);
            for (int64_t j = 0; j < x.ne0; ++j) po[j] = px[j] * inv * (w ? w[j] : 1.0f);
        });
    }

    // ggml's rope_yarn for the pair starting at element i0 (its i0 / 2-th),
    // with the product/sum pairs fused as the compiler fuses ggml's.
    static void rope_yarn(const model::RopeParams& p, float theta_extrap, int i0, float& cos_out, float& sin_out) {
        const float theta_interp = p.freq_scale * theta_extrap;
        float theta = theta_interp;
        float mscale = p.attn_factor;
        if (p.ext_factor != 0.0f) {
            const float y = static_cast<float>(i0 / 2 - p.corr_low) / std::max(0.001f, p.corr_high - p.corr_low);
            const float ramp_mix = (1.0f - std::min(1.0f, std::max(0.0f, y))) * p.ext_factor;
            theta = std::fma(theta_interp, 1.0f - ramp_mix, theta_extrap * ramp_mix);
            mscale *= std::fma(0.1f, std::log(1.0f / p.freq_scale), 1.0f);
        }
        cos_out = std::cos(theta) * mscale;
        sin_out = std::sin(theta) * mscale;
    }

    void rope(const Tensor& x, const model::RopeParams& p) override {
        require_f32(x, "rope", "x");
        if (x.ne0 != static_cast<int64_t>(p.n_head) * p.head_dim || p.n_rot > p.head_dim || p.n_rot % 2 != 0 ||
            p.n_rot > 2 * kMaxRopePairs) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "rope: row of ", x.ne0, " does not hold ", p.n_head, " heads of ",
                 p.head_dim, " rotating ", p.n_rot);
        }
        const int half = p.n_rot / 2;
        const float* factors = nullptr;
        if (!p.freq_factors.empty()) {
            require_f32(p.freq_factors, "rope", "freq_factors");
            if (p.freq_factors.ne0 < half) {
                fail(CUDA_ERROR_INFERENCE_FAILED, "rope: ", p.freq_factors.ne0, " frequency factors for ", half,
                     " pairs");
            }
            factors = static_cast<const float*>(p.freq_factors.data);
        }
        for_rows(x.ne1, x.ne0, [&](int64_t i) {
            // Angles by repeated multiplication, as llama.cpp computes them, so
            // that both round alike.
            const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
            float theta = static_cast<float>(p.pos0 + i);
            float cs[kMaxRopePairs], sn[kMaxRopePairs];
            for (int k = 0; k < half; ++k) {
                rope_yarn(p, theta / (factors ? factors[k] : 1.0f), 2 * k, cs[k], sn[k]);
                theta *= theta_scale;
            }
            float* row = row_f32(x, i);
            for (int h = 0; h < p.n_head; ++h) {
                float* v = row + static_cast<size_t>(h) * p.head_dim;
                for (int k = 0; k < half; ++k) {
                    const int a = p.neox ? k : 2 * k;
                    const int b = p.neox ? k + half : 2 * k + 1;
                    const float x0 = v[a], x1 = v[b];
                    // One product rounded, the other fused, as the compiler
                    // contracts llama.cpp's expressions.
                    v[a] = std::fma(x0, cs[k], -(x1 * sn[k]));
                    v[b] = std::fma(x0, sn[k], x1 * cs[k]);
                }
            }
        });
    }

    // SiLU through ggml's own e^x, as llama.cpp's CPU backend computes it.
    void swiglu(const Tensor& gate, const Tensor& up, const Tensor& out) override {
        require_f32(gate, "glu", "gate");
        require_f32(up, "glu", "up");
        for_rows(gate.ne1, gate.ne0, [&](int64_t i) {
            vec_.swiglu(row_f32(gate, i), row_f32(up, i), row_f32(out, i), gate.ne0);
        });
    }

    // GELU goes through a table over all half values, as in llama.cpp's CPU
    // backend: the input is rounded to half and so is the result. Matching
    // that matters for Gemma, whose logits move visibly with it.
    void geglu(const Tensor& gate, const Tensor& up, const Tensor& out) override {
        if (gelu_table_.empty()) {
            gelu_table_.resize(65536);
            for (uint32_t h = 0; h < 65536; ++h) {
                const float x = quant::fp16_to_f32(static_cast<uint16_t>(h));
                constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
                // The inner term fused as the compiler contracts ggml_gelu_f32.
                const float inner = std::fma(0.044715f * x, x, 1.0f);
                const float y = 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * inner));
                gelu_table_[h] = quant::fp16_to_f32(quant::f32_to_fp16(y));
            }
        }
        require_f32(gate, "glu", "gate");
        require_f32(up, "glu", "up");
        for_rows(gate.ne1, gate.ne0, [&](int64_t i) {
            const float* g = row_f32(gate, i);
            const float* u = row_f32(up, i);
            float* o = row_f32(out, i);
            for (int64_t j = 0; j < gate.ne0; ++j) {
                // Far below zero the result is +0 itself, not 0 times u (-0 for a negative u).
                if (g[j] <= -10.0f) {
                    o[j] = 0.0f;
                } else {
                    o[j] = (g[j] >= 10.0f ? g[j] : gelu_table_[quant::f32_to_fp16(g[j])]) * u[j];
                }
            }
        });
    }

    void copy_to_cache(const Tensor& src, const Tensor& cache, int32_t pos) override {
        require_f32(src, "copy_to_cache", "src");
        if (cache.type != GgmlType::F32 && cache.type != GgmlType::F16) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "copy_to_cache: cache type ", type_name(cache.type), " is not supported");
        }
        if (src.ne0 != cache.ne0 || pos < 0 || pos + src.ne1 > cache.ne1) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "copy_to_cache: ", src.ne1, " rows of ", src.ne0, " at ", pos,
                 " do not fit a cache of ", cache.ne1, " rows of ", cache.ne0);
        }
        for (int64_t i = 0; i < src.ne1; ++i) {
            void* dst = static_cast<char*>(cache.data) + static_cast<size_t>(pos + i) * cache.nb1;
            if (cache.type == GgmlType::F16) {
                vec_.to_f16(row_f32(src, i), static_cast<uint16_t*>(dst), src.ne0);
            } else {
                std::memcpy(dst, row_f32(src, i), static_cast<size_t>(src.ne0) * sizeof(float));
            }
        }
    }

    void attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, const model::AttentionParams& p,
                   const Tensor& out) override {
        require_f32(q, "attention", "q");
        require_f32(out, "attention", "out");
        const int64_t n = q.ne1;
        const int hd = p.head_dim;
        if (q.ne0 != static_cast<int64_t>(p.n_head) * hd || k_cache.ne0 != static_cast<int64_t>(p.n_head_kv) * hd ||
            p.pos0 + n > k_cache.ne1) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "attention: q [", n, "][", q.ne0, "] and cache [", k_cache.ne1, "][",
                 k_cache.ne0, "] do not fit ", p.n_head, "/", p.n_head_kv, " heads of ", hd, " at ", p.pos0);
        }
        if (k_cache.type != v_cache.type || (k_cache.type != GgmlType::F32 && k_cache.type != GgmlType::F16)) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "attention: cache types ", type_name(k_cache.type), "/",
                 type_name(v_cache.type), " are not supported");
        }
        const bool half = k_cache.type == GgmlType::F16;
        // The scores from cache row 0, padded to whole groups of 16.
        const int64_t span = (p.pos0 + n + 15) / 16 * 16;
        // One (token, head) pair per chunk; each thread keeps its own scratch:
        // the scores, the query, and the lane accumulators of the sum over V.
        pool_.run(n * p.n_head, [&](int64_t item, int thread) {
            std::vector<float>& scratch = scratch_[static_cast<size_t>(thread)];
            const size_t need = static_cast<size_t>(span + hd + 64 * hd);
            if (scratch.size() < need) scratch.resize(need);
            HeadWork w;
            w.i = item / p.n_head;
            w.h = static_cast<int>(item % p.n_head);
            w.kv_offset = static_cast<size_t>(w.h / (p.n_head / p.n_head_kv)) * hd;
            w.pos = p.pos0 + w.i;
            w.first = p.window > 0 ? std::max<int64_t>(0, w.pos - p.window + 1) : 0;
            w.scratch = scratch.data();
            w.qh = scratch.data() + span;
            w.acc = w.qh + hd;
            const float* qv = row_f32(q, w.i) + static_cast<size_t>(w.h) * hd;
            std::copy(qv, qv + hd, w.qh);
            float* o = row_f32(out, w.i) + static_cast<size_t>(w.h) * hd;
            if (half) {
                attend_f16_ggml(w, k_cache, v_cache, p, n > 1, o);
            } else {
                attend_f32(w, k_cache, v_cache, p, o);
            }
        });
    }

private:
    // One query row of one head: where it is and its scratch.
    struct HeadWork {
        int64_t i = 0;         // query row (token) in the batch
        int h = 0;             // query head
        size_t kv_offset = 0;  // first element of its KV head in a cache row
        int64_t pos = 0;       // the token's position
        int64_t first = 0;     // first cache row it sees (sliding window)
        float* scratch = nullptr;  // scores, indexed by cache row
        float* qh = nullptr;       // the query (head_dim)
        float* acc = nullptr;      // lane accumulators (64 * head_dim)
    };

    // Scaled scores of cache rows [first, pos] in place; returns their maximum.
    static float scale_scores(float* scores, int64_t count, const model::AttentionParams& p) {
        float max_score = -INFINITY;
        for (int64_t k = 0; k < count; ++k) {
            const float s = scores[k] * p.scale;
            scores[k] = s;
            max_score = std::max(max_score, s);
        }
        return max_score;
    }

    // A half cache in llama.cpp's order (flash attention off): q to half;
    // K.q in its 16-lane matrix kernel for a batch, its 4 x 16-lane vector
    // kernel for one token; softmax with ggml's e^x summed in double over
    // groups of 16 cache rows (masked rows zeros), each group's sum in the
    // order of a 16-lane reduction; probabilities to half; P.V in the lanes
    // of the same kernels. See docs/cpu-backend.md.
    void attend_f16_ggml(const HeadWork& w, const Tensor& k_cache, const Tensor& v_cache,
                         const model::AttentionParams& p, bool batch, float* o) const {
        const int hd = p.head_dim;
        vec_.round_to_f16(w.qh, hd);
        const int64_t count = w.pos - w.first + 1;
        float* scores = w.scratch + w.first;
        const auto k_stride = static_cast<int64_t>(k_cache.nb1 / sizeof(uint16_t));
        vec_.dot_f16_rows(w.qh, static_cast<const uint16_t*>(k_cache.data) + w.first * k_stride + w.kv_offset,
                          k_stride, count, hd, batch, scores);
        const float max_score = scale_scores(scores, count, p);
        for (int64_t k = 0; k < count; ++k) scores[k] -= max_score;
        vec_.exp_rows(scores, scores, count);
        const int64_t lo = w.first / 16 * 16, hi = (w.pos + 16) / 16 * 16;
        std::fill(w.scratch + lo, scores, 0.0f);
        std::fill(scores + count, w.scratch + hi, 0.0f);
        double total = 0.0;
        for (int64_t g = lo; g < hi; g += 16) total += static_cast<double>(reduce16(w.scratch + g));
        const auto inv = static_cast<float>(1.0 / total);
        for (int64_t k = 0; k < count; ++k) scores[k] *= inv;
        vec_.round_to_f16(scores, count);
        const auto v_stride = static_cast<int64_t>(v_cache.nb1 / sizeof(uint16_t));
        vec_.wsum_f16_rows(scores, static_cast<const uint16_t*>(v_cache.data) + w.first * v_stride + w.kv_offset,
                           v_stride, w.first, count, hd, batch, w.acc, o);
    }

    // An f32 cache: the plain reference (dot products, softmax in double).
    void attend_f32(const HeadWork& w, const Tensor& k_cache, const Tensor& v_cache, const model::AttentionParams& p,
                    float* o) const {
        const int hd = p.head_dim;
        const int64_t count = w.pos - w.first + 1;
        float* scores = w.scratch + w.first;
        auto cache_row = [&](const Tensor& c, int64_t k) {
            return reinterpret_cast<const float*>(static_cast<const char*>(c.data) + static_cast<size_t>(k) * c.nb1) +
                   w.kv_offset;
        };
        for (int64_t k = 0; k < count; ++k) scores[k] = vec_.dot(w.qh, cache_row(k_cache, w.first + k), hd);
        const float max_score = scale_scores(scores, count, p);
        double total = 0.0;
        for (int64_t k = 0; k < count; ++k) {
            scores[k] = std::exp(scores[k] - max_score);
            total += scores[k];
        }
        const auto inv = static_cast<float>(1.0 / total);
        std::fill(o, o + hd, 0.0f);
        for (int64_t k = 0; k < count; ++k) vec_.axpy(scores[k] * inv, cache_row(v_cache, w.first + k), o, hd);
    }

    // Elementwise ops on [rows][cols]: threaded only when big enough to pay
    // for waking the pool.
    template <typename RowFn>
    void for_rows(int64_t rows, int64_t cols, RowFn fn) {
        if (rows * cols < 16384 || rows < 2) {
            for (int64_t i = 0; i < rows; ++i) fn(i);
            return;
        }
        pool_.parallel_for(rows, 1, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) fn(i);
        });
    }

    void matmul_float(const Tensor& w, const Tensor& x, const Tensor& out) {
        pool_.parallel_for(w.ne1, 16, [&](int64_t rb, int64_t re) {
            std::vector<float> wrow(static_cast<size_t>(w.ne0));
            for (int64_t r = rb; r < re; ++r) {
                worker::dequantize_row(w.type, static_cast<const char*>(w.data) + static_cast<size_t>(r) * w.nb1,
                                       wrow.data(), w.ne0);
                for (int64_t i = 0; i < x.ne1; ++i) {
                    const float* xi = row_f32(x, i);
                    float s = 0.0f;
                    for (int64_t c = 0; c < w.ne0; ++c) s += wrow[static_cast<size_t>(c)] * xi[c];
                    row_f32(out, i)[r] = s;
                }
            }
        });
    }

    // The instruction-set level of every kernel this backend runs.
    CpuIsa level_;
    const VecKernels& vec_;
    ThreadPool pool_;
    std::vector<BlockQ8> xq_;
    std::vector<float> gelu_table_;
    std::vector<std::vector<float>> scratch_;
};

}  // namespace

std::unique_ptr<model::Backend> create_cpu_backend(int n_threads, CpuIsa level) {
    return std::make_unique<CpuBackend>(n_threads, level);
}

}  // namespace worker::cpu
