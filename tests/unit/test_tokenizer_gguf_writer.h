// A minimal GGUF v3 writer for metadata-only files, for the tokenizer tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace worker::test {

class MetadataWriter {
public:
    void string_kv(const std::string& key, const std::string& value) {
        begin(key, kString);
        str(value);
    }
    void u32_kv(const std::string& key, uint32_t value) {
        begin(key, kUint32);
        put(value);
    }
    void string_array_kv(const std::string& key, const std::vector<std::string>& values) {
        begin(key, kArray);
        put(kString);
        put(static_cast<uint64_t>(values.size()));
        for (const auto& v : values) str(v);
    }
    void i32_array_kv(const std::string& key, const std::vector<int32_t>& values) {
        begin(key, kArray);
        put(kInt32);
        put(static_cast<uint64_t>(values.size()));
        for (int32_t v : values) put(v);
    }
    std::vector<uint8_t> finish() const {
        std::vector<uint8_t> out = {'G', 'G', 'U', 'F'};
        append(out, uint32_t{3});
        append(out, uint64_t{0});  // tensors
        append(out, n_kv_);
        out.insert(out.end(), body_.begin(), body_.end());
        return out;
    }

private:
    static constexpr uint32_t kUint32 = 4;
    static constexpr uint32_t kInt32 = 5;
    static constexpr uint32_t kString = 8;
    static constexpr uint32_t kArray = 9;

    template <typename T>
    static void append(std::vector<uint8_t>& out, T v) {
        uint8_t bytes[sizeof(T)];
        std::memcpy(bytes, &v, sizeof(T));
        out.insert(out.end(), bytes, bytes + sizeof(T));
    }
    template <typename T>
    void put(T v) {
        append(body_, v);
    }
    void str(const std::string& s) {
        put(static_cast<uint64_t>(s.size()));
        body_.insert(body_.end(), s.begin(), s.end());
    }
    void begin(const std::string& key, uint32_t type) {
        str(key);
        put(type);
        ++n_kv_;
    }

    std::vector<uint8_t> body_;
    uint64_t n_kv_ = 0;
};

}  // namespace worker::test
