// A read-only view of a whole file: mmap'd from disk, or borrowed from memory
// (fuzzing, tests). The file is never copied into RAM.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace worker::gguf {

class MappedFile {
public:
    // Throws Error(CUDA_ERROR_MODEL_LOAD_FAILED) naming the path and the reason
    // (missing, directory, device or other non-regular file, empty, no read
    // permission, mmap failure).
    static MappedFile open(const std::string& path);
    // Borrows `size` bytes at `data`; the caller keeps them alive.
    static MappedFile borrow(const uint8_t* data, size_t size, std::string name);

    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    const std::string& name() const { return name_; }

private:
    MappedFile(const uint8_t* data, size_t size, std::string name, bool owned)
        : data_(data), size_(size), name_(std::move(name)), owned_(owned) {}

    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    std::string name_;
    bool owned_ = false;  // true: data_ is an mmap to munmap
};

}  // namespace worker::gguf
