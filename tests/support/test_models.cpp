#include "support/test_models.h"

#include <cstdlib>
#include <filesystem>

namespace worker::test {

std::string real_model_path(const std::string& name) {
    std::string dir;
    if (const char* cache = std::getenv("WORKER_MODEL_CACHE")) {
        dir = cache;
    } else if (const char* home = std::getenv("HOME")) {
        dir = std::string(home) + "/.cache/worker_cuda/models";
    }
    std::string file;
    if (name == "smollm2") file = "SmolLM2-135M-Instruct.Q4_1.gguf";
    if (name == "gemma3") file = "gemma-3-270m-q4_k_m.gguf";
    if (file.empty() || dir.empty()) return "";
    const std::string path = dir + "/" + file;
    return std::filesystem::exists(path) ? path : "";
}

std::string shared_testdata(const std::string& relative) { return std::string(WORKER_SHARED_TESTDATA) + "/" + relative; }

}  // namespace worker::test
