#include "gguf/gguf_file.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace worker::gguf {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr int kMaxArrayDepth = 8;
constexpr uint64_t kMaxNameLength = 65535;

}  // namespace

// Sequential bounds-checked reader over the mapped bytes.
class Reader {
public:
    Reader(const uint8_t* data, size_t size, const std::string& file) : data_(data), size_(size), file_(file) {}

    size_t pos() const { return pos_; }
    size_t remaining() const { return size_ - pos_; }

    // The structure being read ("metadata key 'x' (entry 3 at offset 120)"),
    // named first in every error; empty for the header.
    void set_where(std::string where) { where_ = std::move(where); }

    template <typename... Parts>
    [[noreturn]] void bad(const Parts&... parts) const {
        fail(CUDA_ERROR_MODEL_LOAD_FAILED, "invalid GGUF file '", file_, "': ", where_, where_.empty() ? "" : ": ",
             parts...);
    }

    // Charges `bytes` of memory that parsed metadata will hold against what
    // the file's size allows.
    void charge(uint64_t bytes) {
        const uint64_t budget = File::kMetadataBaseBytes + File::kMetadataBytesPerFileByte * size_;
        if (bytes > budget - std::min(budget, memory_)) {
            bad("metadata would take more than ", budget, " bytes of memory (", File::kMetadataBaseBytes, " + ",
                File::kMetadataBytesPerFileByte, " x the file's ", size_, " bytes) at offset ", pos_);
        }
        memory_ += bytes;
    }

    const uint8_t* here() const { return data_ + pos_; }
    void skip(size_t n) {
        need(n, "array elements");
        pos_ += n;
    }

    void need(uint64_t n, const char* what) const {
        if (n > remaining()) {
            bad(what, " at offset ", pos_, " needs ", n, " bytes but the file ends after ", remaining(), " (file size ",
                size_, " bytes)");
        }
    }

    template <typename T>
    T read(const char* what) {
        need(sizeof(T), what);
        T value;
        std::memcpy(&value, data_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return value;
    }

    std::string read_string(const char* what) {
        const size_t at = pos_;
        const auto length = read<uint64_t>(what);
        if (length > remaining()) {
            bad(what, " at offset ", at, ": string length ", length, " exceeds the ", remaining(),
                " bytes left in the file");
        }
        std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(length));
        pos_ += static_cast<size_t>(length);
        return s;
    }

private:
    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
    const std::string& file_;
    std::string where_;
    uint64_t memory_ = 0;
};

