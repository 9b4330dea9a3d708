// make_reduced_models: writes the reduced real models the GPU suite uses
// (support/reduce_model.h) from the model cache, or reduces one given file.
//
//   make_reduced_models OUT_DIR
//       every model of reduced_models() from the model cache into OUT_DIR
//   make_reduced_models IN.gguf OUT.gguf [--layers N] [--vocab V]
//       one file; 0 or a missing option keeps them all
//
// Prints one line per written file: its path and size in bytes.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>

#include "support/reduce_model.h"
#include "support/test_models.h"

namespace {

int usage() {
    std::fprintf(stderr,
                 "usage: make_reduced_models OUT_DIR\n"
                 "       make_reduced_models IN.gguf OUT.gguf [--layers N] [--vocab V]\n");
    return 2;
}

bool parse_u32(const char* s, uint32_t& out) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (end == s || *end != '\0' || v > 0xFFFFFFFFull) return false;
    out = static_cast<uint32_t>(v);
    return true;
}

void reduce_and_report(const std::string& in, const std::string& out, const worker::test::ReduceSpec& spec) {
    worker::test::reduce_model(in, out, spec);
    std::printf("%s %llu\n", out.c_str(), static_cast<unsigned long long>(std::filesystem::file_size(out)));
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc == 2 && argv[1][0] != '-') {
            const std::string dir = argv[1];
            std::filesystem::create_directories(dir);
            for (const worker::test::ReducedModel& m : worker::test::reduced_models()) {
                const std::string source = worker::test::real_model_path(m.name);
                if (source.empty()) {
                    std::fprintf(stderr, "model %s is not in the model cache (run scripts/fetch-models.sh)\n",
                                 m.name.c_str());
                    return 1;
                }
                reduce_and_report(source, dir + "/" + m.file, m.spec);
            }
            return 0;
        }
        if (argc < 3 || argv[1][0] == '-' || argv[2][0] == '-') return usage();
        worker::test::ReduceSpec spec;
        for (int i = 3; i < argc; i += 2) {
            if (i + 1 >= argc) return usage();
            uint32_t* field = std::strcmp(argv[i], "--layers") == 0  ? &spec.n_layers
                              : std::strcmp(argv[i], "--vocab") == 0 ? &spec.n_vocab
                                                                     : nullptr;
            if (field == nullptr || !parse_u32(argv[i + 1], *field)) return usage();
        }
        reduce_and_report(argv[1], argv[2], spec);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_reduced_models: %s\n", e.what());
        return 1;
    }
}
