// worker-synthetic-model: writes a synthetic GGUF model of a given shape with
// the test writer, so that a GPU machine with nothing but the repository can
// benchmark model shapes it has no file for (scripts/gpu-check.sh).
//
//   worker-synthetic-model OUT.gguf [--arch llama] [--embd 4096] [--layers 32]
//       [--heads 32] [--kv-heads 8] [--head-dim 128] [--ff 14336]
//       [--ctx 4096] [--type Q4_0] [--embd-type Q4_0] [--seed 1]
//       [--share-layers 1]   (every block gets block 0's weight bytes: an
//                             8B-shaped model in seconds, for benchmarks)
//   worker-synthetic-model OUT.gguf --reduce SOURCE.gguf --layers N
//       (a real model cut to its first N blocks; scripts/make-reduced-models.sh
//       makes the GPU suite's reduced models with make_reduced_models)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "support/gguf_writer.h"
#include "support/reduce_model.h"

namespace {

worker::GgmlType parse_type(const std::string& name) {
    for (uint32_t id = 0; id < 64; ++id) {
        const char* n = worker::type_traits(id).name;
        if (n != nullptr && name == n) return static_cast<worker::GgmlType>(id);
    }
    std::fprintf(stderr, "unknown type '%s'\n", name.c_str());
    std::exit(2);
}

uint32_t parse_u32(const char* s) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(s, &end, 10);
    if (end == s || *end != '\0' || v == 0 || v > 0xFFFFFFFFul) {
        std::fprintf(stderr, "not a positive integer: '%s'\n", s);
        std::exit(2);
    }
    return static_cast<uint32_t>(v);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argv[1][0] == '-') {
        std::fprintf(stderr,
                     "usage: %s OUT.gguf [--arch A] [--embd N] [--layers N] [--heads N] [--kv-heads N] "
                     "[--head-dim N] [--ff N] [--ctx N] [--type T] [--embd-type T] [--seed N] [--share-layers 1]\n",
                     argv[0]);
        return 2;
    }
    worker::test::SyntheticModelSpec spec;
    spec.name = "synthetic";
    std::string reduce_from;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string key = argv[i];
        const char* value = argv[i + 1];
        if (key == "--reduce") reduce_from = value;
        else if (key == "--arch") spec.arch = value;
        else if (key == "--embd") spec.n_embd = parse_u32(value);
        else if (key == "--layers") spec.n_layer = parse_u32(value);
        else if (key == "--heads") spec.n_head = parse_u32(value);
        else if (key == "--kv-heads") spec.n_head_kv = parse_u32(value);
        else if (key == "--head-dim") spec.head_dim = parse_u32(value);
        else if (key == "--ff") spec.n_ff = parse_u32(value);
        else if (key == "--ctx") spec.context_length = parse_u32(value);
        else if (key == "--type") spec.weight_type = parse_type(value);
        else if (key == "--embd-type") spec.embedding_type = parse_type(value);
        else if (key == "--seed") spec.seed = parse_u32(value);
        else if (key == "--share-layers") spec.share_layer_weights = parse_u32(value) != 0;
        else {
            std::fprintf(stderr, "unknown option '%s'\n", key.c_str());
            return 2;
        }
    }
    if (argc % 2 != 0) {
        std::fprintf(stderr, "option '%s' needs a value\n", argv[argc - 1]);
        return 2;
    }
    try {
        if (!reduce_from.empty()) {
            worker::test::ReduceSpec reduce;
            reduce.n_layers = spec.n_layer;
            worker::test::reduce_model(reduce_from, argv[1], reduce);
            return 0;
        }
        worker::test::write_synthetic_model(argv[1], spec);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", argv[1], e.what());
        return 1;
    }
    return 0;
}
