#include "support/test_models.h"

#include <cstdlib>
#include <filesystem>

namespace worker::test {

namespace {

std::string model_cache_dir() {
    if (const char* cache = std::getenv("WORKER_MODEL_CACHE")) return cache;
    if (const char* home = std::getenv("HOME")) return std::string(home) + "/.cache/worker_cuda/models";
    return "";
}

}  // namespace

std::string real_model_path(const std::string& name) {
    const std::string dir = model_cache_dir();
    std::string file;
    if (name == "smollm2") file = "SmolLM2-135M-Instruct.Q4_1.gguf";
    if (name == "gemma3") file = "gemma-3-270m-q4_k_m.gguf";
    if (file.empty() || dir.empty()) return "";
    const std::string path = dir + "/" + file;
    return std::filesystem::exists(path) ? path : "";
}

std::string llamacpp_vocab_dir() {
    const std::string dir = model_cache_dir();
    return dir.empty() ? "" : dir + "/vocab-llamacpp-0.3.36";
}

bool models_required() {
    const char* required = std::getenv("WORKER_TEST_REQUIRE_MODELS");
    return required != nullptr && std::string(required) == "1";
}

std::string shared_testdata(const std::string& relative) { return std::string(WORKER_SHARED_TESTDATA) + "/" + relative; }

}  // namespace worker::test