namespace {

// Heap bytes a string of `length` bytes holds beyond its object (none while
// it fits the small-string buffer).
uint64_t string_heap_bytes(uint64_t length) { return length < sizeof(std::string) / 2 ? 0 : length + 1; }

// Smallest encoded size of one value of the type: bounds a claimed array
// length by the bytes left before anything is allocated.
uint64_t min_encoded_size(ValueType type) {
    if (const size_t width = packed_size(type); width != 0) return width;
    return type == ValueType::STRING ? 8 : 12;  // a length; an element type and a length
}

bool known_value_type(uint32_t type) { return type <= static_cast<uint32_t>(ValueType::FLOAT64); }

Value read_value(Reader& in, ValueType type, int depth);

// An array value: packed bytes for numbers and bools, Values otherwise.
void read_array(Reader& in, Value& v, int depth) {
    if (depth >= kMaxArrayDepth) {
        in.bad("arrays nested deeper than ", kMaxArrayDepth, " levels at offset ", in.pos());
    }
    const auto element_type = in.read<uint32_t>("array element type");
    if (!known_value_type(element_type)) {
        in.bad("unknown array element type ", element_type, " at offset ", in.pos() - 4);
    }
    v.element_type = static_cast<ValueType>(element_type);
    const size_t at = in.pos();
    const auto count = in.read<uint64_t>("array length");
    const uint64_t min_size = min_encoded_size(v.element_type);
    if (count > in.remaining() / min_size) {
        in.bad("array length ", count, " at offset ", at, " cannot fit in the ", in.remaining(),
               " bytes left in the file");
    }
    if (const size_t width = packed_size(v.element_type); width != 0) {
        const size_t n_bytes = static_cast<size_t>(count) * width;  // fits: bounded by the bytes left
        in.charge(n_bytes);
        v.packed.assign(in.here(), in.here() + n_bytes);
        if (v.element_type == ValueType::BOOL) {
            for (size_t i = 0; i < v.packed.size(); ++i) {
                if (v.packed[i] > 1) {
                    in.bad("bool value ", unsigned(v.packed[i]), " (array element ", i, " at offset ",
                           in.pos() + i, ") is neither 0 nor 1");
                }
            }
        }
        in.skip(n_bytes);
        return;
    }
    in.charge(count * sizeof(Value));
    v.array.reserve(static_cast<size_t>(count));
    for (uint64_t i = 0; i < count; ++i) v.array.push_back(read_value(in, v.element_type, depth + 1));
}

Value read_value(Reader& in, ValueType type, int depth) {
    Value v;
    v.type = type;
    switch (type) {
        case ValueType::UINT8:
            v.u = in.read<uint8_t>("metadata value");
            break;
        case ValueType::INT8:
            v.i = in.read<int8_t>("metadata value");
            break;
        case ValueType::UINT16:
            v.u = in.read<uint16_t>("metadata value");
            break;
        case ValueType::INT16:
            v.i = in.read<int16_t>("metadata value");
            break;
        case ValueType::UINT32:
            v.u = in.read<uint32_t>("metadata value");
            break;
        case ValueType::INT32:
            v.i = in.read<int32_t>("metadata value");
            break;
        case ValueType::UINT64:
            v.u = in.read<uint64_t>("metadata value");
            break;
        case ValueType::INT64:
            v.i = in.read<int64_t>("metadata value");
            break;
        case ValueType::FLOAT32:
            v.f = in.read<float>("metadata value");
            break;
        case ValueType::FLOAT64:
            v.f = in.read<double>("metadata value");
            break;
        case ValueType::BOOL: {
            const auto b = in.read<uint8_t>("metadata value");
            if (b > 1) in.bad("bool value ", unsigned(b), " at offset ", in.pos() - 1, " is neither 0 nor 1");
            v.u = b;
            break;
        }
        case ValueType::STRING:
            v.s = in.read_string("metadata string");
            in.charge(string_heap_bytes(v.s.size()));
            break;
        case ValueType::ARRAY:
            read_array(in, v, depth);
            break;
    }
    return v;
}

bool fits_u64_mul(uint64_t a, uint64_t b) { return a == 0 || b <= std::numeric_limits<uint64_t>::max() / a; }

const Value& require(const File& file, std::string_view key) {
    const Value* v = file.find(key);
    if (v == nullptr) {
        fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file.path(), "': required metadata key '", key,
             "' is missing");
    }
    return *v;
}

[[noreturn]] void wrong_type(const File& file, std::string_view key, const Value& v, const char* wanted) {
    fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file.path(), "': metadata key '", key, "' has type ",
         value_type_name(v.type), v.type == ValueType::ARRAY ? str_cat(" of ", value_type_name(v.element_type)) : "",
         ", expected ", wanted);
}

// Integer value as int64 when it is an integer type that fits.
bool as_i64(const Value& v, int64_t& out) {
    switch (v.type) {
        case ValueType::UINT8:
        case ValueType::UINT16:
        case ValueType::UINT32:
        case ValueType::UINT64:
            if (v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
            out = static_cast<int64_t>(v.u);
            return true;
        case ValueType::INT8:
        case ValueType::INT16:
        case ValueType::INT32:
        case ValueType::INT64:
            out = v.i;
            return true;
        default:
            return false;
    }
}

}  // namespace

const char* value_type_name(ValueType type) {
    switch (type) {
        case ValueType::UINT8:
            return "uint8";
        case ValueType::INT8:
            return "int8";
        case ValueType::UINT16:
            return "uint16";
        case ValueType::INT16:
            return "int16";
        case ValueType::UINT32:
            return "uint32";
        case ValueType::INT32:
            return "int32";
        case ValueType::FLOAT32:
            return "float32";
        case ValueType::BOOL:
            return "bool";
        case ValueType::STRING:
            return "string";
        case ValueType::ARRAY:
            return "array";
        case ValueType::UINT64:
            return "uint64";
        case ValueType::INT64:
            return "int64";
        case ValueType::FLOAT64:
            return "float64";
    }
    return "unknown";
}

size_t packed_size(ValueType type) {
    switch (type) {
        case ValueType::UINT8:
        case ValueType::INT8:
        case ValueType::BOOL:
            return 1;
        case ValueType::UINT16:
        case ValueType::INT16:
            return 2;
        case ValueType::UINT32:
        case ValueType::INT32:
        case ValueType::FLOAT32:
            return 4;
        case ValueType::UINT64:
        case ValueType::INT64:
        case ValueType::FLOAT64:
            return 8;
        case ValueType::STRING:
        case ValueType::ARRAY:
            return 0;
    }
    return 0;
}

