// Diagnostics on stderr, only when the environment variable WORKER_LOG is set:
// the library is silent by default and never writes to stdout.
#pragma once

#include "core/error.h"

namespace worker {

bool log_enabled();
void log_line(const std::string& line);

template <typename... Parts>
void log_info(const Parts&... parts) {
    if (log_enabled()) log_line(str_cat(parts...));
}

}  // namespace worker
