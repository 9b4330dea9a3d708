// A read-only view of a whole file: mmap'd from disk, copied into private
// memory, or borrowed from memory (fuzzing, tests).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace worker::gguf {

// How a file's bytes are held while it is in use.
enum class Residency {
    // mmap'd: pages come from the page cache as they are read, and are shared
    // with other processes mapping the same file. A change to the file on
    // disk shows through the mapping (a truncation makes reads past the new
    // end fault); check_unchanged() detects it.
    Mapped,
    // Read once into the process's own anonymous memory: nothing done to the
    // file afterwards reaches the bytes, at the cost of memory the kernel
    // cannot drop and share.
    Private,
};

class MappedFile {
public:
    // Throws Error(CUDA_ERROR_MODEL_LOAD_FAILED) naming the path and the reason
    // (missing, directory, device or other non-regular file, empty, no read
    // permission, mmap failure), CUDA_ERROR_OUT_OF_MEMORY when the address
    // space or memory for it is lacking.
    static MappedFile open(const std::string& path, Residency residency = Residency::Mapped);
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
    bool reads_from_disk() const { return fd_ >= 0; }

    // For a mapped file: throws Error(CUDA_ERROR_VRAM_RESIDENCY_FAILED) when
    // the file was changed on disk since it was opened (another size, or
    // another modification or status-change time). A few hundred nanoseconds:
    // cheap enough for every forward step. Nothing to check otherwise.
    void check_unchanged() const;
    // check_unchanged(), then every page of the mapping read through the
    // kernel (which reports a fault instead of raising SIGBUS): throws
    // Error(CUDA_ERROR_VRAM_RESIDENCY_FAILED) naming the first unreadable offset.
    void check_readable() const;

private:
    MappedFile() = default;
    void release() noexcept;

    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    std::string name_;
    bool owned_ = false;  // true: data_ is an mmap to munmap
    int fd_ = -1;         // Mapped: the open file, to compare its status with
    // Status at open: size, modification and status-change times (ns).
    int64_t mtime_ns_ = 0;
    int64_t ctime_ns_ = 0;
};

}  // namespace worker::gguf
