#include "support/gguf_mutator.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "quant/ggml_type.h"
#include "support/gguf_writer.h"

namespace worker::fuzz {

using gguf::Value;
using gguf::ValueType;

namespace {

bool is_unsigned(ValueType t) {
    return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 || t == ValueType::UINT64;
}
bool is_signed(ValueType t) {
    return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 || t == ValueType::INT64;
}
bool is_float(ValueType t) { return t == ValueType::FLOAT32 || t == ValueType::FLOAT64; }

// The value as an unsigned integer, whatever its scalar type.
uint64_t as_integer(const Value& v) {
    if (is_signed(v.type)) return static_cast<uint64_t>(v.i);
    if (is_float(v.type)) return std::isfinite(v.f) && v.f >= 0 && v.f < 1.8e19 ? static_cast<uint64_t>(v.f) : 0;
    return v.u;
}

// Sets an integer of any scalar type, wrapping to its width as the writer does.
void set_integer(Value& v, uint64_t x) {
    if (is_signed(v.type)) {
        v.i = static_cast<int64_t>(x);
    } else if (is_float(v.type)) {
        v.f = static_cast<double>(x);
    } else if (v.type == ValueType::BOOL) {
        v.u = x & 1;
    } else {
        v.u = x;
    }
}

// Types the parser accepts for tensors; the loader supports only some.
constexpr uint32_t kTensorTypes[] = {0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 30, 39};

uint64_t tensor_bytes(uint32_t type, const std::vector<uint64_t>& dims) {
    const TypeTraits t = type_traits(type);
    if (t.name == nullptr || dims.empty() || dims[0] % t.block_size != 0) return 0;
    uint64_t rows = 1;
    for (size_t i = 1; i < dims.size(); ++i) rows *= dims[i];
    return dims[0] / t.block_size * t.type_size * rows;
}

// Tensors of the fuzz inputs stay small: at most this many bytes each.
constexpr uint64_t kMaxTensorBytes = 1 << 18;

// The parser keeps arrays of numbers packed (their bytes); the mutator edits
// elements, so every array becomes a list of Values, nested ones too.
Value unpacked(const Value& v) {
    if (v.type != ValueType::ARRAY) return v;
    Value out = v;
    out.packed.clear();
    out.array.clear();
    out.array.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) out.array.push_back(unpacked(v.element(i)));
    return out;
}

}  // namespace

std::optional<EditableGguf> EditableGguf::parse(const uint8_t* data, size_t size) {
    std::shared_ptr<const gguf::File> file;
    try {
        file = gguf::File::parse(data, size, "fuzz-input");
    } catch (const Error&) {
        return std::nullopt;
    }
    EditableGguf g;
    g.version = file->version();
    g.alignment = file->alignment();
    for (const auto& [key, value] : file->metadata()) g.metadata.emplace_back(key, unpacked(value));
    for (const gguf::TensorInfo& t : file->tensors()) {
        const uint8_t* bytes = file->tensor_data(t);
        g.tensors.push_back({t.name, t.dims, static_cast<uint32_t>(t.type), {bytes, bytes + t.n_bytes}});
    }
    return g;
}

std::vector<uint8_t> EditableGguf::bytes() const {
    test::GgufWriter w;
    w.set_version(version);
    uint32_t align = alignment;
    for (const auto& [key, value] : metadata) {
        w.add(key, value);
        // The data goes where the file says it is aligned, when it says so sensibly.
        if (key == "general.alignment" && value.type == ValueType::UINT32 && value.u != 0 && value.u <= 4096 &&
            (value.u & (value.u - 1)) == 0) {
            align = static_cast<uint32_t>(value.u);
        }
    }
    // A file may ask for up to 2^30 (a header-only one parses); laid out by the
    // writer that would take a gigabyte of padding, far past any input size.
    if (align > 4096) return {};
    w.set_alignment(align == 0 ? 32 : align);
    for (const Tensor& t : tensors) w.add_tensor_bytes(t.name, t.dims, t.type, t.data);
    return w.build().bytes;
}

Value* EditableGguf::find(std::string_view key) {
    for (auto& [k, v] : metadata)
        if (k == key) return &v;
    return nullptr;
}

void EditableGguf::set(const std::string& key, Value value) {
    if (Value* v = find(key)) {
        *v = std::move(value);
    } else {
        metadata.emplace_back(key, std::move(value));
    }
}

