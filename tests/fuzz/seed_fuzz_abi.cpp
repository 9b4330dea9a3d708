// Seeds for fuzz_abi (run by run_one.sh: seed_fuzz_abi DIR): inputs in the
// target's layout that start a greedy and a sampled inference on each of its
// models, alone and with a second model in turn, on plain, special-token and
// non-ASCII prompts.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
    uint8_t bytes[sizeof v];
    std::memcpy(bytes, &v, sizeof v);
    out.insert(out.end(), bytes, bytes + sizeof v);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const char* prompts[] = {"The capital of France is", "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
                             "caf\xC3\xA9 \xE2\x98\x83 \xE4\xBD\xA0\xE5\xA5\xBD"};
    int n = 0;
    for (uint8_t model = 0; model < 4; ++model) {
        for (uint8_t flags : {0, 1, 3}) {
            for (int p = 0; p < 3; ++p) {
                std::vector<uint8_t> in;
                put<uint8_t>(in, model);
                put<uint8_t>(in, flags);
                put<int8_t>(in, 12);                          // max_tokens
                put<float>(in, p == 0 ? 0.0f : 0.8f);         // temperature
                put<uint16_t>(in, static_cast<uint16_t>(n));  // seed
                put<int16_t>(in, p == 2 ? 40 : 0);            // top_k
                put<float>(in, p == 1 ? 0.9f : 1.0f);         // top_p
                put<float>(in, 0.0f);                         // min_p
                put<float>(in, p == 2 ? 1.1f : 1.0f);         // repetition penalty
                put<uint8_t>(in, p == 1 ? 3 : 255);           // buffer size
                put<uint8_t>(in, p == 0 ? 2 : 0);             // stop string length
                in.insert(in.end(), prompts[p], prompts[p] + std::strlen(prompts[p]));
                const std::string path = std::string(argv[1]) + "/seed_" + std::to_string(n++);
                std::ofstream(path, std::ios::binary)
                    .write(reinterpret_cast<const char*>(in.data()), static_cast<std::streamsize>(in.size()));
            }
        }
    }
    std::printf("seed_fuzz_abi: %d inputs in %s\n", n, argv[1]);
    return 0;
}
