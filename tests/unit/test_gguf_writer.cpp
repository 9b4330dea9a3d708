// The test GGUF writer, read back through the library's parser: every value
// type, nested arrays, tensors, alignment, quantizers and synthetic models.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "quant/dequant.h"
#include "support/gguf_writer.h"
#include "support/test_models.h"

namespace worker::test {
namespace {

std::shared_ptr<const gguf::File> parse(const GgufBytes& b) {
    return gguf::File::parse(b.bytes.data(), b.bytes.size(), "mem");
}

TEST(GgufWriter, EveryValueTypeRoundTrips) {
    GgufWriter w;
    w.add_u8("u8", 200).add_i8("i8", -100).add_u16("u16", 60000).add_i16("i16", -30000);
    w.add_u32("u32", 4000000000u).add_i32("i32", -2000000000).add_u64("u64", 1ull << 60).add_i64("i64", -(1ll << 60));
    w.add_f32("f32", 0.25f).add_f64("f64", -1.0e300).add_bool("t", true).add_bool("f", false).add_string("s", "héllo");
    w.add_string_array("sa", {"a", "", "ccc"});
    w.add("nested", value_array(ValueType::ARRAY, {value_array(ValueType::INT16, {value_i16(-1), value_i16(2)}),
                                                   value_array(ValueType::INT16, {})}));
    const GgufBytes bytes = w.build();
    const auto f = parse(bytes);
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->find("u8")->u, 200u);
    EXPECT_EQ(f->find("i8")->i, -100);
    EXPECT_EQ(f->find("u16")->u, 60000u);
    EXPECT_EQ(f->find("i16")->i, -30000);
    EXPECT_EQ(f->get_u32("u32"), 4000000000u);
    EXPECT_EQ(f->get_i64("i32"), -2000000000);
    EXPECT_EQ(f->find("u64")->u, 1ull << 60);
    EXPECT_EQ(f->get_i64("i64"), -(1ll << 60));
    EXPECT_EQ(f->get_f32("f32"), 0.25f);
    EXPECT_EQ(f->find("f64")->f, -1.0e300);
    EXPECT_TRUE(f->get_bool_or("t", false));
    EXPECT_FALSE(f->get_bool_or("f", true));
    EXPECT_EQ(f->get_string("s"), "héllo");
    EXPECT_EQ(f->get_string_array("sa"), (std::vector<std::string>{"a", "", "ccc"}));
    const gguf::Value* nested = f->find("nested");
    ASSERT_NE(nested, nullptr);
    ASSERT_EQ(nested->array.size(), 2u);
    EXPECT_EQ(nested->array[0].element_type, ValueType::INT16);
    EXPECT_EQ(nested->array[0].element(0).i, -1);
    EXPECT_EQ(nested->array[0].element(1).i, 2);
    EXPECT_EQ(nested->array[1].size(), 0u);
    ASSERT_EQ(bytes.layout.kvs.size(), 15u);
    EXPECT_EQ(bytes.layout.kvs[0].key_at, 24u);
    EXPECT_EQ(bytes.layout.file_size, bytes.bytes.size());
}

TEST(GgufWriter, TensorsAreAlignedAndReadBack) {
    for (uint32_t alignment : {32u, 64u, 8u, 4096u}) {
        GgufWriter w;
        w.set_alignment(alignment).set_version(2);
        if (alignment != 32) w.add_u32("general.alignment", alignment);
        const std::vector<float> a = {1, 2, 3};
        std::vector<float> b(64);
        for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i) - 32.0f;
        w.add_tensor("a", {3}, GgmlType::F32, a);
        w.add_tensor("b", {32, 2}, GgmlType::Q8_0, b);
        const GgufBytes bytes = w.build();
        const auto f = parse(bytes);
        EXPECT_EQ(f->version(), 2u);
        EXPECT_EQ(f->alignment(), alignment);
        EXPECT_EQ(f->data_section_offset(), bytes.layout.data_section);
        EXPECT_EQ(f->data_section_offset() % alignment, 0u);
        const gguf::TensorInfo* ta = f->find_tensor("a");
        const gguf::TensorInfo* tb = f->find_tensor("b");
        ASSERT_TRUE(ta && tb);
        EXPECT_EQ(ta->offset, bytes.layout.tensors[0].data_at);
        EXPECT_EQ(tb->offset % alignment, 0u);
        EXPECT_EQ(tb->dims, (std::vector<uint64_t>{32, 2}));
        EXPECT_EQ(tb->n_bytes, 68u);
        std::vector<float> got(64);
        dequantize_row(GgmlType::F32, f->tensor_data(*ta), got.data(), 3);
        EXPECT_EQ(std::vector<float>(got.begin(), got.begin() + 3), a);
        dequantize_row(GgmlType::Q8_0, f->tensor_data(*tb), got.data(), 64);
        for (size_t i = 0; i < 64; ++i) EXPECT_NEAR(got[i], b[i], 0.13f) << i;  // step 32/127
    }
}

