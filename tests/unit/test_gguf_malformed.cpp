// Malformed GGUF files, made by the test writer, must be refused with
// CUDA_ERROR_MODEL_LOAD_FAILED and a detail that names the problem and where,
// both by the parser and through the public ABI. Never a crash or a hang.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "support/gguf_writer.h"
#include "worker_ffi.h"

namespace worker::test {
namespace {

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

// A small well-formed file: 5 keys and 3 tensors of different types.
//   keys:    0 general.architecture, 1 llama.block_count, 2 tokenizer.ggml.tokens,
//            3 llama.rope.freq_base, 4 general.flag
//   tensors: 0 token_embd.weight {32, 2} Q8_0 (68 bytes), 1 blk.0.attn_q.weight
//            {32, 4} F16 (256 bytes), 2 output_norm.weight {32} F32 (128 bytes)
GgufWriter base_writer() {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_u32("llama.block_count", 1);
    w.add_string_array("tokenizer.ggml.tokens", {"a", "b"});
    w.add_f32("llama.rope.freq_base", 10000.0f);
    w.add_bool("general.flag", true);
    w.add_random_tensor("token_embd.weight", {32, 2}, GgmlType::Q8_0, 1);
    w.add_random_tensor("blk.0.attn_q.weight", {32, 4}, GgmlType::F16, 2);
    w.add_random_tensor("output_norm.weight", {32}, GgmlType::F32, 3);
    return w;
}

GgufBytes base() { return base_writer().build(); }

// Metadata key whose value bytes are given verbatim.
GgufBytes with_raw_key(uint32_t type, std::vector<uint8_t> value) {
    GgufWriter w = base_writer();
    w.add_raw("bad.key", type, std::move(value));
    return w.build();
}

std::vector<uint8_t> le64(uint64_t v) {
    std::vector<uint8_t> out(8);
    for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
    return out;
}

std::vector<uint8_t> le32(uint32_t v) {
    std::vector<uint8_t> out(4);
    for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
    return out;
}

std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
    std::vector<uint8_t> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

Value nested_arrays(int depth) {
    Value v = value_array(ValueType::UINT8, {value_u8(1)});
    for (int d = 1; d < depth; ++d) v = value_array(ValueType::ARRAY, {v});
    return v;
}

std::string temp_path(const std::string& name) { return testing::TempDir() + "malformed_" + name + ".gguf"; }

// The parser's verdict on the bytes, and the ABI's verdict on the same file.
struct Verdict {
    bool parsed = false;
    CudaErrorCode code = CUDA_SUCCESS;
    std::string message;
};

Verdict parse_file(const std::string& path) {
    Verdict v;
    try {
        gguf::File::open(path);
        v.parsed = true;
    } catch (const Error& e) {
        v.code = e.code();
        v.message = e.message();
    }
    return v;
}

Verdict load_through_abi(const std::string& path) {
    Verdict v;
    int err = -1;
    CudaContext* ctx = cuda_init(WORKER_DEVICE_CPU, &err);
    EXPECT_NE(ctx, nullptr);
    EXPECT_EQ(err, CUDA_SUCCESS);
    uint64_t vram = 123;
    CudaModel* model = cuda_load_model(ctx, path.c_str(), &vram, &err);
    v.parsed = model != nullptr;
    v.code = static_cast<CudaErrorCode>(err);
    v.message = cuda_last_error_detail();
    EXPECT_EQ(vram, 0u) << "vram_bytes_used must be 0 after a failed load";
    cuda_unload_model(model);
    cuda_destroy(ctx);
    return v;
}

struct Case {
    std::string name;
    std::function<GgufBytes()> make;
    std::vector<std::string> expected;  // every one must occur in the detail
};

std::vector<Case> cases() {
    std::vector<Case> c;
    auto patch32 = [](uint64_t (*where)(const GgufLayout&), uint32_t value) {
        return [=] {
            GgufBytes b = base();
            b.patch<uint32_t>(where(b.layout), value);
            return b;
        };
    };
    auto patch64 = [](uint64_t (*where)(const GgufLayout&), uint64_t value) {
        return [=] {
            GgufBytes b = base();
            b.patch<uint64_t>(where(b.layout), value);
            return b;
        };
    };
    using L = const GgufLayout&;

    // ---- header
    c.push_back({"BadMagic", patch32([](L) { return GgufLayout::kMagicAt; }, 0x46554746), {"bad magic"}});
    c.push_back({"Version1", patch32([](L) { return GgufLayout::kVersionAt; }, 1), {"unsupported version 1"}});
    c.push_back({"Version4", patch32([](L) { return GgufLayout::kVersionAt; }, 4), {"unsupported version 4"}});
    c.push_back({"BigEndianVersion",
                 patch32([](L) { return GgufLayout::kVersionAt; }, 0x03000000),
                 {"unsupported version 50331648", "big-endian"}});
    c.push_back({"AbsurdTensorCount",
                 patch64([](L) { return GgufLayout::kTensorCountAt; }, uint64_t{1} << 62),
                 {"tensor count 4611686018427387904", "offset 8"}});
    c.push_back({"AbsurdMetadataCount",
                 patch64([](L) { return GgufLayout::kMetadataCountAt; }, kU64Max),
                 {"metadata count 18446744073709551615", "offset 16"}});
    c.push_back({"TensorCountTooLargeForTheFile",
                 patch64([](L) { return GgufLayout::kTensorCountAt; }, 1000),
                 {"tensor count 1000"}});
    c.push_back(
        {"OneTensorInfoMoreThanWritten", patch64([](L) { return GgufLayout::kTensorCountAt; }, 4), {"tensor info 3"}});

    // ---- metadata keys and values
    c.push_back({"KeyLengthHuge",
                 patch64([](L l) { return l.kvs[1].key_at; }, kU64Max),
                 {"metadata entry 1", "string length 18446744073709551615"}});
    c.push_back({"KeyLengthPastEnd",
                 [] {
                     GgufBytes b = base();
                     b.patch<uint64_t>(b.layout.kvs[2].key_at, b.bytes.size());
                     return b;
                 },
                 {"metadata entry 2", "exceeds"}});
    c.push_back({"EmptyKey", patch64([](L l) { return l.kvs[0].key_at; }, 0), {"metadata entry 0", "empty key"}});
    c.push_back({"KeyLongerThanLimit",
                 [] {
                     GgufWriter w = base_writer();
                     w.add_u8(std::string(65536, 'k'), 1);
                     return w.build();
                 },
                 {"metadata entry 5", "longer than 65535"}});
    c.push_back({"UnknownValueType",
                 patch32([](L l) { return l.kvs[1].type_at; }, 13),
                 {"metadata key 'llama.block_count'", "unknown value type 13"}});
    c.push_back({"ValueTypeAllOnes",
                 patch32([](L l) { return l.kvs[3].type_at; }, 0xFFFFFFFFu),
                 {"llama.rope.freq_base", "unknown value type 4294967295"}});
    c.push_back({"UnknownArrayElementType",
                 [] {
                     return with_raw_key(9, concat({le32(77), le64(1), {0}}));
                 },
                 {"metadata key 'bad.key'", "unknown array element type 77"}});
    c.push_back({"ArrayLengthAbsurd",
                 patch64([](L l) { return l.kvs[2].value_at + 4; }, uint64_t{1} << 62),
                 {"tokenizer.ggml.tokens", "array length 4611686018427387904", "cannot fit"}});
    c.push_back({"ArrayStringLengthHuge",
                 patch64([](L l) { return l.kvs[2].value_at + 12; }, kU64Max - 1),
                 {"tokenizer.ggml.tokens", "string length 18446744073709551614"}});
    c.push_back({"ArraysNestedTooDeep",
                 [] {
                     GgufWriter w = base_writer();
                     w.add("deep", nested_arrays(9));
                     return w.build();
                 },
                 {"metadata key 'deep'", "nested deeper than 8"}});
    c.push_back({"BoolValueTwo",
                 [] {
                     GgufBytes b = base();
                     b.patch<uint8_t>(b.layout.kvs[4].value_at, 2);
                     return b;
                 },
                 {"metadata key 'general.flag'", "bool value 2"}});
    c.push_back({"BoolInsideArray",
                 [] {
                     GgufWriter w = base_writer();
                     Value bad = value_bool(true);
                     bad.u = 255;
                     w.add("flags", value_array(ValueType::BOOL, {value_bool(false), bad}));
                     return w.build();
                 },
                 {"metadata key 'flags'", "bool value 255"}});
    c.push_back({"DuplicateKey",
                 [] {
                     GgufWriter w = base_writer();
                     w.add_u32("llama.block_count", 2);
                     return w.build();
                 },
                 {"metadata key 'llama.block_count' (entry 5", "duplicate key"}});
    c.push_back({"MetadataOverMemoryBudget",
                 [] {  // 2^21 empty arrays: 24 MiB of file, ~200 MB as parsed values
                     const uint64_t n = uint64_t{1} << 21;
                     std::vector<uint8_t> value = concat({le32(9), le64(n)});
                     const std::vector<uint8_t> empty = concat({le32(0), le64(0)});
                     for (uint64_t i = 0; i < n; ++i) value.insert(value.end(), empty.begin(), empty.end());
                     return with_raw_key(9, value);
                 },
                 {"metadata key 'bad.key'", "bytes of memory"}});

    // ---- general.alignment
    auto alignment = [](Value v) {
        return [v] {
            GgufWriter w = base_writer();
            w.add("general.alignment", v);
            return w.build();
        };
    };
    c.push_back({"AlignmentZero", alignment(value_u32(0)), {"general.alignment", "got 0"}});
    c.push_back({"AlignmentNotPowerOfTwo", alignment(value_u32(48)), {"general.alignment", "power-of-two", "got 48"}});
    c.push_back({"AlignmentBelowEight", alignment(value_u32(4)), {"general.alignment", "[8, 2^30]", "got 4"}});
    c.push_back({"AlignmentNegative", alignment(value_i32(-32)), {"general.alignment", "got -32"}});
    c.push_back({"AlignmentHuge", alignment(value_u64(uint64_t{1} << 31)), {"general.alignment", "got 2147483648"}});
    c.push_back({"AlignmentIsAString", alignment(value_string("32")), {"general.alignment", "type string"}});

    // ---- tensor infos
    c.push_back({"TensorNameLengthHuge",
                 patch64([](L l) { return l.tensors[1].name_at; }, kU64Max),
                 {"tensor info 1", "string length"}});
    c.push_back({"EmptyTensorName",
                 patch64([](L l) { return l.tensors[0].name_at; }, 0),
                 {"tensor info 0", "empty tensor name"}});
    c.push_back({"ZeroDimensions",
                 patch32([](L l) { return l.tensors[1].n_dims_at; }, 0),
                 {"tensor 'blk.0.attn_q.weight'", "dimension count 0"}});
    c.push_back({"FiveDimensions",
                 patch32([](L l) { return l.tensors[1].n_dims_at; }, 5),
                 {"tensor 'blk.0.attn_q.weight'", "dimension count 5"}});
    c.push_back({"DimensionZero",
                 patch64([](L l) { return l.tensors[0].dims_at + 8; }, 0),
                 {"tensor 'token_embd.weight'", "dimension 1 is zero"}});
    c.push_back({"ElementCountOverflows",
                 patch64([](L l) { return l.tensors[0].dims_at + 8; }, uint64_t{1} << 60),
                 {"tensor 'token_embd.weight'", "element count exceeds 2^48", "dimension 1"}});
    c.push_back({"DimensionAllOnes",
                 patch64([](L l) { return l.tensors[2].dims_at; }, kU64Max),
                 {"tensor 'output_norm.weight'", "exceeds 2^48"}});
    c.push_back({"RemovedTensorType",
                 patch32([](L l) { return l.tensors[0].type_at; }, 4),
                 {"tensor 'token_embd.weight'", "unknown or unsupported tensor type 4"}});
    c.push_back({"UnknownTensorType",
                 patch32([](L l) { return l.tensors[2].type_at; }, 1000),
                 {"tensor 'output_norm.weight'", "tensor type 1000"}});
    c.push_back({"UnsupportedIQType",
                 patch32([](L l) { return l.tensors[2].type_at; }, 16),
                 {"tensor 'output_norm.weight'", "tensor type 16"}});
    c.push_back({"RowNotWholeBlocks",
                 patch64([](L l) { return l.tensors[0].dims_at; }, 33),
                 {"tensor 'token_embd.weight'", "first dimension 33", "Q8_0 block size 32"}});
    c.push_back({"DuplicateTensorName",
                 [] {
                     GgufWriter w = base_writer();
                     w.add_random_tensor("blk.0.attn_q.weight", {32}, GgmlType::F32, 9);
                     return w.build();
                 },
                 {"tensor 'blk.0.attn_q.weight' (info 3", "duplicate tensor name"}});

    // ---- tensor data
    c.push_back({"OffsetNotAligned",
                 patch64([](L l) { return l.tensors[1].offset_at; }, 100),
                 {"tensor 'blk.0.attn_q.weight'", "data offset 100 is not a multiple of the alignment 32"}});
    c.push_back({"OffsetNotAlignedToCustomAlignment",
                 [] {
                     GgufWriter w = base_writer();
                     w.add_u32("general.alignment", 64).set_alignment(64);
                     w.set_tensor_offset("output_norm.weight", 32 * 17);
                     return w.build();
                 },
                 {"tensor 'output_norm.weight'", "not a multiple of the alignment 64"}});
    c.push_back({"OffsetPastEndOfFile",
                 patch64([](L l) { return l.tensors[2].offset_at; }, uint64_t{1} << 40),
                 {"tensor 'output_norm.weight'", "data offset 1099511627776", "past end of file"}});
    c.push_back({"OffsetOverflowsWithDataSection",
                 patch64([](L l) { return l.tensors[2].offset_at; }, kU64Max - 31),
                 {"tensor 'output_norm.weight'", "past end of file"}});
    c.push_back({"DataEndsPastEndOfFile",
                 [] {
                     GgufBytes b = base();
                     const auto& last = b.layout.tensors[2];
                     b.truncate(last.data_at + last.data_size - 1);
                     return b;
                 },
                 {"tensor 'output_norm.weight'", "ends past end of file"}});
    c.push_back({"TensorsOverlapExactly",
                 [] {
                     GgufBytes b = base();
                     b.patch<uint64_t>(b.layout.tensors[2].offset_at, 0);
                     return b;
                 },
                 {"overlaps", "token_embd.weight", "output_norm.weight"}});
    c.push_back({"TensorsOverlapPartly",
                 [] {
                     GgufBytes b = base();  // tensor 0 holds [0, 68); tensor 1 moved to 64
                     b.patch<uint64_t>(b.layout.tensors[1].offset_at, 64);
                     return b;
                 },
                 {"tensor 'blk.0.attn_q.weight': data [", "overlaps tensor 'token_embd.weight'"}});
    return c;
}

class Malformed : public testing::TestWithParam<Case> {};

TEST_P(Malformed, IsRefusedWithADetailThatNamesTheProblem) {
    const Case& c = GetParam();
    const std::string path = temp_path(c.name);
    c.make().write(path);
    for (const Verdict& v : {parse_file(path), load_through_abi(path)}) {
        EXPECT_FALSE(v.parsed);
        EXPECT_EQ(v.code, CUDA_ERROR_MODEL_LOAD_FAILED) << v.message;
        EXPECT_NE(v.message.find(path), std::string::npos) << "detail must name the file: " << v.message;
        for (const std::string& e : c.expected) EXPECT_NE(v.message.find(e), std::string::npos) << v.message;
    }
    std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Corpus, Malformed, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& p) { return p.param.name; });

TEST(MalformedCorpus, HasAtLeastFortyFiles) { EXPECT_GE(cases().size(), 40u); }

// The corpus only means something if the file it damages is itself valid.
TEST(MalformedCorpus, BaseFileIsValid) {
    const GgufBytes b = base();
    const auto f = gguf::File::parse(b.bytes.data(), b.bytes.size(), "base");
    EXPECT_EQ(f->tensors().size(), 3u);
    EXPECT_EQ(f->metadata().size(), 5u);
    EXPECT_EQ(b.layout.tensors[0].data_size, 68u);
    EXPECT_EQ(f->find_tensor("output_norm.weight")->offset, b.layout.tensors[2].data_at);
}

TEST(MalformedCorpus, EightLevelsOfNestedArraysAreAccepted) {
    GgufWriter w = base_writer();
    w.add("deep", nested_arrays(8));
    const GgufBytes b = w.build();
    const auto f = gguf::File::parse(b.bytes.data(), b.bytes.size(), "deep");
    const gguf::Value* v = f->find("deep");
    for (int d = 1; d < 8; ++d) v = &v->array.at(0);
    EXPECT_EQ(v->element_type, ValueType::UINT8);
}

// Cutting the file at every boundary between its structures (and one byte
// into each) must fail cleanly, naming an offset.
TEST(MalformedCorpus, TruncationAtEveryStructuralBoundary) {
    const GgufBytes b = base();
    std::vector<uint64_t> cuts = {1, 3, 4, 6, 8, 12, 16, 20, 24};
    for (const auto& kv : b.layout.kvs) {
        for (uint64_t at : {kv.key_at, kv.key_at + 4, kv.key_at + 8, kv.key_at + 9, kv.type_at, kv.type_at + 2,
                            kv.value_at, kv.value_at + 1, kv.end - 1}) {
            cuts.push_back(at);
        }
    }
    for (const auto& t : b.layout.tensors) {
        for (uint64_t at : {t.name_at, t.name_at + 8, t.n_dims_at, t.dims_at, t.dims_at + 8, t.type_at, t.offset_at,
                            t.offset_at + 4, t.end, t.data_at, t.data_at + 1, t.data_at + t.data_size - 1}) {
            cuts.push_back(at);
        }
    }
    cuts.push_back(b.layout.header_end);
    cuts.push_back(b.layout.data_section);
    for (uint64_t cut : cuts) {
        ASSERT_LT(cut, b.bytes.size());
        GgufBytes t = b;
        t.truncate(cut);
        try {
            gguf::File::parse(t.bytes.data(), t.bytes.size(), "cut");
            ADD_FAILURE() << "file cut at " << cut << " of " << b.bytes.size() << " bytes was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), CUDA_ERROR_MODEL_LOAD_FAILED);
            const std::string& m = e.message();
            const bool says_what = m.find("needs") != std::string::npos || m.find("exceeds") != std::string::npos ||
                                   m.find("cannot fit") != std::string::npos ||
                                   m.find("past end of file") != std::string::npos;
            EXPECT_TRUE(says_what) << "cut at " << cut << ": " << m;
            EXPECT_TRUE(m.find("offset") != std::string::npos || m.find("data [") != std::string::npos)
                << "cut at " << cut << ": " << m;
        }
    }
    // The padding after the last tensor's data is not needed.
    GgufBytes exact = b;
    exact.truncate(b.layout.tensors[2].data_at + b.layout.tensors[2].data_size);
    EXPECT_NO_THROW(gguf::File::parse(exact.bytes.data(), exact.bytes.size(), "exact"));
}

// Random damage to the header (bytes flipped, count and length fields set to
// edge values): every outcome is either a clean refusal or a file whose
// tensors all lie inside it, aligned and apart. Meant to run under ASan.
TEST(MalformedCorpus, RandomDamageIsRefusedOrHarmless) {
    const GgufBytes b = base();
    std::vector<uint64_t> u64_fields = {GgufLayout::kTensorCountAt, GgufLayout::kMetadataCountAt};
    for (const auto& kv : b.layout.kvs) u64_fields.push_back(kv.key_at);
    u64_fields.push_back(b.layout.kvs[2].value_at + 4);  // array length
    for (const auto& t : b.layout.tensors) {
        u64_fields.push_back(t.name_at);
        u64_fields.push_back(t.dims_at);
        u64_fields.push_back(t.offset_at);
    }
    const uint64_t edges[] = {0,
                              1,
                              2,
                              31,
                              32,
                              33,
                              255,
                              4096,
                              uint64_t{1} << 31,
                              uint64_t{1} << 32,
                              uint64_t{1} << 48,
                              kU64Max / 2,
                              kU64Max - 31,
                              kU64Max};
    uint64_t state = 12345;
    auto next = [&state] {  // xorshift64: deterministic across platforms
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    int refused = 0, accepted = 0;
    for (int round = 0; round < 4000; ++round) {
        GgufBytes t = b;
        const int edits = 1 + static_cast<int>(next() % 3);
        for (int e = 0; e < edits; ++e) {
            if (next() % 2 == 0) {
                t.bytes[next() % b.layout.data_section] = static_cast<uint8_t>(next());
            } else {
                t.patch<uint64_t>(u64_fields[next() % u64_fields.size()], edges[next() % std::size(edges)]);
            }
        }
        try {
            const auto f = gguf::File::parse(t.bytes.data(), t.bytes.size(), "damaged");
            ++accepted;
            std::vector<std::pair<uint64_t, uint64_t>> spans;
            for (const gguf::TensorInfo& info : f->tensors()) {
                ASSERT_LE(info.offset + info.n_bytes, t.bytes.size()) << "round " << round;
                ASSERT_EQ(info.offset % f->alignment(), 0u) << "round " << round;
                spans.emplace_back(info.offset, info.offset + info.n_bytes);
            }
            std::sort(spans.begin(), spans.end());
            for (size_t i = 1; i < spans.size(); ++i) ASSERT_LE(spans[i - 1].second, spans[i].first) << round;
        } catch (const Error& e) {
            ++refused;
            ASSERT_EQ(e.code(), CUDA_ERROR_MODEL_LOAD_FAILED) << e.message();
            ASSERT_NE(e.message().find("invalid GGUF file 'damaged'"), std::string::npos) << e.message();
        }
    }
    EXPECT_GT(refused, 1000);  // the damage is real...
    EXPECT_GT(accepted, 10);   // ...and harmless edits (e.g. in string bytes) still parse
}

// Keys of the wrong type or missing: the typed getters name the key.
TEST(MalformedMetadata, WrongTypeAndMissingKeysAreNamed) {
    GgufWriter w = base_writer();
    w.add_string("llama.context_length", "4096");
    w.add_i32("llama.embedding_length", -1);
    w.add_string_array("llama.scores", {"x"});
    const GgufBytes b = w.build();
    const auto f = gguf::File::parse(b.bytes.data(), b.bytes.size(), "typed");
    auto message_of = [](const std::function<void()>& fn) {
        try {
            fn();
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), CUDA_ERROR_MODEL_LOAD_FAILED);
            return e.message();
        }
        ADD_FAILURE() << "no error";
        return std::string();
    };
    std::string m = message_of([&] { f->get_u32("llama.context_length"); });
    EXPECT_NE(m.find("'llama.context_length' has type string, expected an integer"), std::string::npos) << m;
    m = message_of([&] { f->get_u32("llama.embedding_length"); });
    EXPECT_NE(m.find("'llama.embedding_length' = -1 is out of range"), std::string::npos) << m;
    m = message_of([&] { f->get_u32("llama.feed_forward_length"); });
    EXPECT_NE(m.find("required metadata key 'llama.feed_forward_length' is missing"), std::string::npos) << m;
    m = message_of([&] { f->get_f32_array("llama.scores"); });
    EXPECT_NE(m.find("'llama.scores' has type array of string"), std::string::npos) << m;
    m = message_of([&] { f->get_string("llama.block_count"); });
    EXPECT_NE(m.find("'llama.block_count' has type uint32, expected string"), std::string::npos) << m;
    m = message_of([&] { f->get_bool_or("llama.rope.freq_base", false); });
    EXPECT_NE(m.find("'llama.rope.freq_base' has type float32, expected bool"), std::string::npos) << m;
}

