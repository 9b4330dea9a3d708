// worker-cli bench: load time, prefill and decode throughput of one model on
// one device, as llama-bench measures them: a prompt of -p random tokens
// evaluated as one batch, then -n single-token decode steps (each reading the
// logits back and taking the argmax), repeated -r times on a fresh KV cache.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "command.h"
#include "core/context.h"
#include "core/model.h"
#include "cpu/quant_dot.h"
#include "options.h"
#include "sampling/sampler.h"

namespace worker::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Stats {
    double median, min, max;
};

Stats stats(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    const double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return {median, v.front(), v.back()};
}

// The text as a JSON string literal's contents.
std::string json_escape(const std::string& text) {
    std::string out;
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += c;
        }
    }
    return out;
}

int run_bench(const std::vector<std::string>& args) {
    // `bench --tokenize ...` is the tokenizer benchmark (bench-tokenize).
    if (std::find(args.begin(), args.end(), "--tokenize") != args.end()) {
        std::vector<std::string> rest;
        for (const std::string& a : args) {
            if (a != "--tokenize") rest.push_back(a);
        }
        for (const Command& c : commands()) {
            if (std::string(c.name) == "bench-tokenize") return c.run(rest);
        }
    }
    std::string model_path;
    int device = 0, n_prompt = 512, n_gen = 128, reps = 5;
    bool have_device = false, json = false;
    ArgReader r(args);
    while (!r.done()) {
        const std::string a = r.next();
        if (a == "-m" || a == "--model") {
            model_path = r.value(a);
        } else if (a == "--device") {
            device = parse_device(r.value(a));
            have_device = true;
        } else if (a == "-p") {
            n_prompt = r.int_value(a);
        } else if (a == "-n") {
            n_gen = r.int_value(a);
        } else if (a == "-r") {
            reps = r.int_value(a);
        } else if (a == "--json") {
            json = true;
        } else {
            throw UsageError{"unknown option '" + a +
                             "'\nusage: worker-cli bench -m MODEL [--device D] [-p 512] [-n 128] [-r 5] [--json]\n"
                             "       worker-cli bench --tokenize -m MODEL [-f FILE] [--runs N]"};
        }
    }
    if (n_prompt < 1 || n_gen < 1 || reps < 1) throw UsageError{"-p, -n and -r must be >= 1"};
    if (model_path.empty()) model_path = default_model_path();
    if (!have_device) device = default_device();

    const auto t_load = Clock::now();
    auto context = Context::create(device);
    auto model = Model::load(context, model_path);
    const double load_s = seconds_since(t_load);
    model::Transformer& tr = model->transformer();
    const model::Config& cfg = tr.config();
    if (static_cast<uint32_t>(n_prompt + n_gen) > cfg.context_length) {
        throw UsageError{"-p + -n exceeds the model's context length of " + std::to_string(cfg.context_length)};
    }

    // Random ids from the vocabulary, as llama-bench does: the content does not change the work.
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(cfg.vocab_size) - 1);
    std::vector<int32_t> prompt(static_cast<size_t>(n_prompt));
    for (int32_t& id : prompt) id = pick(rng);

    std::vector<double> prefill_tps, decode_tps;
    std::vector<float> logits(cfg.vocab_size);
    for (int rep = 0; rep < reps; ++rep) {
        auto session = tr.create_session(n_prompt + n_gen, n_prompt);
        const auto t0 = Clock::now();
        model::Tensor out = tr.forward(*session, prompt);
        tr.backend().read(out, logits.data(), logits.size() * sizeof(float));
        const double prefill_s = seconds_since(t0);
        const auto t1 = Clock::now();
        for (int i = 0; i < n_gen; ++i) {
            const int32_t id = sampling::argmax(logits);
            out = tr.forward(*session, std::span<const int32_t>(&id, 1));
            tr.backend().read(out, logits.data(), logits.size() * sizeof(float));
        }
        const double decode_s = seconds_since(t1);
        prefill_tps.push_back(n_prompt / prefill_s);
        decode_tps.push_back(n_gen / decode_s);
        if (!json) {
            std::fprintf(stderr, "rep %d: prefill %.1f tok/s, decode %.1f tok/s\n", rep + 1, prefill_tps.back(),
                         decode_tps.back());
        }
    }
    const Stats pf = stats(prefill_tps), dc = stats(decode_tps);
    const double rss_mib = static_cast<double>(peak_rss_bytes()) / (1024.0 * 1024.0);
    const double device_mib =
        context->is_cpu() ? 0.0 : static_cast<double>(context->process_memory_usage()) / 1048576.0;
    const int threads = context->is_cpu() ? context->cpu_threads() : 0;
    // The instruction set of the CPU kernels (WORKER_CPU_ISA caps it); "" on a GPU.
    const char* isa = context->is_cpu() ? cpu::dot_kernel_isa() : "";
    if (json) {
        std::printf(
            "{\"model\": \"%s\", \"device\": \"%s\", \"threads\": %d, \"n_prompt\": %d, \"n_gen\": %d, \"reps\": %d, "
            "\"load_ms\": %.1f, \"prefill_tps\": {\"median\": %.2f, \"min\": %.2f, \"max\": %.2f}, "
            "\"decode_tps\": {\"median\": %.2f, \"min\": %.2f, \"max\": %.2f}, \"peak_rss_mib\": %.1f, "
            "\"device_memory_mib\": %.1f, \"cpu_isa\": \"%s\"}\n",
            json_escape(model_path).c_str(), json_escape(tr.backend().name()).c_str(), threads, n_prompt, n_gen, reps,
            load_s * 1e3, pf.median, pf.min, pf.max, dc.median, dc.min, dc.max, rss_mib, device_mib, isa);
    } else {
        std::printf("model    %s\ndevice   %s (%d threads%s%s)\nload     %.1f ms\n", model_path.c_str(),
                    tr.backend().name().c_str(), threads, context->is_cpu() ? ", kernels " : "", isa, load_s * 1e3);
        std::printf("prefill  %d tokens: %.1f tok/s median (min %.1f, max %.1f) over %d runs\n", n_prompt, pf.median,
                    pf.min, pf.max, reps);
        std::printf("decode   %d tokens: %.1f tok/s median (min %.1f, max %.1f) over %d runs\n", n_gen, dc.median,
                    dc.min, dc.max, reps);
        std::printf("peak RSS %.1f MiB\n", rss_mib);
        if (!context->is_cpu()) std::printf("device memory in use %.1f MiB\n", device_mib);
    }
    return 0;
}

const bool registered = register_command({"bench", "measure load time, prefill and decode speed", &run_bench});

}  // namespace
}  // namespace worker::cli
