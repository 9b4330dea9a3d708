#include "options.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "command.h"
#include "core/error.h"
#include "worker_ffi.h"

namespace worker::cli {

std::string ArgReader::value(const std::string& option) {
    if (done()) throw UsageError{option + " needs a value"};
    return next();
}

int ArgReader::int_value(const std::string& option, int min, int max) {
    const std::string v = value(option);
    char* end = nullptr;
    errno = 0;
    const long long n = std::strtoll(v.c_str(), &end, 10);
    const bool integer = end != v.c_str() && *end == '\0';
    if (integer && errno != ERANGE && n >= min && n <= max) return static_cast<int>(n);
    char text[160];
    std::snprintf(text, sizeof text,
                  integer ? "%s must be in [%d, %d], got %s" : "%s needs an integer in [%d, %d], got '%s'",
                  option.c_str(), min, max, v.c_str());
    throw UsageError{text};
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
    errno = 0;
    const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    // strtoull accepts "-1" (as 2^64 - 1): a sign is refused here.
    if (end == v.c_str() || *end != '\0' || v[0] == '-' || v[0] == '+') {
        throw UsageError{option + " needs an unsigned integer, got '" + v + "'"};
    }
    if (errno == ERANGE) throw UsageError{option + " must be below 2^64, got " + v};
    return n;
}

const char* error_name(int code) {
    switch (code) {
        case CUDA_SUCCESS:
            return "CUDA_SUCCESS";
        case CUDA_ERROR_INVALID_DEVICE:
            return "CUDA_ERROR_INVALID_DEVICE";
        case CUDA_ERROR_OUT_OF_MEMORY:
            return "CUDA_ERROR_OUT_OF_MEMORY";
        case CUDA_ERROR_MODEL_LOAD_FAILED:
            return "CUDA_ERROR_MODEL_LOAD_FAILED";
        case CUDA_ERROR_INFERENCE_FAILED:
            return "CUDA_ERROR_INFERENCE_FAILED";
        case CUDA_ERROR_INVALID_PARAMETER:
            return "CUDA_ERROR_INVALID_PARAMETER";
        case CUDA_ERROR_KERNEL_LAUNCH_FAILED:
            return "CUDA_ERROR_KERNEL_LAUNCH_FAILED";
        case CUDA_ERROR_VRAM_RESIDENCY_FAILED:
            return "CUDA_ERROR_VRAM_RESIDENCY_FAILED";
        case CUDA_ERROR_DEVICE_NOT_FOUND:
            return "CUDA_ERROR_DEVICE_NOT_FOUND";
        default:
            return "CUDA_ERROR_UNKNOWN";
    }
}

void throw_abi_error(int code) { throw Error(static_cast<CudaErrorCode>(code), cuda_last_error_detail()); }

std::string version_line() {
    const uint32_t v = cuda_api_version();
    char text[128];
    std::snprintf(text, sizeof text, "worker_cuda %u.%u.%u (CUDA backend: %s)", v >> 16, (v >> 8) & 0xFF, v & 0xFF,
#ifdef WORKER_HAVE_CUDA
                  "built in"
#else
                  "not built"
#endif
    );
    return text;
}

std::string read_text_file(const std::string& path, const std::string& option) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw UsageError{option + ": cannot read '" + path + "'"};
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
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