uint64_t GgufMutator::interesting_integer(uint64_t current) {
    static constexpr uint64_t kFixed[] = {0,
                                          1,
                                          2,
                                          3,
                                          4,
                                          7,
                                          8,
                                          15,
                                          16,
                                          31,
                                          32,
                                          33,
                                          63,
                                          64,
                                          127,
                                          128,
                                          255,
                                          256,
                                          1023,
                                          1024,
                                          4096,
                                          65535,
                                          65536,
                                          1u << 24,
                                          0x7FFFFFFFu,
                                          0x80000000u,
                                          0xFFFFFFFFu,
                                          1ull << 32,
                                          0x7FFFFFFFFFFFFFFFull,
                                          0x8000000000000000ull,
                                          ~0ull};
    switch (below(10)) {
        case 0:
            return current + 1;
        case 1:
            return current - 1;
        case 2:
            return current * 2;
        case 3:
            return current / 2;
        // Values that wrap back to `current` when multiplied by a small count
        // in 32 bits (a head count times a head size, say).
        case 4:
            return current + (uint64_t{1} << 32) / (uint64_t{1} << below(5));
        case 5:
            return current + 0x80000000u;
        case 6:
            return below(4097);
        default:
            return kFixed[below(std::size(kFixed))];
    }
}

double GgufMutator::interesting_float(double current) {
    static constexpr double kFixed[] = {0.0,    -0.0,  1.0,   -1.0,  0.5,     1e-6, 1e-30, 1e30,
                                        3.4e38, 1e-45, 1e300, -1e30, 10000.0, 1e6,  2.0,   8.0};
    switch (below(8)) {
        case 0:
            return current * 2;
        case 1:
            return current / 2;
        case 2:
            return -current;
        case 3:
            return std::numeric_limits<double>::quiet_NaN();
        case 4:
            return below(2) ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
        default:
            return kFixed[below(std::size(kFixed))];
    }
}

void GgufMutator::mutate_string(std::string& s) {
    const auto& dict = options_.dictionary;
    switch (below(9)) {
        case 0:
            if (!dict.empty()) {
                s = dict[below(dict.size())];
                break;
            }
            [[fallthrough]];
        case 1:
            if (!s.empty()) s[below(s.size())] ^= static_cast<char>(1 + below(255));
            break;
        case 2:
            s.insert(s.begin() + static_cast<ptrdiff_t>(below(s.size() + 1)), static_cast<char>(below(256)));
            break;
        case 3:
            s.resize(below(s.size() + 1));
            break;
        case 4:
            s += dict.empty() ? s : dict[below(dict.size())];
            break;
        case 5:
            s.clear();
            break;
        case 6:
            s.insert(below(s.size() + 1), below(2) ? "\xFF" : "\xC3");
            break;  // invalid UTF-8
        case 7:
            s = std::string(1 + below(300), s.empty() ? 'a' : s[0]);
            break;
        default:
            if (!dict.empty()) s.insert(below(s.size() + 1), dict[below(dict.size())]);
            break;
    }
}

namespace {

// `v` as a scalar of type `to`: numbers keep their value (wrapped to the
// width), strings their text, and a string read as a number is 0.
Value converted(const Value& v, ValueType to) {
    Value out;
    out.type = to;
    if (to == ValueType::STRING) {
        out.s = v.type == ValueType::STRING ? v.s : std::to_string(as_integer(v));
    } else if (is_float(to)) {
        out.f = is_float(v.type) ? v.f : static_cast<double>(as_integer(v));
    } else {
        set_integer(out, as_integer(v));
    }
    return out;
}

constexpr ValueType kScalarTypes[] = {ValueType::UINT8,  ValueType::INT8,   ValueType::UINT16,  ValueType::INT16,
                                      ValueType::UINT32, ValueType::INT32,  ValueType::FLOAT32, ValueType::BOOL,
                                      ValueType::STRING, ValueType::UINT64, ValueType::INT64,   ValueType::FLOAT64};

}  // namespace

void GgufMutator::change_type(Value& v) {
    const ValueType to = kScalarTypes[below(std::size(kScalarTypes))];
    if (v.type == ValueType::ARRAY) {
        if (one_in(3) && !v.array.empty()) {  // the array becomes its first element
            Value first = v.array.front();
            v = std::move(first);
            return;
        }
        v.element_type = to;
        for (Value& e : v.array) e = converted(e, to);
        return;
    }
    if (one_in(6)) {  // a scalar becomes an array of itself
        Value element = v;
        v = test::value_array(element.type, {element});
        return;
    }
    v = converted(v, to);
}