// general.architecture of the wrong type is refused by cuda_load_model, naming the key.
TEST(MalformedMetadata, ArchitectureOfTheWrongTypeThroughTheAbi) {
    GgufWriter w = base_writer();
    w.remove("general.architecture");
    w.add_u32("general.architecture", 7);
    const std::string path = temp_path("arch_type");
    w.write(path);
    const Verdict v = load_through_abi(path);
    EXPECT_FALSE(v.parsed);
    EXPECT_EQ(v.code, CUDA_ERROR_MODEL_LOAD_FAILED);
    EXPECT_NE(v.message.find("general.architecture"), std::string::npos) << v.message;
    std::filesystem::remove(path);
}

// ---- things that are not GGUF files at all, through the public ABI --------------------

void expect_refused(const std::string& path, const std::string& expected) {
    const Verdict v = load_through_abi(path);
    EXPECT_FALSE(v.parsed);
    EXPECT_EQ(v.code, CUDA_ERROR_MODEL_LOAD_FAILED) << v.message;
    EXPECT_NE(v.message.find(expected), std::string::npos) << v.message;
}

TEST(NotAModelFile, MissingFile) { expect_refused(temp_path("does_not_exist"), "no such file"); }

TEST(NotAModelFile, Directory) { expect_refused(testing::TempDir(), "is a directory"); }

