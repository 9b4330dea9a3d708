// The type table (quant/ggml_type.h) against the host code it describes: the
// CPU dequantizer, the CPU dot-product kernels and the CPU backend's matmul
// take exactly the types the table says, and the loader's set of weight
// matrix types is the one docs/gguf.md lists. The CUDA backend is checked
// against the table on a GPU (GpuOps.TakesTheTypesTheTypeTableSays).
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "cpu/cpu_backend.h"
#include "cpu/quant_dot.h"
#include "model/backend.h"
#include "quant/dequant.h"
#include "quant/ggml_type.h"

namespace worker {
namespace {

std::vector<GgmlType> table_types() {
    std::vector<GgmlType> types;
    for (const TypeTraits& t : type_table()) types.push_back(t.type);
    return types;
}

TEST(TypeTable, RowsAreDistinctAndFoundByNumber) {
    std::set<uint32_t> numbers;
    std::set<std::string> names;
    for (const TypeTraits& t : type_table()) {
        ASSERT_NE(t.name, nullptr);
        EXPECT_TRUE(numbers.insert(static_cast<uint32_t>(t.type)).second) << t.name;
        EXPECT_TRUE(names.insert(t.name).second) << t.name;
        EXPECT_GT(t.block_size, 0u) << t.name;
        EXPECT_GT(t.type_size, 0u) << t.name;
        EXPECT_STREQ(type_traits(static_cast<uint32_t>(t.type)).name, t.name);
        EXPECT_STREQ(type_name(t.type), t.name);
    }
    EXPECT_EQ(type_traits(uint32_t{4}).name, nullptr);  // Q4_2, removed from ggml
    EXPECT_EQ(type_traits(uint32_t{4}).caps, 0u);
    EXPECT_STREQ(type_name(static_cast<GgmlType>(4)), "unknown");
}

TEST(TypeTable, CpuDequantMatchesDequantizeRow) {
    for (const GgmlType type : table_types()) {
        const TypeTraits t = type_traits(type);
        std::vector<uint8_t> block(t.type_size, 0);
        std::vector<float> out(t.block_size);
        bool accepted = true;
        try {
            dequantize_row(type, block.data(), out.data(), t.block_size);
        } catch (const Error& e) {
            accepted = false;
            EXPECT_NE(e.message().find(t.name), std::string::npos) << e.message();
        }
        EXPECT_EQ(accepted, t.can(kCpuDequant)) << t.name;
        EXPECT_EQ(can_dequantize(type), t.can(kCpuDequant)) << t.name;
    }
}

TEST(TypeTable, CpuDotMatchesTheDotKernels) {
    for (const GgmlType type : table_types()) {
        const bool dot = type_traits(type).can(kCpuDot);
        const char* name = type_name(type);
        EXPECT_EQ(cpu::dot_kernel_scalar(type) != nullptr, dot) << name;
        EXPECT_EQ(cpu::dot4_kernel_scalar(type) != nullptr, dot) << name;
        EXPECT_EQ(cpu::dot_kernel(type) != nullptr, dot) << name;
        EXPECT_EQ(cpu::dot4_kernel(type) != nullptr, dot) << name;
        if (!dot) continue;
        for (const int64_t n : {1, 4, 8}) {
            const cpu::BatchKernels k = cpu::batch_kernels(type, n);
            EXPECT_NE(k.dot1, nullptr) << name << " n=" << n;
            EXPECT_NE(k.dot4, nullptr) << name << " n=" << n;
        }
    }
}

// A product of a zero weight of every type on the CPU backend: it runs for
// the types the table says the CPU matmul takes, and is refused by name for
// the others.
TEST(TypeTable, CpuMatmulTakesWhatTheTableSays) {
    const std::unique_ptr<model::Backend> backend = cpu::create_cpu_backend(1);
    constexpr int64_t kCols = 256, kRows = 2;
    const auto x_buffer = backend->allocate(kCols * sizeof(float), "x");
    const auto out_buffer = backend->allocate(kRows * sizeof(float), "out");
    const model::Tensor x = x_buffer->view(GgmlType::F32, kCols, 1);
    const model::Tensor out = out_buffer->view(GgmlType::F32, kRows, 1);
    const std::vector<float> x_values(kCols, 1.0f);
    backend->write(x, x_values.data(), x_values.size() * sizeof(float));
    for (const GgmlType type : table_types()) {
        const TypeTraits t = type_traits(type);
        const size_t bytes = kCols / t.block_size * t.type_size * kRows;
        const auto w_buffer = backend->allocate(bytes, "w");
        const std::vector<uint8_t> zeros(bytes, 0);
        const model::Tensor w = w_buffer->view(type, kCols, kRows);
        backend->write(w, zeros.data(), bytes);
        bool accepted = true;
        try {
            backend->matmul(w, x, out);
        } catch (const Error& e) {
            accepted = false;
            EXPECT_NE(e.message().find(t.name), std::string::npos) << e.message();
        }
        EXPECT_EQ(accepted, cpu_matmul_takes(type)) << t.name;
    }
}

// The weight matrix types a model file may use (docs/gguf.md): a change to
// the table that moves this set is a change of what loads.
TEST(TypeTable, WeightMatrixTypesAreThoseEveryBackendMultiplies) {
    std::set<std::string> weight_types;
    for (const GgmlType type : table_types()) {
        if (is_weight_matrix_type(type)) weight_types.insert(type_name(type));
        EXPECT_EQ(is_weight_matrix_type(type), cpu_matmul_takes(type) && cuda_matmul_takes(type)) << type_name(type);
        // A type with a decode kernel also has the prefill path.
        if (type_traits(type).can(kCudaMatvec)) {
            EXPECT_TRUE(type_traits(type).can(kCudaDequant)) << type_name(type);
        }
    }
    const std::set<std::string> expected = {"F32", "F16", "Q4_0", "Q4_1", "Q5_0", "Q8_0", "Q4_K", "Q6_K"};
    EXPECT_EQ(weight_types, expected);
}

}  // namespace
}  // namespace worker
