#include "support/reduce_model.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "support/gguf_writer.h"
#include "support/test_models.h"

namespace worker::test {

void write_reduced_model(const std::string& source_path, uint32_t n_layers, const std::string& out_path) {
    auto source = gguf::File::open(source_path);
    const std::string arch = source->get_string("general.architecture");
    GgufWriter w;
    w.copy_metadata(*source, "");
    w.remove(arch + ".block_count");
    w.add_u32(arch + ".block_count", n_layers);
    w.set_alignment(source->alignment());
    for (const gguf::TensorInfo& t : source->tensors()) {
        if (t.name.rfind("blk.", 0) == 0 && std::stoul(t.name.substr(4)) >= n_layers) continue;
        const uint8_t* data = source->tensor_data(t);
        w.add_tensor_bytes(t.name, t.dims, static_cast<uint32_t>(t.type), std::vector<uint8_t>(data, data + t.n_bytes));
    }
    w.write(out_path);
}

std::string reduced_smollm2_path() {
    const std::string committed = std::string(WORKER_SOURCE_DIR) + "/tests/data/models/smollm2-135m-q4_1-4layers.gguf";
    if (std::filesystem::exists(committed)) return committed;
    const std::string full = real_model_path("smollm2");
    if (full.empty()) return "";
    const std::string out = ::testing::TempDir() + "smollm2-135m-q4_1-4layers.gguf";
    if (!std::filesystem::exists(out)) write_reduced_model(full, 4, out);
    return out;
}

std::string reduced_gemma3_path() {
    const std::string full = real_model_path("gemma3");
    if (full.empty()) return "";
    const std::string out = ::testing::TempDir() + "gemma-3-270m-q4_k_m-4layers.gguf";
    if (!std::filesystem::exists(out)) write_reduced_model(full, 4, out);
    return out;
}

}  // namespace worker::test