size_t Value::size() const {
    if (!array.empty()) return array.size();
    const size_t width = packed_size(element_type);
    return width == 0 ? 0 : packed.size() / width;
}

Value Value::element(size_t index) const {
    if (!array.empty()) return array.at(index);
    const size_t width = packed_size(element_type);
    if (width == 0 || index >= packed.size() / width) fail(CUDA_ERROR_UNKNOWN, "array element ", index, " out of range");
    const uint8_t* at = packed.data() + index * width;
    auto get = [at](auto typed) {
        std::memcpy(&typed, at, sizeof typed);
        return typed;
    };
    Value e;
    e.type = element_type;
    switch (element_type) {
        case ValueType::UINT8: e.u = get(uint8_t{}); break;
        case ValueType::INT8: e.i = get(int8_t{}); break;
        case ValueType::BOOL: e.u = get(uint8_t{}); break;
        case ValueType::UINT16: e.u = get(uint16_t{}); break;
        case ValueType::INT16: e.i = get(int16_t{}); break;
        case ValueType::UINT32: e.u = get(uint32_t{}); break;
        case ValueType::INT32: e.i = get(int32_t{}); break;
        case ValueType::FLOAT32: e.f = get(float{}); break;
        case ValueType::UINT64: e.u = get(uint64_t{}); break;
        case ValueType::INT64: e.i = get(int64_t{}); break;
        case ValueType::FLOAT64: e.f = get(double{}); break;
        case ValueType::STRING:
        case ValueType::ARRAY: break;
    }
    return e;
}

bool Value::is_integer() const {
    switch (type) {
        case ValueType::UINT8:
        case ValueType::INT8:
        case ValueType::UINT16:
        case ValueType::INT16:
        case ValueType::UINT32:
        case ValueType::INT32:
        case ValueType::UINT64:
        case ValueType::INT64:
            return true;
        default:
            return false;
    }
}

std::shared_ptr<const File> File::open(const std::string& path, Residency residency) {
    std::shared_ptr<File> file(new File(MappedFile::open(path, residency)));
    file->parse_all();
    return file;
}

std::shared_ptr<const File> File::parse(const uint8_t* data, size_t size, std::string name) {
    std::shared_ptr<File> file(new File(MappedFile::borrow(data, size, std::move(name))));
    file->parse_all();
    return file;
}

void File::parse_all() {
    Reader in(file_.data(), file_.size(), file_.name());
    const auto magic = in.read<uint32_t>("magic");
    if (magic != kMagic) in.bad("bad magic (not a GGUF file)");
    version_ = in.read<uint32_t>("version");
    if (version_ != 2 && version_ != 3) {
        in.bad("unsupported version ", version_, " (supported: 2 and 3; big-endian files are not supported)");
    }
    const auto n_tensors = in.read<uint64_t>("tensor count");
    const auto n_kv = in.read<uint64_t>("metadata count");
    // Each key/value takes at least 8 (key length) + 1 (key) + 4 (type) + 1 bytes.
    if (n_kv > in.remaining() / 14) {
        in.bad("metadata count ", n_kv, " at offset 16 cannot fit in a file of ", file_.size(), " bytes");
    }
    // Checked here, before any metadata is read, so an absurd count fails
    // fast; the exact bound is checked again once the tensor infos start.
    if (n_tensors > in.remaining() / 32) {
        in.bad("tensor count ", n_tensors, " at offset 8 cannot fit in a file of ", file_.size(), " bytes");
    }
    parse_metadata(in, n_kv);
    parse_alignment(in);
    parse_tensor_infos(in, n_tensors);
    place_tensor_data(in);
}

void File::parse_metadata(Reader& in, uint64_t n_kv) {
    for (uint64_t k = 0; k < n_kv; ++k) {
        const size_t at = in.pos();
        in.set_where(str_cat("metadata entry ", k, " at offset ", at));
        std::string key = in.read_string("key");
        if (key.empty()) in.bad("empty key");
        if (key.size() > kMaxNameLength) in.bad("key of ", key.size(), " bytes is longer than ", kMaxNameLength);
        in.set_where(str_cat("metadata key '", key, "' (entry ", k, " at offset ", at, ")"));
        in.charge(sizeof(Value) + sizeof(key) + 64 + string_heap_bytes(key.size()));  // value, key, map node
        const auto type = in.read<uint32_t>("value type");
        if (!known_value_type(type)) in.bad("unknown value type ", type, " at offset ", in.pos() - 4);
        Value value = read_value(in, static_cast<ValueType>(type), 0);
        if (metadata_.count(key) != 0) in.bad("duplicate key (first defined by an earlier entry)");
        metadata_.emplace(std::move(key), std::move(value));
    }
    in.set_where("");
}