// Quantize then dequantize with the reference-checked dequantizers: the error
// must stay within what each format's step size allows.
class QuantizeRoundTrip : public testing::TestWithParam<GgmlType> {};

TEST_P(QuantizeRoundTrip, ErrorIsWithinTheFormatsStep) {
    const GgmlType type = GetParam();
    std::vector<float> x(1024);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i)) * (1.0f + (i % 7));
    const std::vector<uint8_t> q = quantize(type, x);
    const TypeTraits traits = type_traits(type);
    ASSERT_EQ(q.size(), x.size() / traits.block_size * traits.type_size);
    std::vector<float> y(x.size());
    dequantize_row(type, q.data(), y.data(), static_cast<int64_t>(y.size()));
    // Relative to the block's range (max |x| = 7): bits of the format.
    // Levels on each side of zero the format resolves over a block's range.
    const std::map<GgmlType, float> levels = {
        {GgmlType::F32, 1e9f},    {GgmlType::F16, 2048.0f}, {GgmlType::BF16, 256.0f}, {GgmlType::Q8_0, 127.0f},
        {GgmlType::Q8_K, 127.0f}, {GgmlType::Q6_K, 31.0f},  {GgmlType::Q5_0, 16.0f},  {GgmlType::Q5_1, 15.5f},
        {GgmlType::Q5_K, 15.5f},  {GgmlType::Q4_0, 7.5f},   {GgmlType::Q4_1, 7.5f},   {GgmlType::Q4_K, 7.5f},
        {GgmlType::Q3_K, 4.0f},   {GgmlType::Q2_K, 1.5f},   {GgmlType::MXFP4, 6.0f}};
    double max_err = 0;
    for (size_t i = 0; i < x.size(); ++i) max_err = std::max<double>(max_err, std::fabs(x[i] - y[i]));
    // Round to nearest gives half a step; scales rounded to fp16 or 6 bits add a little: allow one step.
    EXPECT_LE(max_err, 7.0 / levels.at(type)) << traits.name;
    if (type == GgmlType::F32) {
        EXPECT_EQ(max_err, 0.0);
    } else {
        EXPECT_GT(max_err, 0.0) << traits.name << " cannot be lossless on these values";
    }
}

INSTANTIATE_TEST_SUITE_P(Types, QuantizeRoundTrip,
                         testing::Values(GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0,
                                         GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q2_K, GgmlType::Q3_K,
                                         GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K,
                                         GgmlType::MXFP4),
                         [](const testing::TestParamInfo<GgmlType>& p) {
                             return std::string(type_traits(p.param).name);
                         });

TEST(GgufWriter, QuantizeRefusesWhatItCannotWrite) {
    EXPECT_THROW(quantize(GgmlType::Q8_1, std::vector<float>(32)), std::invalid_argument);
    EXPECT_THROW(quantize(GgmlType::Q8_0, std::vector<float>(31)), std::invalid_argument);
    // The all-zero block must not divide by zero.
    const std::vector<uint8_t> q = quantize(GgmlType::Q4_K, std::vector<float>(256, 0.0f));
    std::vector<float> y(256, 1.0f);
    dequantize_row(GgmlType::Q4_K, q.data(), y.data(), 256);
    for (float v : y) EXPECT_EQ(v, 0.0f);
}

class SyntheticModel : public testing::TestWithParam<std::string> {};

