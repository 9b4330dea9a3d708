#include "support/reduce_model.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <unordered_set>

#include "support/gguf_writer.h"

namespace worker::test {

namespace {

constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
constexpr std::string_view kMergesKey = "tokenizer.ggml.merges";
// Arrays with one entry per token.
constexpr std::string_view kPerTokenKeys[] = {kTokensKey, "tokenizer.ggml.scores", "tokenizer.ggml.token_type"};
// Tensors with one row per token.
constexpr std::string_view kPerTokenTensors[] = {"token_embd.weight", "output.weight"};

// The block index of a "blk.<i>.<rest>" tensor name; -1 for other names.
int64_t block_index(std::string_view name) {
    if (!name.starts_with("blk.")) return -1;
    int64_t index = 0;
    size_t pos = 4;
    for (; pos < name.size() && name[pos] >= '0' && name[pos] <= '9'; ++pos) index = index * 10 + (name[pos] - '0');
    return pos > 4 && pos < name.size() && name[pos] == '.' ? index : -1;
}

bool is_per_token_tensor(std::string_view name) {
    for (std::string_view t : kPerTokenTensors)
        if (name == t) return true;
    return false;
}

// The metadata of the reduced file, in the parser's (sorted) key order.
struct Metadata {
    std::vector<std::pair<std::string, Value>> entries;
    Value* find(std::string_view key) {
        for (auto& [k, v] : entries)
            if (k == key) return &v;
        return nullptr;
    }
    void erase(std::string_view key) {
        std::erase_if(entries, [key](const auto& entry) { return entry.first == key; });
    }
};

bool is_unsigned(ValueType t) {
    return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 || t == ValueType::UINT64;
}

uint64_t integer_of(const Value& v) { return is_unsigned(v.type) ? v.u : static_cast<uint64_t>(v.i); }

// Sets an integer entry to `n`, keeping the entry's own integer type.
void set_integer(Value& v, uint64_t n) {
    if (is_unsigned(v.type)) {
        v.u = n;
    } else {
        v.i = static_cast<int64_t>(n);
    }
}

void truncate_vocabulary(Metadata& meta, const std::string& arch, uint32_t n_vocab) {
    for (std::string_view key : kPerTokenKeys) {
        if (Value* v = meta.find(key); v != nullptr && v->type == ValueType::ARRAY) {
            if (v->array.empty()) {
                v->packed.resize(std::min<size_t>(v->packed.size(), n_vocab * gguf::packed_size(v->element_type)));
            } else {
                v->array.resize(n_vocab);
            }
        }
    }
    if (Value* v = meta.find(arch + ".vocab_size"); v != nullptr) set_integer(*v, n_vocab);

    // Special-token ids that point past the new end go, and with them the
    // flag that would make the tokenizer add the token.
    std::vector<std::string> dropped;
    for (const auto& [key, value] : meta.entries) {
        if (key.starts_with("tokenizer.ggml.") && key.ends_with("_token_id") && value.is_integer() &&
            integer_of(value) >= n_vocab) {
            dropped.push_back(key);
        }
    }
    constexpr size_t kPrefix = std::string_view("tokenizer.ggml.").size();
    constexpr size_t kSuffix = std::string_view("_token_id").size();
    for (const std::string& key : dropped) {
        meta.erase(key);
        const std::string kind = key.substr(kPrefix, key.size() - kPrefix - kSuffix);  // "bos", "eos", ...
        if (Value* flag = meta.find("tokenizer.ggml.add_" + kind + "_token")) flag->u = 0;
    }

    // A merge is usable only when both of its parts and what it makes are tokens.
    Value* merges = meta.find(kMergesKey);
    const Value* tokens = meta.find(kTokensKey);
    if (merges == nullptr || tokens == nullptr) return;
    std::unordered_set<std::string_view> kept;
    for (const Value& t : tokens->array) kept.insert(t.s);
    std::erase_if(merges->array, [&kept](const Value& merge) {
        const size_t space = merge.s.find(' ');
        if (space == std::string::npos) return true;
        const std::string_view left = std::string_view(merge.s).substr(0, space);
        const std::string_view right = std::string_view(merge.s).substr(space + 1);
        return !kept.contains(left) || !kept.contains(right) || !kept.contains(std::string(left) + std::string(right));
    });
}

}  // namespace

void reduce_model(const std::string& in, const std::string& out, const ReduceSpec& spec) {
    const auto file = gguf::File::open(in);
    const std::string arch = file->get_string("general.architecture");
    const std::string block_count_key = arch + ".block_count";
    const uint32_t n_blocks = file->get_u32(block_count_key);
    const uint32_t n_layers = spec.n_layers != 0 ? spec.n_layers : n_blocks;
    if (n_layers > n_blocks) {
        throw std::invalid_argument(in + ": " + std::to_string(n_layers) + " blocks asked for, the model has " +
                                    std::to_string(n_blocks));
    }
    const size_t n_tokens = file->has(kTokensKey) ? file->get_array_size(kTokensKey) : 0;
    if (spec.n_vocab > n_tokens) {
        throw std::invalid_argument(in + ": " + std::to_string(spec.n_vocab) +
                                    " tokens asked for, the vocabulary has " + std::to_string(n_tokens));
    }
    const bool cut_vocab = spec.n_vocab != 0 && spec.n_vocab < n_tokens;

    Metadata meta;
    for (const auto& [key, value] : file->metadata()) meta.entries.emplace_back(key, value);
    set_integer(*meta.find(block_count_key), n_layers);
    if (cut_vocab) truncate_vocabulary(meta, arch, spec.n_vocab);

    GgufWriter w;
    w.set_version(file->version()).set_alignment(file->alignment());
    for (auto& [key, value] : meta.entries) w.add(key, std::move(value));

    for (const gguf::TensorInfo& t : file->tensors()) {
        const int64_t block = block_index(t.name);
        if (block >= n_layers) continue;
        const uint8_t* data = file->tensor_data(t);
        std::vector<uint64_t> dims = t.dims;
        uint64_t n_bytes = t.n_bytes;
        if (cut_vocab && is_per_token_tensor(t.name)) {
            if (dims.size() != 2 || dims[1] != n_tokens) {
                throw std::invalid_argument(in + ": tensor '" + t.name + "' does not have one row per token");
            }
            n_bytes = n_bytes / dims[1] * spec.n_vocab;  // rows are whole blocks: the first rows are a prefix
            dims[1] = spec.n_vocab;
        }
        w.add_tensor_bytes(t.name, dims, static_cast<uint32_t>(t.type), std::vector<uint8_t>(data, data + n_bytes));
    }
    w.write(out);
}

const std::vector<ReducedModel>& reduced_models() {
    // Sizes (what travels to a GPU machine, scripts/gpu-check.sh): SmolLM2
    // ~7 MB (token_embd Q8_0 4096 x 576 is 2.5 MB, a block 2.2 MB); gemma-3
    // ~26 MB (token_embd 4096 x 640 is 2.8 MB, a block ~3.8 MB). Gemma-3
    // keeps six blocks so that both its sliding-window layers and its global
    // layer (every sixth) are there; both vocabularies keep their special
    // tokens, which have low ids.
    static const std::vector<ReducedModel> models = {
        {"smollm2", "smollm2-reduced.gguf", {2, 4096}},
        {"gemma3", "gemma3-reduced.gguf", {6, 4096}},
    };
    return models;
}

const ReducedModel& reduced_model(const std::string& name) {
    for (const ReducedModel& m : reduced_models())
        if (m.name == name) return m;
    throw std::invalid_argument("no reduced model '" + name + "'");
}

std::string reduced_models_dir() {
    if (const char* dir = std::getenv("WORKER_REDUCED_MODELS_DIR"); dir != nullptr && *dir != '\0') return dir;
    return std::string(WORKER_SOURCE_DIR) + "/build/reduced";
}

std::string reduced_model_path(const std::string& name) {
    const std::string path = reduced_models_dir() + "/" + reduced_model(name).file;
    return std::filesystem::exists(path) ? path : "";
}

}  // namespace worker::test
