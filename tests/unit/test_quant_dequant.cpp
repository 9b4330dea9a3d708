// Dequantization of every block type against reference values from the gguf
// Python package (scripts/oracle/gen_quant_reference.py, tests/data/quant/).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"
#include "quant/dequant.h"

namespace worker {
namespace {

struct Reference {
    uint32_t type = 0;
    std::vector<uint8_t> data;
    std::vector<float> expected;
};

Reference load_reference(const std::string& type_name) {
    const std::string path = std::string(WORKER_SOURCE_DIR) + "/tests/data/quant/" + type_name + ".bin";
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "missing " << path << " (run scripts/oracle/gen_quant_reference.py)";
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Reference ref;
    uint64_t n_elements = 0, n_bytes = 0;
    if (bytes.size() < 24 || std::memcmp(bytes.data(), "WQRF", 4) != 0) {
        ADD_FAILURE() << path << ": not a reference file";
        return ref;
    }
    std::memcpy(&ref.type, bytes.data() + 4, 4);
    std::memcpy(&n_elements, bytes.data() + 8, 8);
    std::memcpy(&n_bytes, bytes.data() + 16, 8);
    if (bytes.size() != 24 + n_bytes + 4 * n_elements) {
        ADD_FAILURE() << path << ": size does not match its header";
        return ref;
    }
    ref.data.assign(bytes.begin() + 24, bytes.begin() + 24 + static_cast<ptrdiff_t>(n_bytes));
    ref.expected.resize(n_elements);
    std::memcpy(ref.expected.data(), bytes.data() + 24 + n_bytes, 4 * n_elements);
    return ref;
}

uint32_t bits_of(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

class DequantReference : public testing::TestWithParam<GgmlType> {};

// Bit-exact: the reference evaluates the same float32 products in the same
// order, so any difference is a layout or arithmetic bug.
TEST_P(DequantReference, RowMatchesGgufPackageBitExactly) {
    const GgmlType type = GetParam();
    const TypeTraits traits = type_traits(type);
    const Reference ref = load_reference(traits.name);
    ASSERT_EQ(ref.type, static_cast<uint32_t>(type));
    ASSERT_FALSE(ref.expected.empty());
    const auto n = static_cast<int64_t>(ref.expected.size());
    ASSERT_EQ(ref.data.size(), static_cast<size_t>(n / traits.block_size * traits.type_size));

    std::vector<float> got(ref.expected.size(), -12345.0f);
    dequantize_row(type, ref.data.data(), got.data(), n);
    int mismatches = 0;
    for (int64_t i = 0; i < n && mismatches < 10; ++i) {
        if (bits_of(got[i]) != bits_of(ref.expected[i])) {
            ++mismatches;
            ADD_FAILURE() << traits.name << " element " << i << " (block " << i / traits.block_size << ", index "
                          << i % traits.block_size << "): got " << got[i] << ", expected " << ref.expected[i];
        }
    }
}

// The row must not depend on where the row starts: blocks are read unaligned.
TEST_P(DequantReference, UnalignedSourceGivesTheSameValues) {
    const GgmlType type = GetParam();
    const Reference ref = load_reference(type_traits(type).name);
    ASSERT_FALSE(ref.expected.empty());
    std::vector<uint8_t> shifted(ref.data.size() + 1);
    std::memcpy(shifted.data() + 1, ref.data.data(), ref.data.size());
    std::vector<float> got(ref.expected.size());
    dequantize_row(type, shifted.data() + 1, got.data(), static_cast<int64_t>(got.size()));
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(bits_of(got[i]), bits_of(ref.expected[i])) << "element " << i;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DequantReference,
                         testing::Values(GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,
                                         GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K,
                                         GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K,
                                         GgmlType::MXFP4),
                         [](const testing::TestParamInfo<GgmlType>& param_info) {
                             return std::string(type_traits(param_info.param).name);
                         });

// block_value(b, i) is what kernels use one element at a time; it must agree
// with the whole-block form for every element.
TEST(Dequant, BlockValueAgreesWithDequantizeBlock) {
    const Reference ref = load_reference("Q3_K");
    ASSERT_FALSE(ref.data.empty());
    quant::BlockQ3_K block;
    std::memcpy(&block, ref.data.data(), sizeof block);
    float whole[quant::QK_K];
    quant::dequantize_block(block, whole);
    for (int i = 0; i < quant::QK_K; ++i) EXPECT_EQ(bits_of(quant::block_value(block, i)), bits_of(whole[i]));
}

TEST(Dequant, HandWorkedQ4_0Block) {
    // d = 0.5 (half 0x3800); element j gets nibble j % 16, elements 16.. the high nibble 15 - j % 16.
    quant::BlockQ4_0 b{};
    b.d = 0x3800;
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(quant::block_value(b, j), 0.5f * static_cast<float>(j - 8));
        EXPECT_EQ(quant::block_value(b, j + 16), 0.5f * static_cast<float>(7 - j));
    }
}

TEST(Dequant, MxFp4ExponentAndTable) {
    // e = 128 -> 2^(128-127) = 2, halved table -> element value = code table value.
    quant::BlockMXFP4 b{};
    b.e = 128;
    b.qs[0] = 0x7F;  // element 0: code 15 (-6), element 16: code 7 (+6)
    b.qs[1] = 0x95;  // element 1: code 5 (+3), element 17: code 9 (-0.5)
    EXPECT_EQ(quant::block_value(b, 0), -12.0f);
    EXPECT_EQ(quant::block_value(b, 16), 12.0f);
    EXPECT_EQ(quant::block_value(b, 1), 6.0f);
    EXPECT_EQ(quant::block_value(b, 17), -1.0f);
}

TEST(Dequant, RefusesPartialBlocksAndUnknownTypes) {
    std::vector<uint8_t> data(64);
    std::vector<float> out(64);
    try {
        dequantize_row(GgmlType::Q4_0, data.data(), out.data(), 31);
        FAIL() << "31 elements of Q4_0 accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), CUDA_ERROR_INVALID_PARAMETER);
        EXPECT_NE(e.message().find("Q4_0"), std::string::npos) << e.message();
    }
    EXPECT_FALSE(can_dequantize(GgmlType::I32));
    EXPECT_THROW(dequantize_row(GgmlType::I32, data.data(), out.data(), 4), Error);
    EXPECT_THROW(dequantize_row(GgmlType::Q8_1, data.data(), out.data(), 32), Error);
}

}  // namespace
}  // namespace worker
