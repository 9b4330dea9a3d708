// worker-cli info -m MODEL: what a GGUF file holds, without loading it onto a
// device (vocabulary-only files work too).
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "command.h"
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/summary.h"
#include "model/config.h"
#include "model/transformer.h"
#include "options.h"
#include "tokenizer/tokenizer.h"

namespace worker::cli {
namespace {

std::string human_bytes(uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
    return buf;
}

std::string human_count(uint64_t n) {
    char buf[32];
    if (n >= 1000000000ull) {
        std::snprintf(buf, sizeof buf, "%.2f B", static_cast<double>(n) / 1e9);
    } else if (n >= 1000000ull) {
        std::snprintf(buf, sizeof buf, "%.2f M", static_cast<double>(n) / 1e6);
    } else if (n >= 1000ull) {
        std::snprintf(buf, sizeof buf, "%.2f K", static_cast<double>(n) / 1e3);
    } else {
        std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
    }
    return buf;
}

const char* or_none(const std::string& s) { return s.empty() ? "(none)" : s.c_str(); }

// What this engine makes of the file: the architecture's features as it
// reads them, and whether it would load it — or the first reason it would not
// (the detail a load would give), without touching a device.
void print_support(const gguf::File& file) {
    std::optional<model::Config> config;
    std::string why_not;
    try {
        config = model::read_config(file);
        model::Transformer::check_weights(file, *config);
        tokenizer::Tokenizer::from_gguf(file);
    } catch (const Error& e) {
        why_not = e.message();
    }
    if (config) {
        const model::Config& c = *config;
        std::printf("engine reads:    %s, %u blocks, %u heads (%u for keys/values) of %u, context %u\n",
                    model::arch_name(c.arch), c.block_count, c.head_count, c.head_count_kv, c.head_dim,
                    c.context_length);
        std::printf("  rope:          %s pairs, base %g, %u rotated dims, scale %g\n",
                    c.rope_neox ? "NeoX" : "adjacent", static_cast<double>(c.rope_freq_base), c.rope_dimension_count,
                    static_cast<double>(c.rope_freq_scale));
        if (c.sliding_window > 0) {
            std::printf("  attention:     sliding window of %u tokens", c.sliding_window);
            if (c.sliding_window_pattern > 0) std::printf(", every %u-th block global", c.sliding_window_pattern);
            std::printf("\n");
        }
        if (c.expert_count > 0) {
            std::printf("  experts:       %u, %u used per token\n", c.expert_count, c.expert_used_count);
        }
    }
    if (why_not.empty()) {
        std::printf("supported:       yes\n");
    } else {
        std::printf("supported:       no: %s\n", why_not.c_str());
    }
}

constexpr const char* kHelp =
    "usage: worker-cli info -m MODEL.gguf [--metadata]\n"
    "\n"
    "Summarises a GGUF file without loading it onto a device (vocabulary-only files work too).\n"
    "\n"
    "  -m, --model FILE  the GGUF file (required)\n"
    "      --metadata    also print every metadata key and value\n"
    "  -h, --help        this help\n";

int run_info(const std::vector<std::string>& args) {
    std::string path;
    bool all_metadata = false;
    ArgReader r(args);
    while (!r.done()) {
        const std::string a = r.next();
        if (a == "-m" || a == "--model") {
            path = r.value(a);
        } else if (a == "--metadata") {
            all_metadata = true;
        } else {
            throw UsageError{"unknown option '" + a + "'"};
        }
    }
    if (path.empty()) throw UsageError{"-m MODEL.gguf is required"};

    const auto file = gguf::File::open(path);
    const gguf::Summary s = gguf::summarize(*file);
    std::printf("file:            %s\n", path.c_str());
    std::printf("format:          GGUF v%u, %s, alignment %u, data at offset %llu\n", file->version(),
                human_bytes(file->file_size()).c_str(), file->alignment(),
                static_cast<unsigned long long>(file->data_section_offset()));
    std::printf("architecture:    %s\n", or_none(s.architecture));
    std::printf("name:            %s\n", or_none(s.name));
    std::printf("parameters:      %s (%llu)\n", human_count(s.parameter_count).c_str(),
                static_cast<unsigned long long>(s.parameter_count));
    if (s.file_type) {
        std::printf("file type:       %s (%u)\n", gguf::file_type_name(*s.file_type), *s.file_type);
    } else {
        std::printf("file type:       (not stated)\n");
    }
    if (s.context_length) {
        std::printf("context length:  %llu\n", static_cast<unsigned long long>(*s.context_length));
    } else {
        std::printf("context length:  (not stated)\n");
    }
    std::printf("vocabulary:      %llu tokens, tokenizer %s", static_cast<unsigned long long>(s.vocab_size),
                or_none(s.tokenizer_model));
    if (!s.tokenizer_pre.empty()) std::printf(" (pre-tokenizer %s)", s.tokenizer_pre.c_str());
    std::printf("\n");
    std::printf("tensors:         %llu, %s\n", static_cast<unsigned long long>(s.tensor_count),
                human_bytes(s.tensor_bytes).c_str());
    if (!s.types.empty()) {
        std::printf("  %-8s %8s %14s %16s\n", "type", "tensors", "elements", "bytes");
        for (const gguf::TypeUsage& u : s.types) {
            std::printf("  %-8s %8llu %14llu %16llu  (%s)\n", type_traits(u.type).name,
                        static_cast<unsigned long long>(u.tensors), static_cast<unsigned long long>(u.elements),
                        static_cast<unsigned long long>(u.bytes), human_bytes(u.bytes).c_str());
        }
    }
    if (!s.hyper_parameters.empty()) {
        std::printf("hyper-parameters:\n");
        for (const auto& [key, value] : s.hyper_parameters) std::printf("  %-44s %s\n", key.c_str(), value.c_str());
    }
    print_support(*file);
    if (all_metadata) {
        std::printf("metadata (%zu keys):\n", file->metadata().size());
        for (const auto& [key, value] : file->metadata()) {
            std::printf("  %-44s %s\n", key.c_str(), gguf::format_value(value).c_str());
        }
    }
    return 0;
}

const bool registered = register_command(
    {"info", "summarise a GGUF file: architecture, size, types, tokenizer, hyper-parameters", kHelp, &run_info});

}  // namespace
}  // namespace worker::cli
