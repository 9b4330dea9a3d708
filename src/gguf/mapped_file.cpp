#include "gguf/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.h"
#include "core/fault.h"

namespace worker::gguf {

namespace {

[[noreturn]] void load_fail(const std::string& path, const std::string& why) {
    fail(CUDA_ERROR_MODEL_LOAD_FAILED, "cannot open model file '", path, "': ", why);
}

class FdGuard {
public:
    explicit FdGuard(int fd) : fd_(fd) {}
    ~FdGuard() { ::close(fd_); }
    FdGuard(const FdGuard&) = delete;
    FdGuard& operator=(const FdGuard&) = delete;

private:
    int fd_;
};

}  // namespace

MappedFile MappedFile::open(const std::string& path) {
    if (path.empty()) load_fail(path, "empty path");
    fault::check(fault::Site::FileRead);
    // O_NONBLOCK: opening a FIFO must not hang; it is refused just below.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT) load_fail(path, "no such file");
        if (err == EACCES) load_fail(path, "permission denied");
        load_fail(path, std::strerror(err));
    }
    FdGuard guard(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) load_fail(path, std::strerror(errno));
    if (S_ISDIR(st.st_mode)) load_fail(path, "is a directory");
    if (!S_ISREG(st.st_mode)) load_fail(path, "not a regular file (device, FIFO or socket)");
    if (st.st_size == 0) load_fail(path, "file is empty");
    const auto size = static_cast<size_t>(st.st_size);
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) load_fail(path, str_cat("mmap failed: ", std::strerror(errno)));
    return MappedFile(static_cast<const uint8_t*>(map), size, path, true);
}

MappedFile MappedFile::borrow(const uint8_t* data, size_t size, std::string name) {
    return MappedFile(data, size, std::move(name), false);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      name_(std::move(other.name_)),
      owned_(std::exchange(other.owned_, false)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
    if (this != &other) {
        if (owned_) ::munmap(const_cast<uint8_t*>(data_), size_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        name_ = std::move(other.name_);
        owned_ = std::exchange(other.owned_, false);
    }
    return *this;
}

MappedFile::~MappedFile() {
    if (owned_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace worker::gguf
