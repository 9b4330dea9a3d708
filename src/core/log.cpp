#include "core/log.h"

#include <cstdio>
#include <cstdlib>

namespace worker {

bool log_enabled() {
    static const bool enabled = [] {
        const char* value = std::getenv("WORKER_LOG");
        return value != nullptr && value[0] != '\0' && std::string(value) != "0";
    }();
    return enabled;
}

void log_line(const std::string& line) { std::fprintf(stderr, "[worker_cuda] %s\n", line.c_str()); }

}  // namespace worker