void File::parse_alignment(Reader& in) {
    if (const Value* a = find("general.alignment")) {
        int64_t alignment = 0;
        // The GGUF specification asks for a multiple of 8: below that, F32
        // weights and the half-precision scales of quantized blocks would lie
        // misaligned in the mapping the CPU device reads them from (found by
        // fuzz_model_load with an alignment of 1).
        if (!as_i64(*a, alignment) || alignment < 8 || alignment > (1 << 30) || (alignment & (alignment - 1)) != 0) {
            const bool is_signed = a->type == ValueType::INT8 || a->type == ValueType::INT16 ||
                                   a->type == ValueType::INT32 || a->type == ValueType::INT64;
            in.bad("general.alignment must be a power-of-two integer in [8, 2^30], got ",
                   !a->is_integer() ? str_cat("a value of type ", value_type_name(a->type))
                   : is_signed      ? str_cat(a->i)
                                    : str_cat(a->u));
        }
        alignment_ = static_cast<uint32_t>(alignment);
    }
}

void File::parse_tensor_infos(Reader& in, uint64_t n_tensors) {
    // Each tensor info takes at least 8 (name length) + 1 (name) + 4 (n_dims) + 8 (one dim) + 4 (type) + 8 (offset).
    if (n_tensors > in.remaining() / 33) {
        in.bad("tensor count ", n_tensors, " at offset 8 cannot fit in the ", in.remaining(),
               " bytes left after the metadata");
    }
    tensors_.reserve(static_cast<size_t>(n_tensors));
    for (uint64_t t = 0; t < n_tensors; ++t) {
        const size_t at = in.pos();
        in.set_where(str_cat("tensor info ", t, " at offset ", at));
        TensorInfo info;
        info.name = in.read_string("name");
        if (info.name.empty()) in.bad("empty tensor name");
        if (info.name.size() > kMaxNameLength) {
            in.bad("tensor name of ", info.name.size(), " bytes is longer than ", kMaxNameLength);
        }
        in.set_where(str_cat("tensor '", info.name, "' (info ", t, " at offset ", at, ")"));
        const auto n_dims = in.read<uint32_t>("dimension count");
        if (n_dims == 0 || n_dims > kMaxDims) in.bad("dimension count ", n_dims, " is outside [1, ", kMaxDims, "]");
        info.n_elements = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const auto dim = in.read<uint64_t>("dimension");
            if (dim == 0) in.bad("dimension ", d, " is zero");
            // 2^48 elements is far beyond any model and keeps every byte
            // count computed from it (x 292 bytes per 256) inside uint64.
            if (!fits_u64_mul(info.n_elements, dim) || info.n_elements * dim > (uint64_t{1} << 48)) {
                in.bad("element count exceeds 2^48 at dimension ", d, " = ", dim);
            }
            info.n_elements *= dim;
            info.dims.push_back(dim);
        }
        const auto type = in.read<uint32_t>("type");
        const TypeTraits traits = type_traits(type);
        if (traits.name == nullptr) in.bad("unknown or unsupported tensor type ", type, " at offset ", in.pos() - 4);
        info.type = static_cast<GgmlType>(type);
        if (info.dims[0] % traits.block_size != 0) {
            in.bad("first dimension ", info.dims[0], " is not a multiple of the ", traits.name, " block size ",
                   traits.block_size);
        }
        info.n_bytes = info.n_elements / traits.block_size * traits.type_size;
        info.offset = in.read<uint64_t>("data offset");
        if (info.offset % alignment_ != 0) {
            in.bad("data offset ", info.offset, " is not a multiple of the alignment ", alignment_);
        }
        if (tensor_index_.count(info.name) != 0) in.bad("duplicate tensor name");
        tensor_index_.emplace(info.name, tensors_.size());
        tensors_.push_back(std::move(info));
    }
    in.set_where("");
}

