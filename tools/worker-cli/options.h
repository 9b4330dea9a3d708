// Shared pieces of the generate and bench commands: option values, the
// default model and the device choice.
#pragma once

#include <string>
#include <vector>

namespace worker::cli {

// Walks "--name value" style arguments; every accessor throws UsageError
// with the option's name when its value is missing or malformed.
class ArgReader {
public:
    explicit ArgReader(const std::vector<std::string>& args) : args_(args) {}
    bool done() const { return i_ >= args_.size(); }
    const std::string& next() { return args_[i_++]; }
    std::string value(const std::string& option);
    // An integer in [min, max]; anything else (a fraction, text, a value
    // that would wrap) is a UsageError naming the option and the range.
    int int_value(const std::string& option, int min, int max);
    float float_value(const std::string& option);
    unsigned long long u64_value(const std::string& option);

private:
    const std::vector<std::string>& args_;
    size_t i_ = 0;
};

// "CUDA_ERROR_MODEL_LOAD_FAILED" for 3, ...: the names of worker_errors.h.
const char* error_name(int code);
// Throws worker::Error with the code and cuda_last_error_detail() of a failed ABI call.
[[noreturn]] void throw_abi_error(int code);
// "worker_cuda 0.3.0 (ABI 0.3.0, CUDA backend: yes|no)".
std::string version_line();
// The whole content of a file; a UsageError naming `option` when unreadable.
std::string read_text_file(const std::string& path, const std::string& option);

// "cpu" -> WORKER_DEVICE_CPU, "N" -> GPU N.
int parse_device(const std::string& text);
// GPU 0 when the build and machine have one, else the CPU device; says which on stderr.
int default_device();
const char* device_label(int device);
// The default model (SmolLM2) from the model cache, fetched with
// scripts/fetch-models.sh when missing.
std::string default_model_path();
// Peak resident set size of this process in bytes.
unsigned long long peak_rss_bytes();

}  // namespace worker::cli
