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
    int int_value(const std::string& option);
    float float_value(const std::string& option);
    unsigned long long u64_value(const std::string& option);

private:
    const std::vector<std::string>& args_;
    size_t i_ = 0;
};

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
