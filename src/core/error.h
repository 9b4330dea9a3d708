// The one exception type of the library's core. The FFI layer turns it into
// an error code plus the thread-local detail message.
#pragma once

#include <exception>
#include <sstream>
#include <string>
#include <utility>

#include "worker_errors.h"

namespace worker {

class Error : public std::exception {
public:
    Error(CudaErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
    CudaErrorCode code() const noexcept { return code_; }
    const char* what() const noexcept override { return message_.c_str(); }
    const std::string& message() const noexcept { return message_; }

private:
    CudaErrorCode code_;
    std::string message_;
};

// Concatenates its arguments with operator<< into one string.
template <typename... Parts>
std::string str_cat(const Parts&... parts) {
    std::ostringstream out;
    (out << ... << parts);
    return out.str();
}

template <typename... Parts>
[[noreturn]] void fail(CudaErrorCode code, const Parts&... parts) {
    throw Error(code, str_cat(parts...));
}

}  // namespace worker