void GgufMutator::mutate_array(Value& v) {
    auto& a = v.array;
    switch (below(8)) {
        case 0:
        case 1:
        case 2:
            if (!a.empty()) {
                mutate_value(a[below(a.size())]);
                // Elements keep the array's element type.
                for (Value& e : a)
                    if (e.type != v.element_type) e.type = v.element_type;
                break;
            }
            [[fallthrough]];
        case 3: {  // insert a copy of an element (or a default one), maybe changed
            Value e = a.empty() ? Value{} : a[below(a.size())];
            e.type = v.element_type;
            if (one_in(2)) mutate_value(e);
            e.type = v.element_type;
            a.insert(a.begin() + static_cast<ptrdiff_t>(below(a.size() + 1)), std::move(e));
            break;
        }
        case 4:
            if (!a.empty()) a.erase(a.begin() + static_cast<ptrdiff_t>(below(a.size())));
            break;
        case 5:
            a.resize(below(a.size() + 1));
            break;
        case 6:
            if (a.size() >= 2) std::swap(a[below(a.size())], a[below(a.size())]);
            break;
        default:
            change_type(v);
            break;
    }
}

void GgufMutator::mutate_value(Value& v) {
    if (one_in(8)) {
        change_type(v);
        return;
    }
    if (v.type == ValueType::ARRAY) {
        mutate_array(v);
    } else if (v.type == ValueType::STRING) {
        mutate_string(v.s);
    } else if (is_float(v.type)) {
        v.f = interesting_float(v.f);
        if (v.type == ValueType::FLOAT32) v.f = static_cast<float>(v.f);
    } else if (v.type == ValueType::BOOL) {
        v.u ^= 1;
    } else {
        set_integer(v, interesting_integer(as_integer(v)));
    }
}

size_t GgufMutator::pick_key(const EditableGguf& g) {
    for (int attempt = 0; attempt < 3; ++attempt) {
        const size_t i = below(g.metadata.size());
        const std::string& key = g.metadata[i].first;
        for (const std::string& p : options_.favoured_prefixes)
            if (key.compare(0, p.size(), p) == 0) return i;
    }
    return below(g.metadata.size());
}

namespace {

// Random bytes past the tensor's old end when it grows to `n` bytes.
void resize_data(GgufMutator& m, EditableGguf::Tensor& t, uint64_t n) {
    const size_t old = t.data.size();
    t.data.resize(n);
    for (size_t i = old; i < n; ++i) t.data[i] = static_cast<uint8_t>(m.below(256));
}

// One dimension taken from another tensor, doubled, halved, made small, or
// grown by a block; the data follows the new shape.
void reshape_one_dimension(GgufMutator& m, EditableGguf& g, EditableGguf::Tensor& t) {
    std::vector<uint64_t> dims = t.dims;
    const size_t d = m.below(dims.size());
    const uint64_t block = std::max<uint32_t>(1, type_traits(t.type).block_size);
    const auto& other = g.tensors[m.below(g.tensors.size())].dims;
    switch (m.below(5)) {
        case 0:
            dims[d] = other[m.below(other.size())];
            break;
        case 1:
            dims[d] *= 2;
            break;
        case 2:
            dims[d] = std::max<uint64_t>(1, dims[d] / 2);
            break;
        case 3:
            dims[d] = 1 + m.below(3);
            break;
        default:
            dims[d] += block;
            break;
    }
    if (d == 0) dims[0] = std::max<uint64_t>(block, dims[0] / block * block);
    const uint64_t n = tensor_bytes(t.type, dims);
    if (n == 0 || n > kMaxTensorBytes) return;
    t.dims = dims;
    resize_data(m, t, n);
}

// Another block type, with fresh bytes.
void retype(GgufMutator& m, EditableGguf::Tensor& t) {
    const uint32_t type = kTensorTypes[m.below(std::size(kTensorTypes))];
    const uint64_t n = tensor_bytes(type, t.dims);
    if (n == 0 || n > kMaxTensorBytes) return;
    t.type = type;
    t.data.clear();
    resize_data(m, t, n);
}

// A few random bytes, or a run of 0xFF (NaN halves, huge scales).
void scribble(GgufMutator& m, EditableGguf::Tensor& t) {
    if (t.data.empty()) return;
    if (m.one_in(2)) {
        for (int i = 0; i < 8; ++i) t.data[m.below(t.data.size())] = static_cast<uint8_t>(m.below(256));
    } else {
        const size_t at = m.below(t.data.size());
        std::fill(t.data.begin() + static_cast<ptrdiff_t>(at),
                  t.data.begin() + static_cast<ptrdiff_t>(std::min(t.data.size(), at + 64)), 0xFF);
    }
}

bool name_is_free(const EditableGguf& g, const std::string& name) {
    return !name.empty() &&
           std::none_of(g.tensors.begin(), g.tensors.end(), [&](const auto& o) { return o.name == name; });
}

}  // namespace

