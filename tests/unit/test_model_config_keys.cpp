// Nothing unsupported runs: every "<arch>." metadata key of a file is either
// read by the engine or the file is refused, naming the key and its value.
// Walks every key the synthetic models carry (each one the loader reads) for
// every architecture, then the known variants the engine does not implement.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "model/config.h"
#include "support/gguf_writer.h"

namespace worker {
namespace {

std::string write(const std::string& name, const std::function<void(test::GgufWriter&)>& change,
                  const std::string& arch = "llama") {
    test::SyntheticModelSpec spec;
    spec.arch = arch;
    test::GgufWriter w;
    test::add_synthetic_model(w, spec);
    change(w);
    const std::string path = testing::TempDir() + "config_keys_" + name + ".gguf";
    w.write(path);
    return path;
}

// The refusal's detail, or "" when the configuration was read.
std::string refusal(const std::string& path) {
    try {
        model::read_config(*gguf::File::open(path));
        return "";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), CUDA_ERROR_MODEL_LOAD_FAILED) << e.message();
        return e.message();
    }
}

class EveryArchitecture : public testing::TestWithParam<std::string> {};

// Each key the synthetic model of an architecture carries is one the loader
// reads: the model loads as written, and an extra, unknown key is refused.
TEST_P(EveryArchitecture, ReadsEveryKeyItWritesAndRefusesAnUnknownOne) {
    const std::string arch = GetParam();
    const std::string plain = write(
        arch + "_plain", [](test::GgufWriter&) {}, arch);
    EXPECT_EQ(refusal(plain), "");
    const auto file = gguf::File::open(plain);
    int arch_keys = 0;
    for (const auto& [name, value] : file->metadata()) arch_keys += name.rfind(arch + ".", 0) == 0 ? 1 : 0;
    EXPECT_GE(arch_keys, 7) << "the synthetic " << arch << " model carries its hyper-parameters";

    const std::string extra = write(
        arch + "_extra", [&](test::GgufWriter& w) { w.add_f32(arch + ".attention.logit_softcapping", 50.0f); }, arch);
    const std::string detail = refusal(extra);
    EXPECT_NE(detail.find("metadata key '" + arch + ".attention.logit_softcapping' = 50"), std::string::npos) << detail;
    EXPECT_NE(detail.find("not implemented"), std::string::npos) << detail;
}

INSTANTIATE_TEST_SUITE_P(Synthetic, EveryArchitecture, testing::Values("llama", "qwen2", "qwen3", "phi3", "gemma3"),
                         [](const auto& param_info) { return param_info.param; });

// Variants named by real files that this engine does not implement: each is
// refused with the key (and value) that asks for it.
TEST(ConfigKeys, KnownVariantsTheEngineLacksAreRefusedByName) {
    struct Case {
        const char* name;
        std::function<void(test::GgufWriter&)> change;
        std::vector<std::string> detail;
    };
    const std::vector<Case> cases = {
        // Rope scalings llama.cpp has (longrope) or has not ("llama3": its
        // converter writes rope_freqs.weight instead) that this engine lacks.
        {"longrope",
         [](test::GgufWriter& w) { w.add_string("llama.rope.scaling.type", "longrope"); },
         {"'llama.rope.scaling.type' = 'longrope'"}},
        {"llama3_type",
         [](test::GgufWriter& w) { w.add_string("llama.rope.scaling.type", "llama3"); },
         {"'llama.rope.scaling.type' = 'llama3'"}},
        // llama.cpp's llama, qwen2, qwen3 ignore the YaRN tuning keys (only
        // deepseek2-like graphs read them): a file that sets them asks for
        // something neither engine does.
        {"yarn_beta_fast",
         [](test::GgufWriter& w) {
             w.add_string("llama.rope.scaling.type", "yarn");
             w.add_f32("llama.rope.scaling.factor", 4.0f);
             w.add_f32("llama.rope.scaling.yarn_beta_fast", 16.0f);
         },
         {"'llama.rope.scaling.yarn_beta_fast' = 16"}},
        {"yarn_log_multiplier",
         [](test::GgufWriter& w) {
             w.add_string("llama.rope.scaling.type", "yarn");
             w.add_f32("llama.rope.scaling.yarn_log_multiplier", 0.1f);
         },
         {"'llama.rope.scaling.yarn_log_multiplier'"}},
        {"rope_finetuned",
         [](test::GgufWriter& w) { w.add_bool("llama.rope.scaling.finetuned", true); },
         {"'llama.rope.scaling.finetuned'"}},
        {"final_softcap",
         [](test::GgufWriter& w) { w.add_f32("llama.final_logit_softcapping", 30.0f); },
         {"'llama.final_logit_softcapping' = 30"}},
        {"experts",
         [](test::GgufWriter& w) {
             w.add_u32("llama.expert_count", 8);
             w.add_u32("llama.expert_used_count", 2);
         },
         {"llama.expert_count 8", "mixture-of-experts"}},
        {"embedding_scale",
         [](test::GgufWriter& w) { w.add_f32("llama.embedding_scale", 12.0f); },
         {"'llama.embedding_scale' = 12"}},
    };
    for (const Case& c : cases) {
        const std::string detail = refusal(write(c.name, c.change));
        EXPECT_FALSE(detail.empty()) << c.name << " was read";
        for (const std::string& needle : c.detail) {
            EXPECT_NE(detail.find(needle), std::string::npos) << c.name << ": " << detail;
        }
    }
}

