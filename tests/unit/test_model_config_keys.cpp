// Nothing unsupported runs: every "<arch>." metadata key of a file is either
// read by the engine or the file is refused, naming the key and its value.
// Walks every key the synthetic models carry (each one the loader reads) for
// every architecture, then the known variants the engine does not implement.
#include <gtest/gtest.h>

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

INSTANTIATE_TEST_SUITE_P(Synthetic, EveryArchitecture, testing::Values("llama", "qwen2", "phi3", "gemma3"),
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
        // llama.cpp applies rope.scaling.factor whatever the type says: a
        // factor without a type would silently differ.
        {"factor_without_type",
         [](test::GgufWriter& w) { w.add_f32("llama.rope.scaling.factor", 4.0f); },
         {"'llama.rope.scaling.factor' = 4"}},
        {"yarn",
         [](test::GgufWriter& w) {
             w.add_string("llama.rope.scaling.type", "yarn");
             w.add_f32("llama.rope.scaling.factor", 4.0f);
             w.add_u32("llama.rope.scaling.original_context_length", 4096);
         },
         {"'llama.rope.scaling.type' = 'yarn'"}},
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
}

}  // namespace
}  // namespace worker
