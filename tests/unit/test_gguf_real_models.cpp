// The parser's view of the real models against what the gguf Python package
// reads from the same files (scripts/oracle/gen_model_summaries.py wrote
// tests/data/models/*.json): header, every tensor, every metadata key, the
// worker-cli info summary, and the first values of one tensor of each type.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/summary.h"
#include "quant/dequant.h"
#include "support/json.h"
#include "support/test_models.h"
#include "worker_ffi.h"

namespace worker::test {
namespace {

Json expected_summary(const std::string& model) {
    return Json::parse_file(std::string(WORKER_SOURCE_DIR) + "/tests/data/models/" + model + ".json");
}

std::string hex(const std::string& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

// One scalar metadata value against its JSON form.
void expect_same_value(const std::string& where, const gguf::Value& got, const Json& want) {
    switch (got.type) {
        case gguf::ValueType::STRING:
            if (want.is_object()) {
                EXPECT_EQ(hex(got.s), want["hex"].as_string()) << where;
            } else {
                EXPECT_EQ(got.s, want.as_string()) << where;
            }
            break;
        case gguf::ValueType::BOOL:
            EXPECT_EQ(got.u != 0, want.as_bool()) << where;
            break;
        case gguf::ValueType::FLOAT32:
        case gguf::ValueType::FLOAT64:
            EXPECT_EQ(got.f, want.as_number()) << where;
            break;
        case gguf::ValueType::UINT8:
        case gguf::ValueType::UINT16:
        case gguf::ValueType::UINT32:
        case gguf::ValueType::UINT64:
            EXPECT_EQ(got.u, want.as_u64()) << where;
            break;
        case gguf::ValueType::INT8:
        case gguf::ValueType::INT16:
        case gguf::ValueType::INT32:
        case gguf::ValueType::INT64:
            EXPECT_EQ(got.i, want.as_i64()) << where;
            break;
        case gguf::ValueType::ARRAY:
            ADD_FAILURE() << where << ": nested array";
            break;
    }
}

class RealModel : public testing::TestWithParam<std::string> {};

TEST_P(RealModel, HeaderAndTensorsMatchTheGgufPackage) {
    WORKER_REQUIRE_REAL_MODEL(path, GetParam());
    const Json want = expected_summary(GetParam());
    const auto file = gguf::File::open(path);
    EXPECT_EQ(file->file_size(), want["file_size"].as_u64());
    EXPECT_EQ(file->version(), want["version"].as_u64());
    EXPECT_EQ(file->alignment(), want["alignment"].as_u64());
    EXPECT_EQ(file->data_section_offset(), want["data_offset"].as_u64());
    ASSERT_EQ(file->tensors().size(), want["tensor_count"].as_u64());
    for (const Json& t : want["tensors"].items()) {
        const std::string& name = t["name"].as_string();
        const gguf::TensorInfo* info = file->find_tensor(name);
        ASSERT_NE(info, nullptr) << name;
        EXPECT_EQ(static_cast<uint32_t>(info->type), t["type_id"].as_u64()) << name;
        EXPECT_STREQ(type_traits(info->type).name, t["type"].as_string().c_str()) << name;
        std::vector<uint64_t> dims;
        for (const Json& d : t["dims"].items()) dims.push_back(d.as_u64());
        EXPECT_EQ(info->dims, dims) << name;
        EXPECT_EQ(info->offset, t["offset"].as_u64()) << name;
        EXPECT_EQ(info->n_bytes, t["n_bytes"].as_u64()) << name;
    }
}

TEST_P(RealModel, EveryMetadataKeyMatchesTheGgufPackage) {
    WORKER_REQUIRE_REAL_MODEL(path, GetParam());
    const Json want = expected_summary(GetParam());
    const auto file = gguf::File::open(path);
    ASSERT_EQ(file->metadata().size(), want["metadata_count"].as_u64());
    for (const auto& [key, w] : want["metadata"].members()) {
        const gguf::Value* v = file->find(key);
        ASSERT_NE(v, nullptr) << key;
        EXPECT_EQ(gguf::value_type_name(v->type), w["type"].as_string()) << key;
        if (v->type != gguf::ValueType::ARRAY) {
            expect_same_value(key, *v, w["value"]);
            continue;
        }
        EXPECT_EQ(gguf::value_type_name(v->element_type), w["element_type"].as_string()) << key;
        ASSERT_EQ(v->size(), w["length"].as_u64()) << key;
        const auto& head = w["head"].items();
        for (size_t i = 0; i < head.size(); ++i) {
            expect_same_value(key + "[" + std::to_string(i) + "]", v->element(i), head[i]);
        }
        const auto& tail = w["tail"].items();
        for (size_t i = 0; i < tail.size(); ++i) {
            const size_t at = v->size() - tail.size() + i;
            expect_same_value(key + "[" + std::to_string(at) + "]", v->element(at), tail[i]);
        }
    }
}

// What worker-cli info prints comes from summarize(): check it field by field.
TEST_P(RealModel, InfoSummaryMatchesTheGgufPackage) {
    WORKER_REQUIRE_REAL_MODEL(path, GetParam());
    const Json want = expected_summary(GetParam());
    const Json& md = want["metadata"];
    const auto file = gguf::File::open(path);
    const gguf::Summary s = gguf::summarize(*file);
    const std::string arch = md["general.architecture"]["value"].as_string();
    EXPECT_EQ(s.architecture, arch);
    EXPECT_EQ(s.name, md["general.name"]["value"].as_string());
    EXPECT_EQ(s.parameter_count, want["parameter_count"].as_u64());
    ASSERT_TRUE(s.file_type.has_value());
    EXPECT_EQ(*s.file_type, md["general.file_type"]["value"].as_u64());
    ASSERT_TRUE(s.context_length.has_value());
    EXPECT_EQ(*s.context_length, md[arch + ".context_length"]["value"].as_u64());
    EXPECT_EQ(s.vocab_size, md["tokenizer.ggml.tokens"]["length"].as_u64());
    EXPECT_EQ(s.tokenizer_model, md["tokenizer.ggml.model"]["value"].as_string());
    EXPECT_EQ(s.tensor_count, want["tensor_count"].as_u64());
    const auto& per_type = want["per_type"].members();
    ASSERT_EQ(s.types.size(), per_type.size());
    uint64_t bytes = 0;
    for (const gguf::TypeUsage& u : s.types) {
        const std::string name = type_traits(u.type).name;
        ASSERT_TRUE(per_type.count(name)) << name;
        EXPECT_EQ(u.tensors, per_type.at(name)["count"].as_u64()) << name;
        EXPECT_EQ(u.bytes, per_type.at(name)["bytes"].as_u64()) << name;
        EXPECT_EQ(u.elements, per_type.at(name)["elements"].as_u64()) << name;
        bytes += u.bytes;
    }
    EXPECT_EQ(s.tensor_bytes, bytes);
    size_t arch_keys = 0;
    for (const auto& [key, value] : md.members()) arch_keys += key.rfind(arch + ".", 0) == 0;
    EXPECT_EQ(s.hyper_parameters.size(), arch_keys);
    for (const auto& [key, text] : s.hyper_parameters) EXPECT_EQ(key.rfind(arch + ".", 0), 0u) << key;
}

// Real weights of every type in the file, dequantized bit-exactly as the gguf package does.
TEST_P(RealModel, FirstValuesOfEachTensorTypeMatchTheGgufPackage) {
    WORKER_REQUIRE_REAL_MODEL(path, GetParam());
    const Json want = expected_summary(GetParam());
    const auto file = gguf::File::open(path);
    ASSERT_GE(want["samples"].members().size(), 3u);
    for (const auto& [name, values] : want["samples"].members()) {
        const gguf::TensorInfo* info = file->find_tensor(name);
        ASSERT_NE(info, nullptr) << name;
        const auto& expected = values.items();
        std::vector<float> got(expected.size());
        dequantize_row(info->type, file->tensor_data(*info), got.data(), static_cast<int64_t>(got.size()));
        for (size_t i = 0; i < expected.size(); ++i) {
            ASSERT_EQ(got[i], static_cast<float>(expected[i].as_number()))
                << name << " (" << type_traits(info->type).name << ") element " << i;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Models, RealModel, testing::Values("smollm2", "gemma3"));

// Vocabulary-only files have no tensors; info must still summarise them.
TEST(VocabOnlyFiles, SummaryMatchesTheGgufPackage) {
    const Json want = Json::parse_file(std::string(WORKER_SOURCE_DIR) + "/tests/data/models/vocab.json");
    ASSERT_FALSE(want.members().empty());
    // Like every other test on ../shared/testdata: missing data is a failure.
    ASSERT_TRUE(std::filesystem::exists(shared_testdata("vocab")))
        << "no " << shared_testdata("vocab") << " (the shared test data next to the repository)";
    for (const auto& [name, w] : want.members()) {
        const std::string path = shared_testdata("vocab/" + name);
        ASSERT_TRUE(std::filesystem::exists(path)) << path;
        const auto file = gguf::File::open(path);
        const gguf::Summary s = gguf::summarize(*file);
        EXPECT_EQ(s.architecture, w["architecture"].as_string()) << name;
        EXPECT_EQ(s.tokenizer_model, w["tokenizer_model"].as_string()) << name;
        EXPECT_EQ(s.vocab_size, w["vocab_size"].as_u64()) << name;
        EXPECT_EQ(s.tensor_count, w["tensor_count"].as_u64()) << name;
        EXPECT_EQ(s.parameter_count, 0u) << name;
        EXPECT_TRUE(s.types.empty()) << name;
        EXPECT_EQ(file->metadata().size(), w["metadata_count"].as_u64()) << name;
    }
}

// cuda_load_model refuses them, saying why, and the context stays usable.
TEST(VocabOnlyFiles, LoadingIsRefusedClearly) {
    const Json want = Json::parse_file(std::string(WORKER_SOURCE_DIR) + "/tests/data/models/vocab.json");
    // Like every other test on ../shared/testdata: missing data is a failure.
    ASSERT_TRUE(std::filesystem::exists(shared_testdata("vocab")))
        << "no " << shared_testdata("vocab") << " (the shared test data next to the repository)";
    int err = -1;
    CudaContext* ctx = cuda_init(WORKER_DEVICE_CPU, &err);
    ASSERT_NE(ctx, nullptr);
    for (const auto& [name, w] : want.members()) {
        const std::string path = shared_testdata("vocab/" + name);
        uint64_t bytes = 1;
        EXPECT_EQ(cuda_load_model(ctx, path.c_str(), &bytes, &err), nullptr) << name;
        EXPECT_EQ(err, CUDA_ERROR_MODEL_LOAD_FAILED) << name;
        EXPECT_EQ(bytes, 0u) << name;
        const std::string detail = cuda_last_error_detail();
        EXPECT_NE(detail.find("holds no tensors"), std::string::npos) << detail;
        EXPECT_NE(detail.find(name), std::string::npos) << detail;
    }
    EXPECT_TRUE(cuda_check_device_health(ctx, &err));
    cuda_destroy(ctx);
}

TEST(Json, ParsesWhatTheOracleScriptsWrite) {
    const Json j = Json::parse(R"({"a": [1, -2, 3.5e2, true, null], "s": "x\"\u00e9\ud83d\ude00\n", "o": {}})");
    EXPECT_EQ(j["a"].items()[0].as_u64(), 1u);
    EXPECT_EQ(j["a"].items()[1].as_i64(), -2);
    EXPECT_EQ(j["a"].items()[2].as_number(), 350.0);
    EXPECT_TRUE(j["a"].items()[3].as_bool());
    EXPECT_EQ(j["a"].items()[4].kind(), Json::Kind::Null);
    EXPECT_EQ(j["s"].as_string(), "x\"\xC3\xA9\xF0\x9F\x98\x80\n");
    EXPECT_TRUE(j["o"].members().empty());
    EXPECT_THROW(Json::parse("{\"a\": }"), std::runtime_error);
    EXPECT_THROW(j["missing"], std::runtime_error);
}

}  // namespace
}  // namespace worker::test
