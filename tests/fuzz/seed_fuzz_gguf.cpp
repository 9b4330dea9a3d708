// Writes the seed corpus of fuzz_gguf: small valid files of every synthetic
// architecture and several block types, made by the test GGUF writer.
#include <cstdio>
#include <string>

#include "support/gguf_writer.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    int n = 0;
    for (const char* arch : {"llama", "qwen2", "phi3", "gemma3"}) {
        for (auto type : {worker::GgmlType::F32, worker::GgmlType::Q8_0, worker::GgmlType::Q4_K}) {
            worker::test::SyntheticModelSpec spec;
            spec.arch = arch;
            spec.n_layer = 1;
            spec.n_embd = type == worker::GgmlType::Q4_K ? 256 : 32;
            spec.n_head = 2;
            spec.n_head_kv = 1;
            spec.head_dim = 16;
            spec.n_ff = type == worker::GgmlType::Q4_K ? 256 : 64;
            spec.weight_type = type;
            worker::test::write_synthetic_model(dir + "/seed_" + arch + "_" + std::to_string(n++) + ".gguf", spec);
        }
    }
    return 0;
}
