// GGUF (versions 2 and 3): header, metadata, tensor table and tensor data,
// parsed from a mapped file that is treated as hostile input. Every read is
// bounds-checked; every size is overflow-checked; a bad file throws
// Error(CUDA_ERROR_MODEL_LOAD_FAILED) whose message names the problem and where.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/mapped_file.h"
#include "quant/ggml_type.h"

namespace worker::gguf {

enum class ValueType : uint32_t {
    UINT8 = 0,
    INT8 = 1,
    UINT16 = 2,
    INT16 = 3,
    UINT32 = 4,
    INT32 = 5,
    FLOAT32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    UINT64 = 10,
    INT64 = 11,
    FLOAT64 = 12,
};

const char* value_type_name(ValueType type);

// Bytes one element of a number or bool type takes in the file (0 for STRING and ARRAY).
size_t packed_size(ValueType type);

// One metadata value. Scalars use exactly one of the members below according
// to `type`. An array's elements are either Values in `array` (strings,
// arrays, and arrays a writer builds), or, as the parser keeps arrays of
// numbers and bools, their bytes as stored in `packed` (little-endian): a
// million-element array then costs its file size, not a hundred times that.
// size() and element() read either form.
struct Value {
    ValueType type = ValueType::UINT8;
    uint64_t u = 0;     // UINT8/16/32/64 and BOOL (0 or 1)
    int64_t i = 0;      // INT8/16/32/64
    double f = 0.0;     // FLOAT32/64
    std::string s;      // STRING
    ValueType element_type = ValueType::UINT8;  // ARRAY
    std::vector<Value> array;                   // ARRAY
    std::vector<uint8_t> packed;                // ARRAY of numbers or bools, as parsed

    bool is_integer() const;
    bool is_float() const { return type == ValueType::FLOAT32 || type == ValueType::FLOAT64; }
    // Element count of an ARRAY.
    size_t size() const;
    // Element i of an ARRAY (i < size()), as a Value.
    Value element(size_t i) const;
};

struct TensorInfo {
    std::string name;
    std::vector<uint64_t> dims;  // ggml order: dims[0] is the contiguous one
    GgmlType type = GgmlType::F32;
    uint64_t offset = 0;     // absolute byte offset of the data in the file
    uint64_t n_elements = 0;
    uint64_t n_bytes = 0;
};

class Reader;  // gguf_file.cpp: bounds-checked reads of the mapping

class File {
public:
    static constexpr uint32_t kMaxDims = 4;
    static constexpr uint32_t kDefaultAlignment = 32;
    // What parsed metadata may cost in memory: this much, plus
    // kMetadataBytesPerFileByte for every byte of the file. Real files use a
    // small fraction; a hostile file that packs millions of values (each a
    // Value in memory) into few bytes is refused before it costs gigabytes.
    static constexpr uint64_t kMetadataBaseBytes = uint64_t{64} << 20;
    static constexpr uint64_t kMetadataBytesPerFileByte = 4;

    // Opens and parses `path` (mmap'd read-only, or read into private memory).
    static std::shared_ptr<const File> open(const std::string& path, Residency residency = Residency::Mapped);
    // Parses bytes the caller keeps alive for the lifetime of the File.
    static std::shared_ptr<const File> parse(const uint8_t* data, size_t size, std::string name);

    uint32_t version() const { return version_; }
    uint32_t alignment() const { return alignment_; }
    const std::string& path() const { return file_.name(); }
    size_t file_size() const { return file_.size(); }
    uint64_t data_section_offset() const { return data_offset_; }

    const std::map<std::string, Value, std::less<>>& metadata() const { return metadata_; }
    const Value* find(std::string_view key) const;
    bool has(std::string_view key) const { return find(key) != nullptr; }

    // Typed getters. The required forms throw Error(CUDA_ERROR_MODEL_LOAD_FAILED)
    // naming the key when it is missing or of the wrong type; the `_or` forms
    // return the fallback when missing and throw when of the wrong type.
    // Integer getters accept any integer type whose value fits.
    std::string get_string(std::string_view key) const;
    std::string get_string_or(std::string_view key, std::string fallback) const;
    uint32_t get_u32(std::string_view key) const;
    uint32_t get_u32_or(std::string_view key, uint32_t fallback) const;
    int64_t get_i64(std::string_view key) const;
    float get_f32(std::string_view key) const;
    float get_f32_or(std::string_view key, float fallback) const;
    bool get_bool_or(std::string_view key, bool fallback) const;
    // Arrays: the element type must be the one asked for (any integer type for
    // the integer forms).
    std::vector<std::string> get_string_array(std::string_view key) const;
    std::vector<float> get_f32_array(std::string_view key) const;
    std::vector<int32_t> get_i32_array(std::string_view key) const;
    // Array length without copying; throws when missing or not an array.
    size_t get_array_size(std::string_view key) const;

    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find_tensor(std::string_view name) const;
    // See MappedFile: whether the file on disk still holds what was loaded.
    void check_unchanged() const { file_.check_unchanged(); }
    void check_readable() const { file_.check_readable(); }
    bool reads_from_disk() const { return file_.reads_from_disk(); }

    // Start of the tensor's data inside the mapping (valid while the File lives).
    const uint8_t* tensor_data(const TensorInfo& tensor) const { return file_.data() + tensor.offset; }

private:
    explicit File(MappedFile file) : file_(std::move(file)) {}
    void parse_all();
    // The steps of parse_all, in file order; `in` reads the mapping.
    void parse_metadata(Reader& in, uint64_t n_kv);
    void parse_alignment(Reader& in);
    void parse_tensor_infos(Reader& in, uint64_t n_tensors);
    void place_tensor_data(Reader& in);

    MappedFile file_;
    uint32_t version_ = 0;
    uint32_t alignment_ = kDefaultAlignment;
    uint64_t data_offset_ = 0;
    std::map<std::string, Value, std::less<>> metadata_;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace worker::gguf
