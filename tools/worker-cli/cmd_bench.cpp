// worker-cli bench: load time, prefill and decode throughput of one model on
// one device, as llama-bench measures them: a prompt of -p random tokens
// evaluated as one batch, then -n single-token decode steps (each reading the
// logits back and taking the argmax), repeated -r times on a fresh KV cache.
#include <algorithm>
#include <chrono>
#include <cstdint>
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

struct BenchOptions {
    std::string model_path;
    int device = 0, n_prompt = 512, n_gen = 128, reps = 5;
    bool have_device = false, json = false;
};

BenchOptions parse_bench(const std::vector<std::string>& args) {
    BenchOptions o;
    ArgReader r(args);
    while (!r.done()) {
        const std::string a = r.next();
        if (a == "-m" || a == "--model") {
            o.model_path = r.value(a);
        } else if (a == "--device") {
            o.device = parse_device(r.value(a));
            o.have_device = true;
        } else if (a == "-p") {
            o.n_prompt = r.int_value(a, 1, INT32_MAX);
        } else if (a == "-n") {
            o.n_gen = r.int_value(a, 1, INT32_MAX);
        } else if (a == "-r") {
            o.reps = r.int_value(a, 1, 1000);
        } else if (a == "--json") {
            o.json = true;
        } else {
            throw UsageError{"unknown option '" + a + "'"};
        }
    }
    return o;
}

// Tokens per second of each repetition: one prefill of n_prompt random ids,
// then n_gen greedy decode steps.
void measure(model::Transformer& tr, const BenchOptions& o, std::vector<double>& prefill_tps,
             std::vector<double>& decode_tps) {
    const model::Config& cfg = tr.config();
    // Random ids from the vocabulary, as llama-bench does: the content does not change the work.
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(cfg.vocab_size) - 1);
    std::vector<int32_t> prompt(static_cast<size_t>(o.n_prompt));
    for (int32_t& id : prompt) id = pick(rng);
    std::vector<float> logits(cfg.vocab_size);
    for (int rep = 0; rep < o.reps; ++rep) {
        auto session = tr.create_session(o.n_prompt + o.n_gen, o.n_prompt);
        const auto t0 = Clock::now();
        model::Tensor out = tr.forward(*session, prompt);
        tr.backend().read(out, logits.data(), logits.size() * sizeof(float));
        const double prefill_s = seconds_since(t0);
        const auto t1 = Clock::now();
        for (int i = 0; i < o.n_gen; ++i) {
            const int32_t id = sampling::argmax(logits);
            out = tr.forward(*session, std::span<const int32_t>(&id, 1));
            tr.backend().read(out, logits.data(), logits.size() * sizeof(float));
        }
        const double decode_s = seconds_since(t1);
        prefill_tps.push_back(o.n_prompt / prefill_s);
        decode_tps.push_back(o.n_gen / decode_s);
        if (!o.json) {
            std::fprintf(stderr, "rep %d: prefill %.1f tok/s, decode %.1f tok/s\n", rep + 1, prefill_tps.back(),
                         decode_tps.back());
        }
    }
}

void report(const BenchOptions& o, const Context& context, const model::Transformer& tr, double load_s, const Stats& pf,
            const Stats& dc) {
    const double rss_mib = static_cast<double>(peak_rss_bytes()) / (1024.0 * 1024.0);
    const double device_mib = context.is_cpu() ? 0.0 : static_cast<double>(context.process_memory_usage()) / 1048576.0;
    const int threads = context.is_cpu() ? context.settings().cpu_threads : 0;
    // The instruction set of the context's CPU kernels (WORKER_CPU_ISA caps it); "" on a GPU.
    const char* isa = context.is_cpu() ? cpu::dot_kernel_isa(context.settings().cpu_isa) : "";
    if (o.json) {
        std::printf(
            "{\"model\": \"%s\", \"device\": \"%s\", \"threads\": %d, \"n_prompt\": %d, \"n_gen\": %d, \"reps\": %d, "
            "\"load_ms\": %.1f, \"prefill_tps\": {\"median\": %.2f, \"min\": %.2f, \"max\": %.2f}, "
            "\"decode_tps\": {\"median\": %.2f, \"min\": %.2f, \"max\": %.2f}, \"peak_rss_mib\": %.1f, "
            "\"device_memory_mib\": %.1f, \"cpu_isa\": \"%s\"}\n",
            json_escape(o.model_path).c_str(), json_escape(tr.backend().name()).c_str(), threads, o.n_prompt, o.n_gen,
            o.reps, load_s * 1e3, pf.median, pf.min, pf.max, dc.median, dc.min, dc.max, rss_mib, device_mib, isa);
        return;
    }
    std::printf("model    %s\ndevice   %s (%d threads%s%s)\nload     %.1f ms\n", o.model_path.c_str(),
                tr.backend().name().c_str(), threads, context.is_cpu() ? ", kernels " : "", isa, load_s * 1e3);
    std::printf("prefill  %d tokens: %.1f tok/s median (min %.1f, max %.1f) over %d runs\n", o.n_prompt, pf.median,
                pf.min, pf.max, o.reps);
    std::printf("decode   %d tokens: %.1f tok/s median (min %.1f, max %.1f) over %d runs\n", o.n_gen, dc.median, dc.min,
                dc.max, o.reps);
    std::printf("peak RSS %.1f MiB\n", rss_mib);
    if (!context.is_cpu()) std::printf("device memory in use %.1f MiB\n", device_mib);
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
    BenchOptions o = parse_bench(args);
    if (o.model_path.empty()) o.model_path = default_model_path();
    if (!o.have_device) o.device = default_device();

    const auto t_load = Clock::now();
    auto context = Context::create(o.device);
    auto model = Model::load(context, o.model_path);
    const double load_s = seconds_since(t_load);
    model::Transformer& tr = model->transformer();
    if (static_cast<uint32_t>(o.n_prompt + o.n_gen) > tr.config().context_length) {
        throw UsageError{"-p + -n exceeds the model's context length of " + std::to_string(tr.config().context_length)};
    }
    std::vector<double> prefill_tps, decode_tps;
    measure(tr, o, prefill_tps, decode_tps);
    report(o, *context, tr, load_s, stats(prefill_tps), stats(decode_tps));
    return 0;
}

constexpr const char* kHelp =
    "usage: worker-cli bench [-m MODEL] [options]\n"
    "\n"
    "Measures load time, prefill and decode speed: each repetition is one prefill of -p random token ids\n"
    "then -n greedy decode steps; prints the mean and spread of each figure.\n"
    "\n"
    "  -m, --model FILE  GGUF model (default: SmolLM2-135M-Instruct from the model cache)\n"
    "      --device cpu|N  the CPU reference device or GPU N (default: GPU 0 when there is one, else cpu)\n"
    "  -p N              prompt tokens (default 512)\n"
    "  -n N              generated tokens (default 128)\n"
    "  -r N              repetitions, 1..1000 (default 5)\n"
    "      --json        print the figures as JSON\n"
    "  -h, --help        this help\n"
    "\n"
    "Tokenizer throughput: worker-cli bench-tokenize.\n";

const bool registered = register_command({"bench", "measure load time, prefill and decode speed", kHelp, &run_bench});

}  // namespace
}  // namespace worker::cli
