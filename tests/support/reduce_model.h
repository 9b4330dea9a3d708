// Real models cut down to a size that travels with the repository: the first
// blocks of a GGUF file and, optionally, the first tokens of its vocabulary,
// with every kept tensor's bytes copied verbatim. A GPU machine with nothing
// but the repository runs the GPU suite on them (scripts/make-reduced-models.sh
// makes them; WORKER_REDUCED_MODELS_DIR says where a test finds them).
//
//     worker::test::ReduceSpec spec;
//     spec.n_layers = 4;
//     spec.n_vocab = 16384;
//     worker::test::reduce_model(real_model_path("smollm2"), "smollm2-reduced.gguf", spec);
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace worker::test {

struct ReduceSpec {
    // Blocks kept: every blk.<i>.* tensor with i < n_layers; 0 keeps them all.
    uint32_t n_layers = 0;
    // Tokens kept: the first n_vocab rows of token_embd.weight (and of an
    // untied output.weight) and entries of the tokenizer arrays; 0 keeps them all.
    uint32_t n_vocab = 0;
};

// Writes `out`: the metadata of `in` (sorted by key, as the parser keeps it)
// with <arch>.block_count = n_layers and, when the vocabulary is cut,
// tokenizer.ggml.tokens/scores/token_type truncated, <arch>.vocab_size
// updated, special-token ids that fall outside dropped (with the add_bos/
// add_eos flag that needs them), and BPE merges kept only where both parts
// and their concatenation are kept tokens. Tensors keep the order, type and
// alignment of `in`. The same input and spec always give the same bytes.
// Throws std::invalid_argument when the spec asks for more blocks or tokens
// than `in` has, and the parser's Error when `in` is not a readable GGUF file.
void reduce_model(const std::string& in, const std::string& out, const ReduceSpec& spec);

// The reduced models the GPU suite uses, made from the real models of the
// model cache (see test_models.h).
struct ReducedModel {
    std::string name;  // as for real_model_path: "smollm2", "gemma3"
    std::string file;  // file name inside reduced_models_dir()
    ReduceSpec spec;
};
const std::vector<ReducedModel>& reduced_models();
const ReducedModel& reduced_model(const std::string& name);  // throws std::invalid_argument when unknown

// $WORKER_REDUCED_MODELS_DIR, else build/reduced under the source tree.
std::string reduced_models_dir();
// Path of a reduced model in reduced_models_dir(), or "" when it is absent.
std::string reduced_model_path(const std::string& name);

}  // namespace worker::test

// Skips the test with a visible reason when the reduced model is missing, and
// fails it instead when WORKER_TEST_REQUIRE_REDUCED_MODELS=1 (as on a GPU
// machine that was given them).
#define WORKER_REQUIRE_REDUCED_MODEL(var, name)                                                           \
    const std::string var = ::worker::test::reduced_model_path(name);                                     \
    if (var.empty()) {                                                                                    \
        const char* required = std::getenv("WORKER_TEST_REQUIRE_REDUCED_MODELS");                         \
        if (required != nullptr && std::string(required) == "1") {                                        \
            FAIL() << "reduced model " << name << " missing in " << ::worker::test::reduced_models_dir(); \
        }                                                                                                 \
        GTEST_SKIP() << "reduced model " << name << " not in " << ::worker::test::reduced_models_dir()    \
                     << " (run scripts/make-reduced-models.sh)";                                          \
    }
