#include "support/memory_file.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>

namespace worker::fuzz {

MemoryFile::MemoryFile() {
    fd_ = ::memfd_create("worker-fuzz", 0);
    if (fd_ < 0) std::abort();  // the harness cannot run at all
    path_ = "/proc/self/fd/" + std::to_string(fd_);
}

MemoryFile::~MemoryFile() { ::close(fd_); }

void MemoryFile::assign(const uint8_t* data, size_t size) {
    if (::ftruncate(fd_, 0) != 0) std::abort();
    size_t done = 0;
    while (done < size) {
        const ssize_t n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
        if (n <= 0) std::abort();
        done += static_cast<size_t>(n);
    }
}

}  // namespace worker::fuzz
