// The decode-step contract the CUDA graphs rest on (Backend::decode_step in
// src/model/backend.h), checked on the CPU for every architecture: a backend
// that records the ops of a session's second decode step once and, on every
// later step, replays that list with only the position changed — never
// calling the forward pass again — must give exactly the logits of the
// plain CPU backend. This is what the CUDA backend does with a captured
// graph; here the recording wraps the real CPU backend, so it runs on any
// machine and catches a forward pass that would break replay (a position
// other than the step's, a host copy or allocation inside a step, ops that
// differ from one step to the next).
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cpu/cpu_backend.h"
#include "gguf/gguf_file.h"
#include "model/backend.h"
#include "model/config.h"
#include "model/transformer.h"
#include "sampling/sampler.h"
#include "support/gguf_writer.h"

namespace worker {
namespace {

using model::Tensor;

class ReplayBackend final : public model::Backend {
public:
    explicit ReplayBackend(std::unique_ptr<model::Backend> inner) : inner_(std::move(inner)) {}

    struct Counts {
        int eager = 0, recorded = 0, replayed = 0, forgotten = 0;
    };
    Counts counts;

    std::string name() const override { return "replay(" + inner_->name() + ")"; }
    Tensor upload_weight(const gguf::File& file, const gguf::TensorInfo& info) override {
        outside_step("upload_weight");
        return inner_->upload_weight(file, info);
    }
    uint64_t weight_bytes() const override { return inner_->weight_bytes(); }
    std::unique_ptr<model::Buffer> allocate(size_t bytes, const char* purpose) override {
        outside_step("allocate");
        return inner_->allocate(bytes, purpose);
    }
    GgmlType kv_type() const override { return inner_->kv_type(); }
    void write(const Tensor& dst, const void* host, size_t bytes) override {
        outside_step("write");
        inner_->write(dst, host, bytes);
    }
    void read(const Tensor& src, void* host, size_t bytes) override {
        outside_step("read");
        inner_->read(src, host, bytes);
    }
    void copy(const Tensor& src, const Tensor& dst, size_t bytes) override {
        outside_step("copy");
        inner_->copy(src, dst, bytes);
    }
    void synchronize() override {
        outside_step("synchronize");
        inner_->synchronize();
    }
    int32_t sample(const Tensor& logits, const sampling::Settings& settings, std::span<const int32_t> history,
                   double uniform) override {
        outside_step("sample");
        return inner_->sample(logits, settings, history, uniform);
    }

    // Ops: run at once outside a recording; inside one, kept as closures
    // whose positions come from the step being replayed.
    void embed(const Tensor& table, const Tensor& ids, const Tensor& out) override {
        op([=, this](int32_t) { inner_->embed(table, ids, out); });
    }
    void matmul(const Tensor& w, const Tensor& x, const Tensor& out) override {
        op([=, this](int32_t) { inner_->matmul(w, x, out); });
    }
    void add(const Tensor& a, const Tensor& b, const Tensor& out) override {
        op([=, this](int32_t) { inner_->add(a, b, out); });
    }
    void scale(const Tensor& x, float s) override {
        op([=, this](int32_t) { inner_->scale(x, s); });
    }
    void rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) override {
        op([=, this](int32_t) { inner_->rms_norm(x, weight, eps, out); });
    }
    void rope(const Tensor& x, const model::RopeParams& p) override {
        check_position("rope", p.pos0);
        op([=, this](int32_t pos) {
            model::RopeParams q = p;
            if (recording_or_replaying()) q.pos0 = pos;
            inner_->rope(x, q);
        });
    }
    void swiglu(const Tensor& gate, const Tensor& up, const Tensor& out) override {
        op([=, this](int32_t) { inner_->swiglu(gate, up, out); });
    }
    void geglu(const Tensor& gate, const Tensor& up, const Tensor& out) override {
        op([=, this](int32_t) { inner_->geglu(gate, up, out); });
    }
    void copy_to_cache(const Tensor& src, const Tensor& cache, int32_t pos) override {
        check_position("copy_to_cache", pos);
        op([=, this](int32_t step_pos) { inner_->copy_to_cache(src, cache, recording_or_replaying() ? step_pos : pos); });
    }
    void attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, const model::AttentionParams& p,
                   const Tensor& out) override {
        check_position("attention", p.pos0);
        op([=, this](int32_t pos) {
            model::AttentionParams a = p;
            if (recording_or_replaying()) a.pos0 = pos;
            inner_->attention(q, k_cache, v_cache, a, out);
        });
    }