// Another name a loader might look for: a block index moved, or a name from
// elsewhere in the file or the dictionary.
std::string GgufMutator::other_tensor_name(const std::string& name) {
    std::string out = name;
    if (out.rfind("blk.", 0) == 0 && one_in(2)) {
        const size_t dot = out.find('.', 4);
        if (dot != std::string::npos) out = "blk." + std::to_string(below(8)) + out.substr(dot);
    } else if (!options_.dictionary.empty() && one_in(2)) {
        out = options_.dictionary[below(options_.dictionary.size())];
    } else {
        mutate_string(out);
    }
    return out;
}

void GgufMutator::mutate_tensor(EditableGguf& g) {
    if (g.tensors.empty()) return;
    EditableGguf::Tensor& t = g.tensors[below(g.tensors.size())];
    switch (below(8)) {
        case 0:
        case 1:
            reshape_one_dimension(*this, g, t);
            break;
        case 2:  // one dimension more (of 1) or less
            if (t.dims.size() < gguf::File::kMaxDims && one_in(2)) {
                t.dims.push_back(1);
            } else if (t.dims.size() > 1) {
                t.dims.pop_back();
                resize_data(*this, t, tensor_bytes(t.type, t.dims));
            }
            break;
        case 3:
            retype(*this, t);
            break;
        case 4:
            g.tensors.erase(g.tensors.begin() + (&t - g.tensors.data()));
            break;
        case 5: {  // a copy under another name
            EditableGguf::Tensor copy = t;
            copy.name = other_tensor_name(t.name);
            if (name_is_free(g, copy.name)) g.tensors.push_back(std::move(copy));
            break;
        }
        case 6: {
            const std::string name = other_tensor_name(t.name);
            if (name_is_free(g, name)) t.name = name;
            break;
        }
        default:
            scribble(*this, t);
            break;
    }
}

void GgufMutator::mutate(EditableGguf& g) {
    if (options_.tensors && !g.tensors.empty() && one_in(3)) {
        mutate_tensor(g);
        return;
    }
    const uint64_t kind = g.metadata.empty() ? 8 : below(10);  // nothing to change: add a key
    if (kind <= 5) {
        mutate_value(g.metadata[pick_key(g)].second);
    } else if (kind == 6) {
        g.metadata.erase(g.metadata.begin() + static_cast<ptrdiff_t>(below(g.metadata.size())));
    } else if (kind == 7 && g.metadata.size() >= 2) {
        std::swap(g.metadata[below(g.metadata.size())].second, g.metadata[below(g.metadata.size())].second);
    } else if (!options_.extra_keys.empty()) {
        // A key the reader looks for, with a value of some type.
        std::string key = options_.extra_keys[below(options_.extra_keys.size())];
        if (const Value* arch = g.find("general.architecture"); arch && arch->type == ValueType::STRING) {
            if (key.rfind("{arch}", 0) == 0) key = arch->s + key.substr(6);
        }
        Value v = one_in(3) ? test::value_f32(static_cast<float>(interesting_float(1.0)))
                            : test::value_u32(static_cast<uint32_t>(interesting_integer(0)));
        if (one_in(4)) change_type(v);
        g.set(key, std::move(v));
    }
}

size_t mutate_gguf(uint8_t* data, size_t size, size_t max_size, unsigned seed, const MutationOptions& options) {
    std::optional<EditableGguf> g = EditableGguf::parse(data, size);
    if (!g) return 0;
    GgufMutator m(seed, options);
    for (int attempt = 0; attempt < 4; ++attempt) {
        EditableGguf edited = *g;
        const uint64_t n = 1 + m.below(4);
        for (uint64_t i = 0; i < n; ++i) m.mutate(edited);
        const std::vector<uint8_t> out = edited.bytes();
        if (!out.empty() && out.size() <= max_size) {
            std::memcpy(data, out.data(), out.size());
            return out.size();
        }
    }
    return 0;
}

}  // namespace worker::fuzz
