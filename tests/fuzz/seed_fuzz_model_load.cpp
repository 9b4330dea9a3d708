// Seeds for fuzz_model_load (run by run_one.sh: seed_fuzz_model_load DIR):
// small valid models of each architecture and block type the writer makes,
// and the hostile corpus: each of them with one configuration value or tensor
// made wrong in a way a loader must notice (counts that do not divide, sizes
// that overflow 32 bits, missing or misshapen tensors, unsupported scaling,
// special-token ids out of range ...). Every file parses.
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "quant/ggml_type.h"
#include "support/gguf_mutator.h"
#include "support/gguf_writer.h"

namespace {

using worker::GgmlType;
using worker::fuzz::EditableGguf;
namespace test = worker::test;

void write(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

struct Base {
    std::string name;
    test::SyntheticModelSpec spec;
};

std::vector<Base> bases() {
    std::vector<Base> b;
    auto spec = [](const char* arch, GgmlType type, uint32_t layers) {
        test::SyntheticModelSpec s;
        s.arch = arch;
        s.n_embd = 32;
        s.n_layer = layers;
        s.n_head = 2;
        s.n_head_kv = 1;
        s.head_dim = 16;
        s.n_ff = 64;
        s.context_length = 64;
        s.sliding_window = 4;
        s.weight_type = type;
        s.embedding_type = type;
        return s;
    };
    b.push_back({"llama_q8_0", spec("llama", GgmlType::Q8_0, 2)});
    b.push_back({"qwen2_q4_0", spec("qwen2", GgmlType::Q4_0, 1)});
    b.push_back({"phi3_f16", spec("phi3", GgmlType::F16, 1)});
    b.push_back({"gemma3_q5_0", spec("gemma3", GgmlType::Q5_0, 2)});
    b.push_back({"llama_q4_1_tied", spec("llama", GgmlType::Q4_1, 1)});
    b.back().spec.output_weight = false;
    return b;
}

using Edit = std::function<void(EditableGguf&, const std::string& arch)>;

worker::gguf::Value u32(uint64_t v) { return test::value_u32(static_cast<uint32_t>(v)); }

std::vector<std::pair<std::string, Edit>> hostile_edits() {
    std::vector<std::pair<std::string, Edit>> e;
    auto set = [](const std::string& suffix, worker::gguf::Value v) {
        return [=](EditableGguf& g, const std::string& arch) { g.set(arch + suffix, v); };
    };
    e.emplace_back("head_count_kv_not_dividing", set(".attention.head_count_kv", u32(3)));
    e.emplace_back("head_count_zero", set(".attention.head_count", u32(0)));
    // 2 heads x (16 + 2^31) wraps to the 32 the tensors have, in 32 bits.
    e.emplace_back("key_length_wraps", [](EditableGguf& g, const std::string& arch) {
        g.set(arch + ".attention.key_length", u32(16 + (uint64_t{1} << 31)));
        g.set(arch + ".attention.value_length", u32(16 + (uint64_t{1} << 31)));
    });
    // The same with two KV heads, the K and V projections shaped for them.
    e.emplace_back("key_length_wraps_kv_too", [](EditableGguf& g, const std::string& arch) {
        g.set(arch + ".attention.key_length", u32(16 + (uint64_t{1} << 31)));
        g.set(arch + ".attention.value_length", u32(16 + (uint64_t{1} << 31)));
        g.set(arch + ".attention.head_count_kv", u32(2));
        for (auto& t : g.tensors) {
            const bool kv = t.name.find("attn_k.") != std::string::npos || t.name.find("attn_v.") != std::string::npos;
            if (kv && !t.dims.empty()) {
                t.dims.back() *= 2;
                t.data.insert(t.data.end(), t.data.begin(), t.data.end());
            }
        }
    });
    e.emplace_back("rope_dims_past_head", set(".rope.dimension_count", u32(18)));
    e.emplace_back("rope_dims_odd", set(".rope.dimension_count", u32(7)));
    e.emplace_back("context_huge", set(".context_length", u32(0xFFFFFFFFu)));
    e.emplace_back("context_zero", set(".context_length", u32(0)));
    e.emplace_back("blocks_past_tensors", set(".block_count", u32(3)));
    e.emplace_back("blocks_huge", set(".block_count", u32(0x7FFFFFFF)));
    e.emplace_back("embedding_doubled", set(".embedding_length", u32(64)));
    e.emplace_back("ff_halved", set(".feed_forward_length", u32(32)));
    e.emplace_back("vocab_size_one", set(".vocab_size", u32(1)));
    e.emplace_back("vocab_size_huge", set(".vocab_size", u32(0xFFFFFFF0u)));
    e.emplace_back("scaling_linear_zero", [](EditableGguf& g, const std::string& arch) {
        g.set(arch + ".rope.scaling.type", test::value_string("linear"));
        g.set(arch + ".rope.scaling.factor", test::value_f32(0.0f));
    });
    e.emplace_back("scaling_unknown", set(".rope.scaling.type", test::value_string("longrope")));
    e.emplace_back("scaling_yarn", set(".rope.scaling.type", test::value_string("yarn")));
    e.emplace_back("eps_nan", set(".attention.layer_norm_rms_epsilon", test::value_f32(__builtin_nanf(""))));
    e.emplace_back("eps_negative", set(".attention.layer_norm_rms_epsilon", test::value_f32(-1.0f)));
    e.emplace_back("freq_base_zero", set(".rope.freq_base", test::value_f32(0.0f)));
    e.emplace_back("sliding_window_huge", set(".attention.sliding_window", u32(0xFFFFFFFFu)));
    e.emplace_back("experts_none_used", [](EditableGguf& g, const std::string& arch) {
        g.set(arch + ".expert_count", u32(4));
        g.set(arch + ".expert_used_count", u32(0));
    });
    e.emplace_back("arch_gpt_oss", [](EditableGguf& g, const std::string&) {
        g.set("general.architecture", test::value_string("gpt-oss"));
    });
    e.emplace_back("arch_as_number",
                   [](EditableGguf& g, const std::string&) { g.set("general.architecture", u32(7)); });
    e.emplace_back("head_count_as_string", set(".attention.head_count", test::value_string("2")));
    e.emplace_back("bos_out_of_range",
                   [](EditableGguf& g, const std::string&) { g.set("tokenizer.ggml.bos_token_id", u32(1u << 20)); });
    e.emplace_back("tokens_empty", [](EditableGguf& g, const std::string&) {
        g.set("tokenizer.ggml.tokens", test::value_array(worker::gguf::ValueType::STRING, {}));
    });
    e.emplace_back("no_output_norm", [](EditableGguf& g, const std::string&) {
        std::erase_if(g.tensors, [](const auto& t) { return t.name == "output_norm.weight"; });
    });
    e.emplace_back("norm_in_f16", [](EditableGguf& g, const std::string&) {
        for (auto& t : g.tensors) {
            if (t.name == "output_norm.weight") {
                t.type = static_cast<uint32_t>(GgmlType::F16);
                t.data.resize(t.data.size() / 2);
            }
        }
    });
    e.emplace_back("embedding_transposed", [](EditableGguf& g, const std::string&) {
        for (auto& t : g.tensors) {
            if (t.name == "token_embd.weight" && t.dims.size() == 2 && t.type == 0) std::swap(t.dims[0], t.dims[1]);
        }
    });
    e.emplace_back("embedding_one_row", [](EditableGguf& g, const std::string&) {
        for (auto& t : g.tensors) {
            if (t.name == "token_embd.weight" && t.dims.size() == 2) {
                t.data.resize(t.data.size() / t.dims[1]);
                t.dims[1] = 1;
            }
        }
    });
    e.emplace_back("rope_freqs_tensor", [](EditableGguf& g, const std::string&) {
        g.tensors.push_back({"rope_freqs.weight", {8}, 0, std::vector<uint8_t>(32, 0)});
    });
    e.emplace_back("q_proj_missing", [](EditableGguf& g, const std::string&) {
        std::erase_if(g.tensors, [](const auto& t) { return t.name == "blk.0.attn_q.weight"; });
    });
    return e;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    int written = 0;
    for (const Base& b : bases()) {
        test::GgufWriter w;
        test::add_synthetic_model(w, b.spec);
        const std::vector<uint8_t> valid = w.build().bytes;
        write(dir + "/valid_" + b.name + ".gguf", valid);
        ++written;
        for (const auto& [name, edit] : hostile_edits()) {
            auto g = EditableGguf::parse(valid.data(), valid.size());
            if (!g) return 1;
            edit(*g, b.spec.arch);
            write(dir + "/hostile_" + b.name + "_" + name + ".gguf", g->bytes());
            ++written;
        }
    }
    std::printf("seed_fuzz_model_load: %d files in %s\n", written, dir.c_str());
    return 0;
}
