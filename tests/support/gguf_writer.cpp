#include "support/gguf_writer.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

#include "quant/blocks.h"
#include "quant/dequant.h"

namespace worker::test {

namespace {

// ---- values ---------------------------------------------------------------------

Value make(ValueType type) {
    Value v;
    v.type = type;
    return v;
}

class Sink {
public:
    explicit Sink(std::vector<uint8_t>& out) : out_(out) {}
    uint64_t pos() const { return out_.size(); }
    template <typename T>
    void put(T value) {
        const size_t at = out_.size();
        out_.resize(at + sizeof value);
        std::memcpy(out_.data() + at, &value, sizeof value);
    }
    void put_bytes(const uint8_t* data, size_t n) { out_.insert(out_.end(), data, data + n); }
    void put_string(const std::string& s) {
        put<uint64_t>(s.size());
        put_bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    }
    void pad_to(uint64_t alignment) {
        while (out_.size() % alignment != 0) out_.push_back(0);
    }

private:
    std::vector<uint8_t>& out_;
};

// Writes the value's payload (not its type id), narrowing the stored fields
// to the type's width so a hand-made Value such as a bool of 2 goes out as is.
void put_value(Sink& out, const Value& v) {
    switch (v.type) {
        case ValueType::UINT8:
            out.put<uint8_t>(static_cast<uint8_t>(v.u));
            break;
        case ValueType::INT8:
            out.put<int8_t>(static_cast<int8_t>(v.i));
            break;
        case ValueType::UINT16:
            out.put<uint16_t>(static_cast<uint16_t>(v.u));
            break;
        case ValueType::INT16:
            out.put<int16_t>(static_cast<int16_t>(v.i));
            break;
        case ValueType::UINT32:
            out.put<uint32_t>(static_cast<uint32_t>(v.u));
            break;
        case ValueType::INT32:
            out.put<int32_t>(static_cast<int32_t>(v.i));
            break;
        case ValueType::UINT64:
            out.put<uint64_t>(v.u);
            break;
        case ValueType::INT64:
            out.put<int64_t>(v.i);
            break;
        case ValueType::FLOAT32:
            out.put<float>(static_cast<float>(v.f));
            break;
        case ValueType::FLOAT64:
            out.put<double>(v.f);
            break;
        case ValueType::BOOL:
            out.put<uint8_t>(static_cast<uint8_t>(v.u));
            break;
        case ValueType::STRING:
            out.put_string(v.s);
            break;
        case ValueType::ARRAY:
            out.put<uint32_t>(static_cast<uint32_t>(v.element_type));
            out.put<uint64_t>(v.size());
            for (size_t i = 0; i < v.size(); ++i) put_value(out, v.element(i));
            break;
    }
}

// ---- deterministic random numbers (same on every platform) ------------------------

class Random {
public:
    explicit Random(uint64_t seed) : state_(seed) {}
    uint64_t next() {  // splitmix64
        uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
    float normal() {                                                            // Box-Muller
        const double u1 = 1.0 - uniform();
        const double u2 = uniform();
        return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
    }

private:
    uint64_t state_;
};

uint64_t element_count(const std::vector<uint64_t>& dims) {
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;
    return n;
}

}  // namespace

Value value_u8(uint8_t v) {
    Value x = make(ValueType::UINT8);
    x.u = v;
    return x;
}
Value value_i8(int8_t v) {
    Value x = make(ValueType::INT8);
    x.i = v;
    return x;
}
Value value_u16(uint16_t v) {
    Value x = make(ValueType::UINT16);
    x.u = v;
    return x;
}
Value value_i16(int16_t v) {
    Value x = make(ValueType::INT16);
    x.i = v;
    return x;
}
Value value_u32(uint32_t v) {
    Value x = make(ValueType::UINT32);
    x.u = v;
    return x;
}
Value value_i32(int32_t v) {
    Value x = make(ValueType::INT32);
    x.i = v;
    return x;
}
Value value_u64(uint64_t v) {
    Value x = make(ValueType::UINT64);
    x.u = v;
    return x;
}
Value value_i64(int64_t v) {
    Value x = make(ValueType::INT64);
    x.i = v;
    return x;
}
Value value_f32(float v) {
    Value x = make(ValueType::FLOAT32);
    x.f = v;
    return x;
}
Value value_f64(double v) {
    Value x = make(ValueType::FLOAT64);
    x.f = v;
    return x;
}
Value value_bool(bool v) {
    Value x = make(ValueType::BOOL);
    x.u = v ? 1 : 0;
    return x;
}
Value value_string(std::string v) {
    Value x = make(ValueType::STRING);
    x.s = std::move(v);
    return x;
}
Value value_array(ValueType element_type, std::vector<Value> elements) {
    Value x = make(ValueType::ARRAY);
    x.element_type = element_type;
    x.array = std::move(elements);
    return x;
}

// ---- GgufBytes ----------------------------------------------------------------------

void GgufBytes::patch_bytes(uint64_t at, const std::vector<uint8_t>& data) {
    if (at + data.size() > bytes.size()) bytes.resize(at + data.size());
    std::copy(data.begin(), data.end(), bytes.begin() + static_cast<ptrdiff_t>(at));
}

void GgufBytes::truncate(uint64_t size) { bytes.resize(std::min<uint64_t>(size, bytes.size())); }

void GgufBytes::append(const std::vector<uint8_t>& data) { bytes.insert(bytes.end(), data.begin(), data.end()); }

void GgufBytes::write(const std::string& path) const {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path);
}

// ---- GgufWriter ----------------------------------------------------------------------

GgufWriter& GgufWriter::set_version(uint32_t version) {
    version_ = version;
    return *this;
}

GgufWriter& GgufWriter::set_alignment(uint32_t alignment) {
    if (alignment == 0) throw std::invalid_argument("alignment 0");
    alignment_ = alignment;
    return *this;
}

GgufWriter& GgufWriter::add(std::string key, Value value) {
    kvs_.push_back({std::move(key), std::move(value), std::nullopt, {}});
    return *this;
}

GgufWriter& GgufWriter::add_string_array(std::string key, const std::vector<std::string>& v) {
    std::vector<Value> elements;
    elements.reserve(v.size());
    for (const std::string& s : v) elements.push_back(value_string(s));
    return add(std::move(key), value_array(ValueType::STRING, std::move(elements)));
}

GgufWriter& GgufWriter::add_f32_array(std::string key, const std::vector<float>& v) {
    std::vector<Value> elements;
    for (float f : v) elements.push_back(value_f32(f));
    return add(std::move(key), value_array(ValueType::FLOAT32, std::move(elements)));
}

GgufWriter& GgufWriter::add_i32_array(std::string key, const std::vector<int32_t>& v) {
    std::vector<Value> elements;
    for (int32_t i : v) elements.push_back(value_i32(i));
    return add(std::move(key), value_array(ValueType::INT32, std::move(elements)));
}

GgufWriter& GgufWriter::add_raw(std::string key, uint32_t type_id, std::vector<uint8_t> value_bytes) {
    kvs_.push_back({std::move(key), Value{}, type_id, std::move(value_bytes)});
    return *this;
}

GgufWriter& GgufWriter::copy_metadata(const gguf::File& from, const std::string& prefix) {
    for (const auto& [key, value] : from.metadata())
        if (key.compare(0, prefix.size(), prefix) == 0) add(key, value);
    return *this;
}

size_t GgufWriter::remove(const std::string& key) {
    const size_t before = kvs_.size();
    kvs_.erase(std::remove_if(kvs_.begin(), kvs_.end(), [&](const Kv& kv) { return kv.key == key; }), kvs_.end());
    return before - kvs_.size();
}

GgufWriter& GgufWriter::add_tensor(std::string name, std::vector<uint64_t> dims, GgmlType type,
                                   const std::vector<float>& values) {
    if (values.size() != element_count(dims)) {
        throw std::invalid_argument("tensor '" + name + "': " + std::to_string(values.size()) +
                                    " values for its dimensions");
    }
    const TypeTraits traits = type_traits(type);
    if (traits.name != nullptr && (dims.empty() || dims[0] % traits.block_size != 0)) {
        throw std::invalid_argument("tensor '" + name +
                                    "': rows are quantized whole, so dims[0] must be a multiple of " +
                                    std::to_string(traits.block_size) + " for " + traits.name);
    }
    return add_tensor_bytes(std::move(name), std::move(dims), static_cast<uint32_t>(type), quantize(type, values));
}

GgufWriter& GgufWriter::add_random_tensor(std::string name, std::vector<uint64_t> dims, GgmlType type, uint64_t seed,
                                          float stddev) {
    Random random(seed);
    std::vector<float> values(element_count(dims));
    for (float& v : values) v = stddev * random.normal();
    return add_tensor(std::move(name), std::move(dims), type, values);
}

GgufWriter& GgufWriter::add_tensor_bytes(std::string name, std::vector<uint64_t> dims, uint32_t type_id,
                                         std::vector<uint8_t> data) {
    tensors_.push_back({std::move(name), std::move(dims), type_id, std::move(data), std::nullopt});
    return *this;
}

GgufWriter& GgufWriter::set_tensor_offset(const std::string& name, uint64_t relative_offset) {
    for (Tensor& t : tensors_) {
        if (t.name == name) {
            t.offset_override = relative_offset;
            return *this;
        }
    }
    throw std::invalid_argument("no tensor '" + name + "'");
}

GgufBytes GgufWriter::build() const {
    GgufBytes result;
    Sink out(result.bytes);
    GgufLayout& layout = result.layout;
    out.put<uint32_t>(0x46554747);  // "GGUF"
    out.put<uint32_t>(version_);
    out.put<uint64_t>(tensors_.size());
    out.put<uint64_t>(kvs_.size());
    for (const Kv& kv : kvs_) {
        GgufLayout::Kv at;
        at.key = kv.key;
        at.key_at = out.pos();
        out.put_string(kv.key);
        at.type_at = out.pos();
        out.put<uint32_t>(kv.raw_type ? *kv.raw_type : static_cast<uint32_t>(kv.value.type));
        at.value_at = out.pos();
        if (kv.raw_type) {
            out.put_bytes(kv.raw_bytes.data(), kv.raw_bytes.size());
        } else {
            put_value(out, kv.value);
        }
        at.end = out.pos();
        layout.kvs.push_back(at);
    }
    // Data offsets: each tensor at the next multiple of the alignment.
    uint64_t next_offset = 0;
    std::vector<uint64_t> offsets;
    for (const Tensor& t : tensors_) {
        offsets.push_back(next_offset);
        next_offset = (next_offset + t.data.size() + alignment_ - 1) / alignment_ * alignment_;
    }
    for (size_t i = 0; i < tensors_.size(); ++i) {
        const Tensor& t = tensors_[i];
        GgufLayout::Tensor at;
        at.name = t.name;
        at.name_at = out.pos();
        out.put_string(t.name);
        at.n_dims_at = out.pos();
        out.put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
        at.dims_at = out.pos();
        for (uint64_t d : t.dims) out.put<uint64_t>(d);
        at.type_at = out.pos();
        out.put<uint32_t>(t.type_id);
        at.offset_at = out.pos();
        out.put<uint64_t>(t.offset_override.value_or(offsets[i]));
        at.end = out.pos();
        at.data_size = t.data.size();
        layout.tensors.push_back(at);
    }
    layout.header_end = out.pos();
    out.pad_to(alignment_);
    layout.data_section = out.pos();
    for (size_t i = 0; i < tensors_.size(); ++i) {
        result.bytes.resize(layout.data_section + offsets[i]);
        layout.tensors[i].data_at = out.pos();
        out.put_bytes(tensors_[i].data.data(), tensors_[i].data.size());
    }
    if (!tensors_.empty()) out.pad_to(alignment_);
    layout.file_size = out.pos();
    return result;
}

// ---- synthetic vocabulary and models -----------------------------------------------------

namespace {

std::string utf8(uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else if (cp < 0x800) {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        s += static_cast<char>(0xE0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
}

// GPT-2's reversible byte-to-unicode map: printable Latin-1 bytes stand for
// themselves, the others are shifted to U+0100 and up in byte order.
std::vector<std::string> byte_symbols() {
    std::vector<std::string> symbols(256);
    uint32_t shifted = 0;
    for (uint32_t b = 0; b < 256; ++b) {
        const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        symbols[b] = utf8(printable ? b : 0x100 + shifted++);
    }
    return symbols;
}

}  // namespace

SyntheticVocab synthetic_vocab() {
    SyntheticVocab vocab;
    const std::vector<std::string> bytes = byte_symbols();
    vocab.tokens = bytes;
    vocab.token_types.assign(256, 1);
    std::set<std::string> known(bytes.begin(), bytes.end());
    // Each word is built left to right, one merge per added character.
    const std::string space = bytes[' '];
    for (const std::string word : {"the", "and", "hello", "world", "of", "to", "in", "is", " the", " and", " hello",
                                   " world", " of", " to", " in", " is", " a", "ing", "er"}) {
        std::string built = word[0] == ' ' ? space : std::string(1, word[0]);
        for (size_t i = 1; i < word.size(); ++i) {
            const std::string next(1, word[i]);
            vocab.merges.push_back(built + " " + next);
            built += next;
            if (known.insert(built).second) {
                vocab.tokens.push_back(built);
                vocab.token_types.push_back(1);
            }
        }
    }
    // Sorting keeps every merge after the merges that build its left part
    // ("h e" < "he l": the space sorts before any symbol) and lets duplicates go.
    std::sort(vocab.merges.begin(), vocab.merges.end());
    vocab.merges.erase(std::unique(vocab.merges.begin(), vocab.merges.end()), vocab.merges.end());
    for (const char* special : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
        vocab.tokens.push_back(special);
        vocab.token_types.push_back(3);
    }
    vocab.bos_id = static_cast<int32_t>(vocab.tokens.size()) - 3;
    vocab.eos_id = vocab.bos_id;
    return vocab;
}

void add_synthetic_vocab(GgufWriter& w, const SyntheticVocab& vocab) {
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string("tokenizer.ggml.pre", "default");
    w.add_string_array("tokenizer.ggml.tokens", vocab.tokens);
    w.add_i32_array("tokenizer.ggml.token_type", vocab.token_types);
    w.add_string_array("tokenizer.ggml.merges", vocab.merges);
    w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(vocab.bos_id));
    w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(vocab.eos_id));
}

namespace {

void add_hyperparameters(GgufWriter& w, const SyntheticModelSpec& spec) {
    const std::string& a = spec.arch;
    w.add_string("general.architecture", a);
    w.add_string("general.name", spec.name);
    w.add_u32(a + ".context_length", spec.context_length);
    w.add_u32(a + ".embedding_length", spec.n_embd);
    w.add_u32(a + ".block_count", spec.n_layer);
    w.add_u32(a + ".feed_forward_length", spec.n_ff);
    w.add_u32(a + ".attention.head_count", spec.n_head);
    w.add_u32(a + ".attention.head_count_kv", spec.n_head_kv);
    w.add_f32(a + ".attention.layer_norm_rms_epsilon", spec.rms_eps);
    w.add_f32(a + ".rope.freq_base", spec.rope_base);
    w.add_u32(a + ".rope.dimension_count", spec.head_dim);
    if (!spec.rope_scaling.empty()) {
        w.add_string(a + ".rope.scaling.type", spec.rope_scaling);
        w.add_f32(a + ".rope.scaling.factor", spec.rope_scaling_factor);
        if (spec.rope_original_context != 0) {
            w.add_u32(a + ".rope.scaling.original_context_length", spec.rope_original_context);
        }
    }
    if (spec.rope_attn_factor != 0.0f) w.add_f32(a + ".rope.scaling.attn_factor", spec.rope_attn_factor);
    if (a == "gemma3") w.add_u32(a + ".attention.sliding_window", spec.sliding_window);
    // Qwen3's heads need not tile n_embd (its files always say their length).
    if (a == "gemma3" || a == "qwen3") {
        w.add_u32(a + ".attention.key_length", spec.head_dim);
        w.add_u32(a + ".attention.value_length", spec.head_dim);
    }
}

// The synthetic vocabulary, or the tokenizer of spec.tokenizer_from; returns
// the number of tokens.
uint64_t add_tokenizer(GgufWriter& w, const SyntheticModelSpec& spec) {
    if (!spec.tokenizer_from.empty()) {
        const auto source = gguf::File::open(spec.tokenizer_from);
        w.copy_metadata(*source, "tokenizer.");
        return source->get_array_size("tokenizer.ggml.tokens");
    }
    const SyntheticVocab vocab = synthetic_vocab();
    add_synthetic_vocab(w, vocab);
    w.add_bool("tokenizer.ggml.add_bos_token", false);
    return vocab.tokens.size();
}

// The random weights, in file order. Each tensor gets its own seed so that
// changing one shape leaves the others' values alone.
class SyntheticWeights {
public:
    SyntheticWeights(GgufWriter& w, const SyntheticModelSpec& spec)
        : w_(w),
          spec_(spec),
          seed_(spec.seed * 1000003u),
          norm_center_(spec.arch == "gemma3" ? 0.0f : 1.0f),
          q_dim_(uint64_t{spec.n_head} * spec.head_dim),
          kv_dim_(uint64_t{spec.n_head_kv} * spec.head_dim) {}