TEST_P(SyntheticModel, HasTheTensorsAndKeysOfItsArchitecture) {
    SyntheticModelSpec spec;
    spec.arch = GetParam();
    spec.n_embd = 256;
    spec.n_layer = 3;
    spec.head_dim = 64;
    spec.n_ff = 256;
    spec.weight_type = GgmlType::Q4_K;
    spec.embedding_type = GgmlType::Q8_0;
    spec.output_weight = spec.arch != "gemma3";
    const std::string path = testing::TempDir() + "synthetic_" + spec.arch + ".gguf";
    write_synthetic_model(path, spec);
    const auto f = gguf::File::open(path);
    const std::string& a = spec.arch;
    EXPECT_EQ(f->get_string("general.architecture"), a);
    EXPECT_EQ(f->get_u32(a + ".block_count"), 3u);
    EXPECT_EQ(f->get_u32(a + ".embedding_length"), 256u);
    EXPECT_EQ(f->get_u32(a + ".attention.head_count_kv"), 2u);
    EXPECT_EQ(f->get_f32(a + ".attention.layer_norm_rms_epsilon"), 1e-5f);
    EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "gpt2");
    const uint64_t n_vocab = f->get_array_size("tokenizer.ggml.tokens");
    EXPECT_EQ(f->get_array_size("tokenizer.ggml.token_type"), n_vocab);
    EXPECT_GT(f->get_array_size("tokenizer.ggml.merges"), 20u);

    const gguf::TensorInfo* embd = f->find_tensor("token_embd.weight");
    ASSERT_NE(embd, nullptr);
    EXPECT_EQ(embd->dims, (std::vector<uint64_t>{256, n_vocab}));
    EXPECT_EQ(embd->type, GgmlType::Q8_0);
    EXPECT_EQ(f->find_tensor("output.weight") != nullptr, spec.output_weight);
    ASSERT_NE(f->find_tensor("output_norm.weight"), nullptr);
    for (int l = 0; l < 3; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        EXPECT_NE(f->find_tensor(p + "attn_norm.weight"), nullptr);
        EXPECT_NE(f->find_tensor(p + "ffn_down.weight"), nullptr);
        EXPECT_EQ(f->find_tensor(p + "ffn_down.weight")->dims, (std::vector<uint64_t>{256, 256}));
        EXPECT_EQ(f->find_tensor(p + "attn_output.weight")->type, GgmlType::Q4_K);
        const bool phi3 = a == "phi3";
        EXPECT_EQ(f->find_tensor(p + "attn_qkv.weight") != nullptr, phi3);
        EXPECT_EQ(f->find_tensor(p + "attn_q.weight") != nullptr, !phi3);
        EXPECT_EQ(f->find_tensor(p + "ffn_gate.weight") != nullptr, !phi3);
        EXPECT_EQ(f->find_tensor(p + "ffn_up.weight")->dims[1], phi3 ? 512u : 256u);
        if (phi3) {
            EXPECT_EQ(f->find_tensor(p + "attn_qkv.weight")->dims[1], 64u * (4 + 2 * 2));
        }
        EXPECT_EQ(f->find_tensor(p + "attn_q.bias") != nullptr, a == "qwen2");
        EXPECT_EQ(f->find_tensor(p + "attn_q_norm.weight") != nullptr, a == "gemma3" || a == "qwen3");
        EXPECT_EQ(f->find_tensor(p + "attn_k_norm.weight") != nullptr, a == "gemma3" || a == "qwen3");
        EXPECT_EQ(f->find_tensor(p + "post_ffw_norm.weight") != nullptr, a == "gemma3");
    }
    if (a == "gemma3") {
        EXPECT_EQ(f->get_u32("gemma3.attention.sliding_window"), 32u);
        EXPECT_EQ(f->get_u32("gemma3.attention.key_length"), 64u);
    }
    std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Architectures, SyntheticModel, testing::Values("llama", "qwen2", "qwen3", "phi3", "gemma3"));

