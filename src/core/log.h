// Diagnostics: to the context's log callback, or to stderr without one, and
// only at the levels its settings ask for (none unless WORKER_LOG or
// WorkerContextParams.log_level says otherwise). Never to stdout.
#pragma once

#include "core/error.h"
#include "core/settings.h"

namespace worker {

// The message is only put together when its level is reported.
template <typename... Parts>
void log_at(const Settings& settings, LogLevel level, const Parts&... parts) {
    if (settings.logs(level)) settings.log(level, str_cat(parts...));
}

template <typename... Parts>
void log_info(const Settings& settings, const Parts&... parts) {
    log_at(settings, LogLevel::info, parts...);
}

}  // namespace worker