    void matrix(const std::string& name, uint64_t cols, uint64_t rows, GgmlType type) {
        ++seed_;
        const float sd = spec_.weight_stddev;
        if (!spec_.share_layer_weights || name.rfind("blk.", 0) != 0) {
            w_.add_random_tensor(name, {cols, rows}, type, seed_, sd);
            return;
        }
        const std::string key = name.substr(name.find('.', 4) + 1);
        auto it = shared_.find(key);
        if (it == shared_.end()) {
            Random random(seed_);
            std::vector<float> values(cols * rows);
            for (float& v : values) v = sd * random.normal();
            it = shared_.emplace(key, quantize(type, values)).first;
        }
        w_.add_tensor_bytes(name, {cols, rows}, static_cast<uint32_t>(type), it->second);
    }

    // Norm weights near 1 (gemma stores them as offsets from 1, near 0 works the same).
    void norm(const std::string& name, uint64_t n) { vector(name, n, norm_center_); }

    void vector(const std::string& name, uint64_t n, float center) {
        Random random(++seed_);
        std::vector<float> values(n);
        for (float& v : values) v = center + 0.1f * random.normal();
        w_.add_tensor(name, {n}, spec_.norm_type, values);
    }

    // Divisors in [1, 8], as Llama 3's llama3 scaling gives (1 for the fast
    // pairs, the factor for the slow ones, a smooth blend between); always F32.
    void rope_freqs(uint64_t n) {
        Random random(++seed_);
        std::vector<float> values(n);
        for (float& v : values) v = 1.0f + 7.0f * std::fabs(std::tanh(random.normal()));
        w_.add_tensor("rope_freqs.weight", {n}, GgmlType::F32, values);
    }