void File::place_tensor_data(Reader& in) {
    // The data section starts at the next multiple of the alignment.
    const uint64_t end_of_header = in.pos();
    data_offset_ = (end_of_header + alignment_ - 1) / alignment_ * alignment_;
    const uint64_t size = file_.size();

    for (TensorInfo& info : tensors_) {
        const uint64_t relative = info.offset;
        if (relative > size || data_offset_ > size - relative) {
            in.bad("tensor '", info.name, "': data offset ", relative, " (absolute ", data_offset_, " + ", relative,
                   ") lies past end of file (", size, " bytes)");
        }
        info.offset = data_offset_ + relative;
        if (info.n_bytes > size - info.offset) {
            in.bad("tensor '", info.name, "': data [", info.offset, ", ", info.offset + info.n_bytes,
                   ") ends past end of file (", size, " bytes)");
        }
    }

    std::vector<const TensorInfo*> by_offset;
    by_offset.reserve(tensors_.size());
    for (const TensorInfo& info : tensors_) by_offset.push_back(&info);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
        const TensorInfo& prev = *by_offset[i - 1];
        const TensorInfo& next = *by_offset[i];
        if (prev.offset + prev.n_bytes > next.offset) {
            in.bad("tensor '", next.name, "': data [", next.offset, ", ", next.offset + next.n_bytes,
                   ") overlaps tensor '", prev.name, "' [", prev.offset, ", ", prev.offset + prev.n_bytes, ")");
        }
    }
}

const Value* File::find(std::string_view key) const {
    const auto it = metadata_.find(key);
    return it == metadata_.end() ? nullptr : &it->second;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::string File::get_string(std::string_view key) const {
    const Value& v = require(*this, key);
    if (v.type != ValueType::STRING) wrong_type(*this, key, v, "string");
    return v.s;
}

std::string File::get_string_or(std::string_view key, std::string fallback) const {
    return has(key) ? get_string(key) : fallback;
}

int64_t File::get_i64(std::string_view key) const {
    const Value& v = require(*this, key);
    int64_t out = 0;
    if (!as_i64(v, out)) wrong_type(*this, key, v, "an integer");
    return out;
}

uint32_t File::get_u32(std::string_view key) const {
    const int64_t value = get_i64(key);
    if (value < 0 || value > std::numeric_limits<uint32_t>::max()) {
        fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", path(), "': metadata key '", key, "' = ", value,
             " is out of range for an unsigned 32-bit value");
    }
    return static_cast<uint32_t>(value);
}

uint32_t File::get_u32_or(std::string_view key, uint32_t fallback) const { return has(key) ? get_u32(key) : fallback; }

float File::get_f32(std::string_view key) const {
    const Value& v = require(*this, key);
    if (!v.is_float()) wrong_type(*this, key, v, "a float");
    return static_cast<float>(v.f);
}

float File::get_f32_or(std::string_view key, float fallback) const { return has(key) ? get_f32(key) : fallback; }

bool File::get_bool_or(std::string_view key, bool fallback) const {
    const Value* v = find(key);
    if (v == nullptr) return fallback;
    if (v->type != ValueType::BOOL) wrong_type(*this, key, *v, "bool");
    return v->u != 0;
}

size_t File::get_array_size(std::string_view key) const {
    const Value& v = require(*this, key);
    if (v.type != ValueType::ARRAY) wrong_type(*this, key, v, "an array");
    return v.size();
}

std::vector<std::string> File::get_string_array(std::string_view key) const {
    const Value& v = require(*this, key);
    if (v.type != ValueType::ARRAY || v.element_type != ValueType::STRING) wrong_type(*this, key, v, "array of string");
    std::vector<std::string> out;
    out.reserve(v.array.size());
    for (const Value& e : v.array) out.push_back(e.s);
    return out;
}

std::vector<float> File::get_f32_array(std::string_view key) const {
    const Value& v = require(*this, key);
    if (v.type != ValueType::ARRAY || (v.element_type != ValueType::FLOAT32 && v.element_type != ValueType::FLOAT64)) {
        wrong_type(*this, key, v, "array of float32");
    }
    std::vector<float> out(v.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(v.element(i).f);
    return out;
}

std::vector<int32_t> File::get_i32_array(std::string_view key) const {
    const Value& v = require(*this, key);
    if (v.type != ValueType::ARRAY) wrong_type(*this, key, v, "array of int32");
    std::vector<int32_t> out;
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        int64_t x = 0;
        if (!as_i64(v.element(i), x) || x < std::numeric_limits<int32_t>::min() ||
            x > std::numeric_limits<int32_t>::max()) {
            fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", path(), "': metadata key '", key, "' element ", i,
                 " is not an int32 value");
        }
        out.push_back(static_cast<int32_t>(x));
    }
    return out;
}

}  // namespace worker::gguf
