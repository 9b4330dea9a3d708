// Tensor taps (Transformer::set_tap): every named intermediate reaches the
// tap in forward order, under llama.cpp's names; what it sees is the op's
// real output (checked against an RMS norm computed here in double); a tap
// changes no logit; unset, decode steps are captured again.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/model.h"
#include "support/gguf_writer.h"
#include "worker_types.h"

namespace worker {
namespace {

struct Seen {
    std::string name;
    int layer;
    std::vector<float> values;  // all rows
};

std::shared_ptr<Model> load(const std::string& arch) {
    test::SyntheticModelSpec spec;
    spec.arch = arch;
    spec.n_layer = 2;
    spec.weight_type = GgmlType::Q8_0;
    const std::string path = testing::TempDir() + "taps_" + arch + ".gguf";
    test::write_synthetic_model(path, spec);
    return Model::load(Context::create(WORKER_DEVICE_CPU), path);
}

std::vector<float> read_all(model::Backend& b, const model::Tensor& t) {
    std::vector<float> out(static_cast<size_t>(t.ne0 * t.ne1));
    for (int64_t i = 0; i < t.ne1; ++i) {
        b.read(t.rows(i, 1), out.data() + i * t.ne0, static_cast<size_t>(t.ne0) * sizeof(float));
    }
    return out;
}

std::vector<float> logits_of(Model& m, const std::vector<int32_t>& prompt, int32_t next) {
    model::Transformer& tr = m.transformer();
    auto session = tr.create_session(64, static_cast<int32_t>(prompt.size()));
    tr.forward(*session, prompt);
    const model::Tensor logits = tr.forward(*session, std::span<const int32_t>(&next, 1));
    return read_all(tr.backend(), logits);
}

class Taps : public ::testing::TestWithParam<std::string> {};

TEST_P(Taps, SeeEveryIntermediateInOrderAndChangeNothing) {
    auto m = load(GetParam());
    model::Transformer& tr = m->transformer();
    const std::vector<int32_t> prompt = {1, 2, 3, 4, 5};
    const int32_t next = 7;
    const std::vector<float> untapped = logits_of(*m, prompt, next);

    std::vector<Seen> seen;
    tr.set_tap([&](const char* name, int layer, const model::Tensor& t) {
        seen.push_back({name, layer, read_all(tr.backend(), t)});
    });
    const std::vector<float> tapped = logits_of(*m, prompt, next);
    tr.set_tap({});
    EXPECT_EQ(tapped, untapped);  // bit for bit

    // Two forward calls (prompt, one token), each ending in the output.
    std::map<std::string, int> count;
    for (const Seen& s : seen) ++count[s.name + "/" + std::to_string(s.layer)];
    const int n_layer = static_cast<int>(m->config().block_count);
    for (const char* name : {"attn_norm", "Qcur", "Kcur", "Vcur", "kqv_out", "ffn_inp", "ffn_out", "l_out"}) {
        for (int il = 0; il < n_layer; ++il) EXPECT_EQ(count[std::string(name) + "/" + std::to_string(il)], 2) << name;
    }
    EXPECT_EQ(count["result_output/-1"], 2);
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.back().name, "result_output");
    EXPECT_EQ(seen.back().values, tapped);

    // attn_norm of layer 0 is the RMS norm of the block's input, computed here.
    const std::string input = GetParam() == "gemma3" ? "inp_scaled" : "embd";
    const Seen* in = nullptr;
    const Seen* normed = nullptr;
    for (const Seen& s : seen) {
        if (in == nullptr && s.name == input) in = &s;
        if (normed == nullptr && s.name == "attn_norm" && s.layer == 0) normed = &s;
    }
    ASSERT_NE(in, nullptr);
    ASSERT_NE(normed, nullptr);
    const gguf::TensorInfo* w_info = m->file().find_tensor("blk.0.attn_norm.weight");
    ASSERT_NE(w_info, nullptr);
    const auto* weight = reinterpret_cast<const float*>(m->file().tensor_data(*w_info));
    const int64_t dim = m->config().embedding_length;
    ASSERT_EQ(in->values.size(), prompt.size() * static_cast<size_t>(dim));
    for (size_t row = 0; row < prompt.size(); ++row) {
        double sum = 0.0;
        for (int64_t j = 0; j < dim; ++j) sum += double(in->values[row * dim + j]) * in->values[row * dim + j];
        const double inv = 1.0 / std::sqrt(sum / double(dim) + m->config().norm_eps);
        for (int64_t j = 0; j < dim; ++j) {
            const double want = in->values[row * dim + j] * inv * weight[j];
            EXPECT_NEAR(normed->values[row * dim + j], want, 1e-5 * (1.0 + std::fabs(want))) << row << " " << j;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Architectures, Taps, ::testing::Values("llama", "gemma3"));

}  // namespace
}  // namespace worker
