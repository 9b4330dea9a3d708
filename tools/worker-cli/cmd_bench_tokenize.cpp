// worker-cli bench-tokenize: tokenizer throughput in MB/s on a fixed ~1 MB
// text (or a file), so that figures from different runs compare.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "command.h"
#include "gguf/gguf_file.h"
#include "options.h"
#include "tokenizer/tokenizer.h"

namespace worker::cli {
namespace {

constexpr const char* kHelp =
    "usage: worker-cli bench-tokenize -m MODEL [-f FILE] [--runs N]\n"
    "\n"
    "Tokenizer throughput in MB/s: the best of N runs over the text.\n"
    "\n"
    "  -m, --model FILE  GGUF file (required; vocabulary-only files work)\n"
    "  -f, --file FILE   the text (default: 1 MiB of generated mixed prose, code, CJK and emoji)\n"
    "      --runs N      runs, 1..1000 (default 5)\n"
    "  -h, --help        this help\n";

// A deterministic mix of prose, code, numbers, whitespace runs, CJK, emoji and
// accented text, drawn by a fixed-seed generator (the same bytes everywhere).
std::string benchmark_text(size_t target_bytes) {
    static const char* const kParts[] = {
        "The quick brown fox jumps over the lazy dog. ",
        "It's what we'd've done, isn't it? ",
        "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }\n",
        "def tokenize(text: str) -> list[int]:\n    return [ord(c) for c in text]\n",
        "    \t  \n\n",
        "3.14159 2718281828 1,000,000 0x7fffffff 42% ",
        "日本語のテキストと中文文本。",
        "한국어 문장입니다. ",
        "Emoji: 🙂🚀👩‍💻✨ ",
        "Ça déjà vu — naïve façade, Ångström, señor. ",
        "Привет, мир! Γειά σου κόσμε. ",
        "<html><body><p class=\"x\">Hello</p></body></html>\n",
        "e\xCC\x81 a\xCC\x8A combining marks ",
    };
    constexpr size_t n_parts = sizeof kParts / sizeof kParts[0];
    std::string text;
    text.reserve(target_bytes + 256);
    uint64_t state = 0x9E3779B97F4A7C15ull;
    while (text.size() < target_bytes) {
        state ^= state << 13;  // xorshift64: fixed sequence, no library dependence
        state ^= state >> 7;
        state ^= state << 17;
        text += kParts[state % n_parts];
    }
    return text;
}

int run_bench_tokenize(const std::vector<std::string>& args) {
    std::string model;
    std::string path;
    int runs = 5;
    ArgReader in(args);
    while (!in.done()) {
        const std::string a = in.next();
        if (a == "-m" || a == "--model") {
            model = in.value(a);
        } else if (a == "-f" || a == "--file") {
            path = in.value(a);
        } else if (a == "--runs") {
            runs = in.int_value(a, 1, 1000);
        } else {
            throw UsageError{"unknown option '" + a + "'"};
        }
    }
    if (model.empty()) throw UsageError{"-m MODEL is required"};

    std::string text;
    if (path.empty()) {
        text = benchmark_text(1 << 20);
    } else {
        text = read_text_file(path, "-f");
    }

    const auto file = gguf::File::open(model);
    const auto load_start = std::chrono::steady_clock::now();
    const auto tok = tokenizer::Tokenizer::from_gguf(*file);
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();

    size_t n_tokens = 0;
    std::vector<double> seconds;
    for (int r = 0; r < runs; ++r) {
        const auto start = std::chrono::steady_clock::now();
        n_tokens = tok->encode(text, false, true).size();
        seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(seconds.begin(), seconds.end());
    const double median = seconds[seconds.size() / 2];
    const double mb = static_cast<double>(text.size()) / 1e6;
    std::printf("model: %s\n", model.c_str());
    std::printf("text: %zu bytes (%s), %zu tokens\n", text.size(), path.empty() ? "built-in" : path.c_str(), n_tokens);
    std::printf("tokenizer load: %.3f s\n", load_s);
    std::printf("encode: median %.4f s, best %.4f s over %d runs\n", median, seconds.front(), runs);
    std::printf("throughput: %.2f MB/s (median), %.2f MB/s (best)\n", mb / median, mb / seconds.front());
    return 0;
}

const bool registered = register_command(
    {"bench-tokenize", "tokenizer throughput in MB/s (-m MODEL [-f FILE])", kHelp, &run_bench_tokenize});

}  // namespace
}  // namespace worker::cli