    void layer(uint32_t l) {
        const std::string& a = spec_.arch;
        const std::string p = "blk." + std::to_string(l) + ".";
        const GgmlType wt = spec_.weight_type;
        norm(p + "attn_norm.weight", spec_.n_embd);
        if (a == "phi3") {
            matrix(p + "attn_qkv.weight", spec_.n_embd, q_dim_ + 2 * kv_dim_, wt);
        } else {
            matrix(p + "attn_q.weight", spec_.n_embd, q_dim_, wt);
            matrix(p + "attn_k.weight", spec_.n_embd, kv_dim_, wt);
            matrix(p + "attn_v.weight", spec_.n_embd, kv_dim_, wt);
        }
        if (a == "qwen2") {
            vector(p + "attn_q.bias", q_dim_, 0.0f);
            vector(p + "attn_k.bias", kv_dim_, 0.0f);
            vector(p + "attn_v.bias", kv_dim_, 0.0f);
        }
        if (a == "gemma3" || a == "qwen3") {
            norm(p + "attn_q_norm.weight", spec_.head_dim);
            norm(p + "attn_k_norm.weight", spec_.head_dim);
        }
        matrix(p + "attn_output.weight", q_dim_, spec_.n_embd, wt);
        if (a == "gemma3") norm(p + "post_attention_norm.weight", spec_.n_embd);
        norm(p + "ffn_norm.weight", spec_.n_embd);
        if (a == "phi3") {
            matrix(p + "ffn_up.weight", spec_.n_embd, 2 * uint64_t{spec_.n_ff}, wt);  // gate and up, stacked
        } else {
            matrix(p + "ffn_gate.weight", spec_.n_embd, spec_.n_ff, wt);
            matrix(p + "ffn_up.weight", spec_.n_embd, spec_.n_ff, wt);
        }
        matrix(p + "ffn_down.weight", spec_.n_ff, spec_.n_embd, wt);
        if (a == "gemma3") norm(p + "post_ffw_norm.weight", spec_.n_embd);
    }

private:
    GgufWriter& w_;
    const SyntheticModelSpec& spec_;
    uint64_t seed_;
    const float norm_center_;
    const uint64_t q_dim_, kv_dim_;
    std::map<std::string, std::vector<uint8_t>> shared_;  // share_layer_weights: bytes by name after "blk.<i>."
};

}  // namespace

void add_synthetic_model(GgufWriter& w, const SyntheticModelSpec& spec) {
    const std::string& a = spec.arch;
    if (a != "llama" && a != "qwen2" && a != "qwen3" && a != "phi3" && a != "gemma3") {
        throw std::invalid_argument("synthetic model: unknown architecture '" + a + "'");
    }
    if (spec.rope_freqs && a != "llama") {
        throw std::invalid_argument("synthetic model: rope_freqs.weight is a llama tensor, not " + a + "'s");
    }
    add_hyperparameters(w, spec);
    const uint64_t n_vocab = add_tokenizer(w, spec);
    SyntheticWeights weights(w, spec);
    if (spec.rope_freqs) weights.rope_freqs(spec.head_dim / 2);
    weights.matrix("token_embd.weight", spec.n_embd, n_vocab, spec.embedding_type);
    for (uint32_t l = 0; l < spec.n_layer; ++l) weights.layer(l);
    weights.norm("output_norm.weight", spec.n_embd);
    if (spec.output_weight) weights.matrix("output.weight", spec.n_embd, n_vocab, spec.embedding_type);
}

void write_synthetic_model(const std::string& path, const SyntheticModelSpec& spec) {
    GgufWriter w;
    add_synthetic_model(w, spec);
    w.write(path);
}

}  // namespace worker::test
