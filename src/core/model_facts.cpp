#include "core/model_facts.h"

#include <algorithm>
#include <map>
#include <utility>

#include "core/error.h"
#include "quant/ggml_type.h"

namespace worker {

namespace {

std::string weight_type_list(const gguf::File& file) {
    std::map<std::string, int> counts;
    for (const gguf::TensorInfo& t : file.tensors()) {
        const char* name = type_traits(t.type).name;
        ++counts[name != nullptr ? name : "type " + std::to_string(static_cast<uint32_t>(t.type))];
    }
    std::vector<std::pair<std::string, int>> sorted(counts.begin(), counts.end());
    // Most tensors first; equal counts by name.
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    std::string out;
    for (const auto& [name, count] : sorted) {
        if (!out.empty()) out += ',';
        out += name + ':' + std::to_string(count);
    }
    return out;
}

}  // namespace

ModelFacts describe_model(const gguf::File& file, const model::Config& config, const tokenizer::Tokenizer& tokenizer) {
    ModelFacts facts;
    facts.architecture = config.arch_key;
    facts.name = file.get_string_or("general.name", "");
    // A template that is not a string is no template: generation does not need it.
    try {
        facts.has_chat_template = file.has("tokenizer.chat_template");
        facts.chat_template = file.get_string_or("tokenizer.chat_template", "");
    } catch (const Error&) {
        facts.has_chat_template = false;
    }
    facts.weight_types = weight_type_list(file);
    for (int32_t id = 0; id < tokenizer.n_vocab(); ++id) {
        if (tokenizer.is_eog(id)) facts.eog_ids.push_back(id);
    }
    for (const gguf::TensorInfo& t : file.tensors()) facts.n_params += t.n_elements;
    return facts;
}

}  // namespace worker
