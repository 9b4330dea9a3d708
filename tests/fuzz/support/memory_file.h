// A file that lives in memory (memfd), for fuzz targets that must hand the
// real loader a path: /proc/self/fd/<n> opens and maps like any file, and
// nothing touches the disk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace worker::fuzz {

class MemoryFile {
public:
    MemoryFile();
    ~MemoryFile();
    MemoryFile(const MemoryFile&) = delete;
    MemoryFile& operator=(const MemoryFile&) = delete;

    // Replaces the contents with `size` bytes.
    void assign(const uint8_t* data, size_t size);
    // A path that opens the current contents.
    const std::string& path() const { return path_; }

private:
    int fd_ = -1;
    std::string path_;
};

}  // namespace worker::fuzz