// Llama 3's factors and a rope scaling, when the spec asks for them.
TEST(SyntheticModelRope, WritesRopeFreqsAndScalingKeys) {
    SyntheticModelSpec spec;
    spec.rope_freqs = true;
    spec.rope_scaling = "yarn";
    spec.rope_scaling_factor = 4.0f;
    spec.rope_original_context = 64;
    const std::string path = testing::TempDir() + "synthetic_rope.gguf";
    write_synthetic_model(path, spec);
    const auto f = gguf::File::open(path);
    const gguf::TensorInfo* freqs = f->find_tensor("rope_freqs.weight");
    ASSERT_NE(freqs, nullptr);
    EXPECT_EQ(freqs->dims, (std::vector<uint64_t>{spec.head_dim / 2}));
    EXPECT_EQ(freqs->type, GgmlType::F32);
    EXPECT_EQ(f->get_string("llama.rope.scaling.type"), "yarn");
    EXPECT_EQ(f->get_f32("llama.rope.scaling.factor"), 4.0f);
    EXPECT_EQ(f->get_u32("llama.rope.scaling.original_context_length"), 64u);
    std::filesystem::remove(path);
}

// share_layer_weights (benchmark models): every block's 2-D weights are block
// 0's bytes, the rest of the file is what it would be without the option.
TEST(GgufWriter, SharedLayerWeightsRepeatBlockZerosBytes) {
    SyntheticModelSpec spec;
    spec.n_embd = 256;
    spec.n_layer = 3;
    spec.head_dim = 64;
    spec.n_ff = 256;
    spec.weight_type = GgmlType::Q4_0;
    const std::string own = testing::TempDir() + "synthetic_own.gguf";
    const std::string shared = testing::TempDir() + "synthetic_shared.gguf";
    write_synthetic_model(own, spec);
    spec.share_layer_weights = true;
    write_synthetic_model(shared, spec);
    const auto a = gguf::File::open(own), b = gguf::File::open(shared);
    ASSERT_EQ(a->tensors().size(), b->tensors().size());
    auto bytes = [](const gguf::File& f, const std::string& name) {
        const gguf::TensorInfo* t = f.find_tensor(name);
        return std::vector<uint8_t>(f.tensor_data(*t), f.tensor_data(*t) + t->n_bytes);
    };
    for (const char* w : {"attn_q.weight", "attn_k.weight", "ffn_down.weight"}) {
        const std::vector<uint8_t> block0 = bytes(*b, std::string("blk.0.") + w);
        EXPECT_EQ(block0, bytes(*a, std::string("blk.0.") + w)) << w;
        EXPECT_EQ(bytes(*b, std::string("blk.2.") + w), block0) << w;
        EXPECT_NE(bytes(*a, std::string("blk.2.") + w), block0) << w;
    }
    EXPECT_EQ(bytes(*b, "token_embd.weight"), bytes(*a, "token_embd.weight"));
    EXPECT_EQ(bytes(*b, "blk.2.attn_norm.weight"), bytes(*a, "blk.2.attn_norm.weight"));
    std::filesystem::remove(own);
    std::filesystem::remove(shared);
}

TEST(GgufWriter, SyntheticVocabIsByteLevelAndConsistent) {
    const SyntheticVocab v = synthetic_vocab();
    ASSERT_GT(v.tokens.size(), 256u);
    EXPECT_EQ(v.tokens['a'], "a");
    EXPECT_EQ(v.tokens[' '], "\xC4\xA0");  // U+0120 'Ġ'
    EXPECT_EQ(v.tokens[0], "\xC4\x80");    // U+0100
    EXPECT_EQ(v.tokens[v.eos_id], "<|endoftext|>");
    EXPECT_EQ(v.token_types[v.eos_id], 3);
    // Every merge joins two tokens into a third one.
    for (const std::string& m : v.merges) {
        const size_t sp = m.find(' ');
        ASSERT_NE(sp, std::string::npos);
        const std::string joined = m.substr(0, sp) + m.substr(sp + 1);
        EXPECT_NE(std::find(v.tokens.begin(), v.tokens.end(), joined), v.tokens.end()) << m;
    }
}