    void decode_step(uint64_t session, int32_t pos, const std::function<void()>& record) override {
        Steps& s = sessions_[session];
        if (!s.ops.empty()) {
            ++counts.replayed;
            replaying_ = true;
            for (const auto& f : s.ops) f(pos);
            replaying_ = false;
            return;
        }
        if (!s.warm) {
            ++counts.eager;
            in_step_ = true;
            step_pos_ = pos;
            record();
            in_step_ = false;
            s.warm = true;
            return;
        }
        ++counts.recorded;
        recording_ = &s.ops;
        in_step_ = true;
        step_pos_ = pos;
        record();
        in_step_ = false;
        recording_ = nullptr;
        EXPECT_FALSE(s.ops.empty());
        replaying_ = true;
        for (const auto& f : s.ops) f(pos);
        replaying_ = false;
    }
    void forget_session(uint64_t session) noexcept override {
        counts.forgotten += static_cast<int>(sessions_.erase(session));
    }

private:
    struct Steps {
        bool warm = false;
        std::vector<std::function<void(int32_t)>> ops;
    };

    bool recording_or_replaying() const { return replaying_; }
    void op(std::function<void(int32_t)> f) {
        if (recording_ != nullptr) {
            recording_->push_back(std::move(f));
        } else {
            f(step_pos_);
        }
    }
    void outside_step(const char* what) const {
        EXPECT_FALSE(in_step_) << what << " called inside a decode step";
    }
    void check_position(const char* what, int32_t pos) const {
        if (in_step_) {
            EXPECT_EQ(pos, step_pos_) << what << " inside the decode step at " << step_pos_;
        }
    }

    std::unique_ptr<model::Backend> inner_;
    std::map<uint64_t, Steps> sessions_;
    std::vector<std::function<void(int32_t)>>* recording_ = nullptr;
    bool in_step_ = false;
    bool replaying_ = false;
    int32_t step_pos_ = 0;
};

std::string synthetic(const test::SyntheticModelSpec& spec) {
    const std::string path = testing::TempDir() + "decode_step_" + spec.arch + ".gguf";
    test::write_synthetic_model(path, spec);
    return path;
}

// Greedy logits of `steps` decode steps after a prompt, in one session.
std::vector<std::vector<float>> greedy_logits(model::Transformer& t, int steps) {
    const std::vector<int32_t> prompt = {1, 72, 101, 108, 108, 111};
    auto session = t.create_session(static_cast<int32_t>(prompt.size()) + steps, static_cast<int32_t>(prompt.size()));
    Tensor last = t.forward(*session, prompt);
    std::vector<std::vector<float>> all;
    for (int i = 0; i < steps; ++i) {
        std::vector<float> v(static_cast<size_t>(last.ne0));
        t.backend().read(last, v.data(), v.size() * sizeof(float));
        const int32_t id = sampling::argmax(v);
        all.push_back(std::move(v));
        last = t.forward(*session, std::span<const int32_t>(&id, 1));
    }
    return all;
}

class DecodeStep : public ::testing::TestWithParam<const char*> {};

TEST_P(DecodeStep, RecordedOnceAndReplayedGivesTheSameLogits) {
    test::SyntheticModelSpec spec;
    spec.arch = GetParam();
    spec.weight_type = GgmlType::Q8_0;
    spec.embedding_type = GgmlType::Q8_0;
    // gemma3's sliding window (8) is passed during the run.
    spec.sliding_window = 8;
    auto file = gguf::File::open(synthetic(spec));
    const int steps = 24;

    model::Transformer plain(*file, model::read_config(*file), cpu::create_cpu_backend(2));
    auto replay_owner = std::make_unique<ReplayBackend>(cpu::create_cpu_backend(2));
    ReplayBackend* replay = replay_owner.get();
    model::Transformer replayed(*file, model::read_config(*file), std::move(replay_owner));

    const auto expected = greedy_logits(plain, steps);
    const auto got = greedy_logits(replayed, steps);
    ASSERT_EQ(expected.size(), got.size());
    for (size_t i = 0; i < expected.size(); ++i) ASSERT_EQ(expected[i], got[i]) << GetParam() << " step " << i;
    // The first decode step (computing the logits of step 1) runs eagerly,
    // the second is recorded, the rest only replayed; the session is gone.
    EXPECT_EQ(replay->counts.eager, 1);
    EXPECT_EQ(replay->counts.recorded, 1);
    EXPECT_EQ(replay->counts.replayed, steps - 2);
    EXPECT_EQ(replay->counts.forgotten, 1);
}

INSTANTIATE_TEST_SUITE_P(Architectures, DecodeStep, ::testing::Values("llama", "qwen2", "qwen3", "phi3", "gemma3"),
                         [](const ::testing::TestParamInfo<const char*>& p) { return std::string(p.param); });

}  // namespace
}  // namespace worker
