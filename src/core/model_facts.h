// What a loaded model is, as the ABI's cuda_model_get_info() reports it:
// computed once at load, and kept (with its strings) as long as the model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "model/config.h"
#include "tokenizer/tokenizer.h"

namespace worker {

struct ModelFacts {
    std::string architecture;  // general.architecture
    std::string name;          // general.name, "" when absent
    bool has_chat_template = false;
    std::string chat_template;  // tokenizer.chat_template
    std::string weight_types;   // "Q4_K:120,Q6_K:13,F32:61": tensors per type, most first
    std::vector<int32_t> eog_ids;
    uint64_t n_params = 0;  // elements of every weight tensor
};

ModelFacts describe_model(const gguf::File& file, const model::Config& config, const tokenizer::Tokenizer& tokenizer);

}  // namespace worker