TEST(GgufWriter, CopiesTokenizerMetadataFromAnotherFile) {
    const std::string source = shared_testdata("vocab/ggml-vocab-gpt-2.gguf");
    SyntheticModelSpec spec;
    spec.tokenizer_from = source;
    spec.n_layer = 1;
    const std::string path = testing::TempDir() + "synthetic_copy.gguf";
    write_synthetic_model(path, spec);
    const auto f = gguf::File::open(path);
    const auto src = gguf::File::open(source);
    EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens"), src->get_string_array("tokenizer.ggml.tokens"));
    EXPECT_EQ(f->find_tensor("token_embd.weight")->dims[1], src->get_array_size("tokenizer.ggml.tokens"));
    std::filesystem::remove(path);
}

// Seeds for the libFuzzer target tests/fuzz/fuzz_gguf.cpp: small valid files
// of every shape the writer makes, each under the fuzzer's 64 KiB input limit.
// WORKER_WRITE_FUZZ_SEEDS=1 rewrites tests/fuzz/seeds/fuzz_gguf/ from them.
std::vector<std::pair<std::string, GgufBytes>> fuzz_seeds() {
    std::vector<std::pair<std::string, GgufBytes>> seeds;
    {
        GgufWriter w;
        w.add_u8("u8", 1).add_i8("i8", -1).add_u16("u16", 2).add_i16("i16", -2).add_u32("u32", 3).add_i32("i32", -3);
        w.add_u64("u64", 4).add_i64("i64", -4).add_f32("f32", 0.5f).add_f64("f64", 0.25).add_bool("b", true);
        w.add_string("s", "text").add_string_array("sa", {"a", "bc"}).add_f32_array("fa", {1.0f, 2.0f});
        w.add("nested", value_array(ValueType::ARRAY, {value_array(ValueType::INT16, {value_i16(-1)})}));
        seeds.emplace_back("metadata_all_types", w.build());
    }
    {
        GgufWriter w;
        w.add_string("general.architecture", "llama");
        uint64_t seed = 1;
        for (GgmlType type : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,
                              GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K,
                              GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K, GgmlType::MXFP4}) {
            const uint64_t n = type_traits(type).block_size == 1 ? 8 : type_traits(type).block_size;
            w.add_random_tensor(std::string("t.") + type_traits(type).name, {n, 1}, type, ++seed);
        }
        seeds.emplace_back("tensor_every_type", w.build());
    }
    {
        GgufWriter w;
        w.set_version(2).set_alignment(64).add_u32("general.alignment", 64);
        w.add_random_tensor("a", {32, 2, 1, 1}, GgmlType::Q8_0, 7).add_random_tensor("b", {3}, GgmlType::F32, 8);
        seeds.emplace_back("v2_alignment_64_four_dims", w.build());
    }
    for (const char* arch : {"llama", "qwen2", "phi3", "gemma3"}) {
        SyntheticModelSpec spec;
        spec.arch = arch;
        spec.n_embd = 32;
        spec.n_layer = 1;
        spec.n_head = 2;
        spec.n_head_kv = 1;
        spec.head_dim = 16;
        spec.n_ff = 32;
        spec.weight_type = GgmlType::Q8_0;
        spec.embedding_type = GgmlType::Q8_0;
        spec.output_weight = false;
        GgufWriter w;
        add_synthetic_model(w, spec);
        seeds.emplace_back(std::string("model_") + arch, w.build());
    }
    return seeds;
}

TEST(GgufWriter, FuzzSeedsAreValidFiles) {
    const std::string dir = std::string(WORKER_SOURCE_DIR) + "/tests/fuzz/seeds/fuzz_gguf/";
    const char* rewrite = std::getenv("WORKER_WRITE_FUZZ_SEEDS");
    for (const auto& [name, bytes] : fuzz_seeds()) {
        EXPECT_LE(bytes.bytes.size(), 65536u) << name;
        EXPECT_NO_THROW(parse(bytes)) << name;
        if (rewrite != nullptr && std::string(rewrite) == "1") bytes.write(dir + name + ".gguf");
        // The committed seeds must be valid files too (the fuzzer starts from them).
        EXPECT_NO_THROW(gguf::File::open(dir + name + ".gguf")) << name << ": rerun with WORKER_WRITE_FUZZ_SEEDS=1";
    }
}

}  // namespace
}  // namespace worker::test
