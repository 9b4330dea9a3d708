#include "gguf/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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
    ~FdGuard() {
        if (fd_ >= 0) ::close(fd_);
    }
    int release() { return std::exchange(fd_, -1); }
    FdGuard(const FdGuard&) = delete;
    FdGuard& operator=(const FdGuard&) = delete;

private:
    int fd_;
};

int64_t nanoseconds(const struct timespec& t) { return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec; }

// Anonymous memory holding the whole file, read with pread.
const uint8_t* read_private(int fd, size_t size, const std::string& path) {
    void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        fail(CUDA_ERROR_OUT_OF_MEMORY, "cannot hold model file '", path, "' (", size,
             " bytes) in private memory: ", std::strerror(errno));
    }
    auto* bytes = static_cast<uint8_t*>(map);
    for (size_t done = 0; done < size;) {
        const ssize_t n = ::pread(fd, bytes + done, std::min<size_t>(size - done, size_t{1} << 30),
                                  static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : 0;
            ::munmap(map, size);
            load_fail(path, err != 0 ? str_cat("read failed at offset ", done, ": ", std::strerror(err))
                                     : str_cat("the file shrank while it was read (", done, " of ", size, " bytes)"));
        }
        done += static_cast<size_t>(n);
    }
    ::mprotect(map, size, PROT_READ);
    return bytes;
}

}  // namespace

MappedFile MappedFile::open(const std::string& path, Residency residency) {
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
    MappedFile file;
    file.size_ = static_cast<size_t>(st.st_size);
    file.name_ = path;
    file.owned_ = true;
    if (residency == Residency::Private) {
        file.data_ = read_private(fd, file.size_, path);
        return file;
    }
    void* map = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        const int err = errno;
        if (err == ENOMEM) {
            fail(CUDA_ERROR_OUT_OF_MEMORY, "cannot map model file '", path, "' (", file.size_,
                 " bytes): no address space or memory left (", std::strerror(err), ")");
        }
        load_fail(path, str_cat("mmap failed: ", std::strerror(err)));
    }
    file.data_ = static_cast<const uint8_t*>(map);
    file.mtime_ns_ = nanoseconds(st.st_mtim);
    file.ctime_ns_ = nanoseconds(st.st_ctim);
    file.fd_ = guard.release();
    return file;
}

MappedFile MappedFile::borrow(const uint8_t* data, size_t size, std::string name) {
    MappedFile file;
    file.data_ = data;
    file.size_ = size;
    file.name_ = std::move(name);
    return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
    if (this != &other) {
        release();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        name_ = std::move(other.name_);
        owned_ = std::exchange(other.owned_, false);
        fd_ = std::exchange(other.fd_, -1);
        mtime_ns_ = other.mtime_ns_;
        ctime_ns_ = other.ctime_ns_;
    }
    return *this;
}

MappedFile::~MappedFile() { release(); }

void MappedFile::release() noexcept {
    if (owned_) ::munmap(const_cast<uint8_t*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
    owned_ = false;
    fd_ = -1;
}

void MappedFile::check_unchanged() const {
    if (fd_ < 0) return;
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
        fail(CUDA_ERROR_VRAM_RESIDENCY_FAILED, "model file '", name_, "' cannot be checked: ", std::strerror(errno));
    }
    const auto size = static_cast<uint64_t>(st.st_size);
    if (size != size_ || nanoseconds(st.st_mtim) != mtime_ns_ || nanoseconds(st.st_ctim) != ctime_ns_) {
        fail(CUDA_ERROR_VRAM_RESIDENCY_FAILED, "model file '", name_, "' was changed on disk after it was loaded (",
             size != size_ ? str_cat("size ", size_, " -> ", size, " bytes") : std::string("modified in place"),
             "): the weights are read from its mapping and are no longer those loaded; load the model again (a "
             "context with private weights is immune to such changes)");
    }
}

void MappedFile::check_readable() const {
    check_unchanged();
    if (fd_ < 0) return;
    // write(2) from the mapping into a memory file: a page that cannot be
    // read makes the call fail with EFAULT rather than raise SIGBUS.
    const int sink = ::memfd_create("worker-residency-probe", MFD_CLOEXEC);
    if (sink < 0) {
        fail(CUDA_ERROR_VRAM_RESIDENCY_FAILED, "model file '", name_,
             "': cannot create the probe to read its mapping: ", std::strerror(errno));
    }
    FdGuard guard(sink);
    constexpr size_t kChunk = size_t{1} << 20;
    for (size_t at = 0; at < size_; at += kChunk) {
        const size_t n = std::min(kChunk, size_ - at);
        ssize_t written;
        do {
            written = ::pwrite(sink, data_ + at, n, 0);
        } while (written < 0 && errno == EINTR);
        if (written < 0) {
            fail(CUDA_ERROR_VRAM_RESIDENCY_FAILED, "model file '", name_, "': its mapping cannot be read at offset ",
                 at, " (", std::strerror(errno), "); the file was changed on disk after it was loaded");
        }
    }
}

}  // namespace worker::gguf