// Phi-3 files state the context the rope was trained at: without YaRN it
// changes nothing, and is read.
TEST(ConfigKeys, TheOriginalContextLengthIsReadWithoutYarn) {
    const std::string path = write(
        "original_context", [](test::GgufWriter& w) { w.add_u32("phi3.rope.scaling.original_context_length", 4096); },
        "phi3");
    EXPECT_EQ(refusal(path), "");
}

// A linear scaling states its factor; the factor is then read, not refused.
TEST(ConfigKeys, LinearScalingReadsItsFactor) {
    const std::string path = write("linear", [](test::GgufWriter& w) {
        w.add_string("llama.rope.scaling.type", "linear");
        w.add_f32("llama.rope.scaling.factor", 4.0f);
    });
    const model::Config c = model::read_config(*gguf::File::open(path));
    EXPECT_EQ(c.rope_freq_scale, 0.25f);
    EXPECT_EQ(c.rope_ext_factor, 0.0f);
}

// As llama.cpp reads them: no type means linear, so a lone factor scales;
// "none" never does, whatever factor the file states.
TEST(ConfigKeys, ScalingTypeDefaultsToLinearAndNoneIgnoresTheFactor) {
    const model::Config lone = model::read_config(*gguf::File::open(
        write("factor_without_type", [](test::GgufWriter& w) { w.add_f32("llama.rope.scaling.factor", 4.0f); })));
    EXPECT_EQ(lone.rope_freq_scale, 0.25f);
    const model::Config none = model::read_config(*gguf::File::open(write("none_with_factor", [](test::GgufWriter& w) {
        w.add_string("llama.rope.scaling.type", "none");
        w.add_f32("llama.rope.scaling.factor", 4.0f);
    })));
    EXPECT_EQ(none.rope_freq_scale, 1.0f);
}

// YaRN: the ramp on, the original context read, and llama_context's
// magnitude factor: get_mscale(s) = 0.1 ln s + 1 over 1 + 0.1 ln s, each
// rounded to float (so close to 1, not necessarily exactly 1).
TEST(ConfigKeys, YarnReadsFactorOriginalContextAndAttentionFactor) {
    const model::Config c = model::read_config(*gguf::File::open(write(
        "yarn",
        [](test::GgufWriter& w) {
            w.add_string("qwen2.rope.scaling.type", "yarn");
            w.add_f32("qwen2.rope.scaling.factor", 4.0f);
            w.add_u32("qwen2.rope.scaling.original_context_length", 32768);
        },
        "qwen2")));
    EXPECT_EQ(c.rope_freq_scale, 0.25f);
    EXPECT_EQ(c.rope_ext_factor, 1.0f);
    EXPECT_EQ(c.rope_n_ctx_orig, 32768u);
    const float log4 = std::log(4.0f);
    const float mscale = 0.1f * log4 + 1.0f;
    EXPECT_EQ(c.rope_attn_factor, mscale * (1.0f / (1.0f + 0.1f * log4)));
    EXPECT_NEAR(c.rope_attn_factor, 1.0f, 1e-6f);

    const std::string gemma = refusal(write(
        "yarn_gemma3", [](test::GgufWriter& w) { w.add_string("gemma3.rope.scaling.type", "yarn"); }, "gemma3"));
    EXPECT_NE(gemma.find("'gemma3.rope.scaling.type' = 'yarn'"), std::string::npos) << gemma;
}

}  // namespace
}  // namespace worker
