// Where tests find the real models (fetched by scripts/fetch-models.sh) and
// shared test data.
#pragma once

#include <string>

namespace worker::test {

// Path of a real model ("smollm2" or "gemma3") in the model cache
// ($WORKER_MODEL_CACHE, else ~/.cache/worker_cuda/models), or "" when absent.
std::string real_model_path(const std::string& name);

// The folder scripts/fetch-models.sh vocab fills with llama.cpp's
// ggml-vocab-* test files (llama-cpp-python 0.3.36's sdist):
// vocab-llamacpp-0.3.36 in the model cache. Returned whether or not it exists.
std::string llamacpp_vocab_dir();

// True when WORKER_TEST_REQUIRE_MODELS=1: a missing model is a failure.
bool models_required();

// Path inside ../shared/testdata.
std::string shared_testdata(const std::string& relative);

}  // namespace worker::test

// Skips the test with a visible reason when the model is missing, and fails
// it instead when WORKER_TEST_REQUIRE_MODELS=1 (as in CI).
#define WORKER_REQUIRE_REAL_MODEL(var, name)                                                             \
    const std::string var = ::worker::test::real_model_path(name);                                        \
    if (var.empty()) {                                                                                   \
        const char* required = std::getenv("WORKER_TEST_REQUIRE_MODELS");                                \
        if (required != nullptr && std::string(required) == "1") FAIL() << "model " << name << " missing"; \
        GTEST_SKIP() << "model " << name << " not fetched (run scripts/fetch-models.sh)";                 \
    }