TEST(NotAModelFile, EmptyPath) { expect_refused("", "empty path"); }

TEST(NotAModelFile, EmptyFile) {
    const std::string path = temp_path("empty");
    GgufBytes{}.write(path);
    expect_refused(path, "file is empty");
    std::filesystem::remove(path);
}

TEST(NotAModelFile, TooShortForAHeader) {
    const std::string path = temp_path("short");
    GgufBytes b;
    b.bytes = {'G', 'G', 'U', 'F', 3, 0};
    b.write(path);
    expect_refused(path, "version at offset 4 needs 4 bytes");
    std::filesystem::remove(path);
}

TEST(NotAModelFile, DevNull) { expect_refused("/dev/null", "not a regular file"); }

TEST(NotAModelFile, FifoDoesNotHang) {
    const std::string path = temp_path("fifo");
    std::filesystem::remove(path);
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    expect_refused(path, "not a regular file");  // a blocking open would hang here: no writer exists
    std::filesystem::remove(path);
}

TEST(NotAModelFile, NoReadPermission) {
    if (::geteuid() == 0) GTEST_SKIP() << "running as root: permission bits do not stop root from reading";
    const std::string path = temp_path("no_read");
    base().write(path);
    ASSERT_EQ(::chmod(path.c_str(), 0200), 0);
    expect_refused(path, "permission denied");
    std::filesystem::remove(path);
}

}  // namespace
}  // namespace worker::test
