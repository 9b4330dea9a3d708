#include "options.h"

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "command.h"
#include "worker_ffi.h"

namespace worker::cli {

std::string ArgReader::value(const std::string& option) {
    if (done()) throw UsageError{option + " needs a value"};
    return next();
}

int ArgReader::int_value(const std::string& option) {
    const std::string v = value(option);
    char* end = nullptr;
    const long n = std::strtol(v.c_str(), &end, 10);
    if (end == v.c_str() || *end != '\0') throw UsageError{option + " needs an integer, got '" + v + "'"};
    return static_cast<int>(n);
}

float ArgReader::float_value(const std::string& option) {
    const std::string v = value(option);
    char* end = nullptr;
    const float f = std::strtof(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0') throw UsageError{option + " needs a number, got '" + v + "'"};
    return f;
}

unsigned long long ArgReader::u64_value(const std::string& option) {
    const std::string v = value(option);
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (end == v.c_str() || *end != '\0') throw UsageError{option + " needs an unsigned integer, got '" + v + "'"};
    return n;
}

int parse_device(const std::string& text) {
    if (text == "cpu") return WORKER_DEVICE_CPU;
    char* end = nullptr;
    const long n = std::strtol(text.c_str(), &end, 10);
    if (end == text.c_str() || *end != '\0' || n < 0) {
        throw UsageError{"--device takes 'cpu' or a GPU id, got '" + text + "'"};
    }
    return static_cast<int>(n);
}

int default_device() {
    const int device = cuda_get_device_count() > 0 ? 0 : WORKER_DEVICE_CPU;
    std::fprintf(stderr, "device: %s (no --device given)\n", device_label(device));
    return device;
}

const char* device_label(int device) {
    static thread_local std::string label;
    label = device == WORKER_DEVICE_CPU ? "CPU reference device" : "GPU " + std::to_string(device);
    return label.c_str();
}

std::string default_model_path() {
    std::string dir;
    if (const char* cache = std::getenv("WORKER_MODEL_CACHE")) {
        dir = cache;
    } else if (const char* home = std::getenv("HOME")) {
        dir = std::string(home) + "/.cache/worker_cuda/models";
    }
    const std::string path = dir + "/SmolLM2-135M-Instruct.Q4_1.gguf";
    if (std::filesystem::exists(path)) return path;
    const std::string script = std::string(WORKER_SOURCE_DIR) + "/scripts/fetch-models.sh";
    std::fprintf(stderr, "default model missing: fetching it with %s smollm2\n", script.c_str());
    const std::string command = "'" + script + "' smollm2 >&2";
    if (std::system(command.c_str()) != 0 || !std::filesystem::exists(path)) {
        throw UsageError{"no -m given and the default model could not be fetched to " + path};
    }
    return path;
}

unsigned long long peak_rss_bytes() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<unsigned long long>(usage.ru_maxrss) * 1024ULL;
}

}  // namespace worker::cli
