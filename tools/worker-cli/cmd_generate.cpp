// worker-cli generate: streams a model's continuation of a prompt to stdout
// through the public C ABI (--ids drives the core directly, since token ids
// are not part of the ABI); load progress and timings go to stderr.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "core/context.h"
#include "core/inference.h"
#include "core/model.h"
#include "options.h"
#include "worker_ffi.h"

namespace worker::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

constexpr const char* kHelp =
    "usage: worker-cli generate [options]\n"
    "\n"
    "Streams a model's continuation of a prompt to stdout; load progress and timings go to stderr.\n"
    "\n"
    "  -m, --model FILE        GGUF model (default: SmolLM2-135M-Instruct from the model cache, fetched if missing)\n"
    "  -p, --prompt TEXT       the prompt (or the user message with --chat)\n"
    "  -f, --file FILE         read the prompt from FILE instead\n"
    "      --chat              format the prompt with the model's own chat template (tokenizer.chat_template;\n"
    "                          for a file without one, the ChatML or Gemma turns its vocabulary has)\n"
    "      --system TEXT       with --chat: a system message before the user's\n"
    "  -n, --n-predict N       tokens to generate at most, 1..2147483647 (default 128)\n"
    "      --temp T            temperature, 0 = greedy, [0, 2] (default 0.8)\n"
    "      --seed S            seed of the random draw, 0..2^64-1 (default 0)\n"
    "      --top-k K           keep the K most likely tokens, 0 = off (default 40)\n"
    "      --top-p P           nucleus mass in (0, 1], 1 = off (default 0.95)\n"
    "      --min-p P           drop tokens below P x the top probability, [0, 1) (default 0.05)\n"
    "      --repeat-penalty R  repetition penalty, > 0, 1 = off (default 1.0)\n"
    "      --stop TEXT         stop when TEXT is generated (not printed); may repeat\n"
    "      --device cpu|N      the CPU reference device or GPU N (default: GPU 0 when there is one, else cpu)\n"
    "      --ids               print token ids instead of text (drives the engine directly)\n"
    "      --dump-tensors DIR  with --ids: write every intermediate tensor to DIR as raw f32\n"
    "  -h, --help              this help\n";

struct GenerateOptions {
    std::string model;
    std::string prompt;
    bool have_prompt = false;
    int device = 0;
    bool have_device = false;
    bool chat = false;
    std::string system;
    bool have_system = false;
    bool ids = false;
    std::string dump_dir;  // --dump-tensors: every intermediate of every forward pass, as raw f32 files
    std::vector<std::string> stop;
    WorkerInferenceParams params = WORKER_INFERENCE_PARAMS_INIT;
};

// The sampling options; false when `a` is none of them.
bool parse_sampling(const std::string& a, ArgReader& r, WorkerInferenceParams& p) {
    if (a == "-n" || a == "--n-predict") {
        p.max_tokens = r.int_value(a, 1, INT32_MAX);
    } else if (a == "--temp") {
        p.temperature = r.float_value(a);
    } else if (a == "--seed") {
        p.seed = r.u64_value(a);
    } else if (a == "--top-k") {
        p.top_k = r.int_value(a, 0, INT32_MAX);
    } else if (a == "--top-p") {
        p.top_p = r.float_value(a);
    } else if (a == "--min-p") {
        p.min_p = r.float_value(a);
    } else if (a == "--repeat-penalty") {
        p.repetition_penalty = r.float_value(a);
    } else {
        return false;
    }
    return true;
}

GenerateOptions parse(const std::vector<std::string>& args) {
    GenerateOptions o;
    ArgReader r(args);
    while (!r.done()) {
        const std::string a = r.next();
        if (parse_sampling(a, r, o.params)) continue;
        if (a == "-m" || a == "--model") {
            o.model = r.value(a);
        } else if (a == "-p" || a == "--prompt" || a == "-f" || a == "--file") {
            if (o.have_prompt) throw UsageError{"give the prompt once (-p TEXT or -f FILE)"};
            o.prompt = (a == "-p" || a == "--prompt") ? r.value(a) : read_text_file(r.value(a), a);
            o.have_prompt = true;
        } else if (a == "--stop") {
            o.stop.push_back(r.value(a));
        } else if (a == "--device") {
            o.device = parse_device(r.value(a));
            o.have_device = true;
        } else if (a == "--chat") {
            o.chat = true;
        } else if (a == "--system") {
            o.system = r.value(a);
            o.have_system = true;
        } else if (a == "--ids") {
            o.ids = true;
        } else if (a == "--dump-tensors") {
            o.dump_dir = r.value(a);
            o.ids = true;  // taps are part of the core, not the ABI
        } else {
            throw UsageError{"unknown option '" + a + "'"};
        }
    }
    if (!o.have_prompt) throw UsageError{"a prompt is required: -p TEXT or -f FILE"};
    if (o.have_system && !o.chat) throw UsageError{"--system needs --chat"};
    return o;
}

// For files without tokenizer.chat_template (such as the gemma-3-270m GGUF):
// the standard template of the family whose turn markers the vocabulary has.
constexpr const char* kChatMlTemplate =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
constexpr const char* kGemmaTemplate =
    "{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
    "{% if message['role'] == 'system' %}{{ '<start_of_turn>user\n' + message['content'] + '\n\n' }}"
    "{% else %}{% if not (loop.index0 > 0 and messages[loop.index0 - 1]['role'] == 'system') %}"
    "{{ '<start_of_turn>' + role + '\n' }}{% endif %}{{ message['content'] + '<end_of_turn>\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}";

const char* fallback_template(CudaModel* model) {
    int err = 0;
    int32_t id = 0;
    for (const char* marker : {"<start_of_turn>", "<|im_start|>"}) {
        if (cuda_tokenize(model, marker, false, true, &id, 1, &err) == 1 && err == CUDA_SUCCESS) {
            return std::string(marker) == "<start_of_turn>" ? kGemmaTemplate : kChatMlTemplate;
        }
    }
    throw UsageError{
        "--chat: the model file has no chat template, and its vocabulary has neither ChatML's nor Gemma's turn "
        "markers"};
}

// The options as the ABI's parameters; `stops` holds the stop strings' pointers.
WorkerInferenceParams abi_params(const GenerateOptions& o, std::vector<const char*>& stops) {
    for (const std::string& s : o.stop) stops.push_back(s.c_str());
    WorkerInferenceParams params = o.params;
    params.stop = stops.empty() ? nullptr : stops.data();
    params.n_stop = static_cast<int32_t>(stops.size());
    return params;
}

// The conversation (an optional system message, the user's prompt) rendered
// by the model's chat template through the ABI, ready for generation.
std::string chat_prompt(CudaModel* model, const GenerateOptions& o) {
    std::vector<WorkerChatMessage> messages;
    if (o.have_system) messages.push_back({"system", o.system.c_str()});
    messages.push_back({"user", o.prompt.c_str()});
    WorkerModelInfo info = WORKER_MODEL_INFO_INIT;
    int err = 0;
    if (!cuda_model_get_info(model, &info, &err)) throw_abi_error(err);
    WorkerChatParams params = WORKER_CHAT_PARAMS_INIT;
    if (info.chat_template == nullptr) params.template_text = fallback_template(model);
    const auto n = static_cast<int32_t>(messages.size());
    const int64_t needed = cuda_chat_apply_template(model, messages.data(), n, &params, nullptr, 0, &err);
    if (needed < 0) throw_abi_error(err);
    std::string text(static_cast<size_t>(needed), '\0');
    if (cuda_chat_apply_template(model, messages.data(), n, &params, text.data(), needed, &err) < 0) {
        throw_abi_error(err);
    }
    text.resize(static_cast<size_t>(needed - 1));
    return text;
}

const char* finish_reason_name(int32_t reason) {
    switch (reason) {
        case WORKER_FINISH_EOS:
            return "end of generation";
        case WORKER_FINISH_MAX_TOKENS:
            return "max tokens";
        case WORKER_FINISH_STOP:
            return "stop string";
        case WORKER_FINISH_CANCELLED:
            return "cancelled";
        case WORKER_FINISH_ERROR:
            return "error";
        default:
            return "running";
    }
}

// Time to the first piece (prompt evaluation and the first token), then the rest.
struct Timings {
    double load_s = 0, first_s = 0, rest_s = 0;
};

void print_summary(const Timings& t, const WorkerInferenceInfo& info) {
    const int rest = info.generated_tokens > 1 ? info.generated_tokens - 1 : 0;
    std::fprintf(stderr,
                 "\n\nload %.0f ms | prompt %d tokens, first token after %.0f ms (%.1f tokens/s) | "
                 "%d more tokens in %.0f ms (%.1f tokens/s) | stopped: %s\n",
                 t.load_s * 1e3, info.prompt_tokens, t.first_s * 1e3,
                 t.first_s > 0 ? info.prompt_tokens / t.first_s : 0.0, rest, t.rest_s * 1e3,
                 t.rest_s > 0 ? rest / t.rest_s : 0.0, finish_reason_name(info.finish_reason));
}

// A one-line bar on stderr, redrawn in place when the percentage changes;
// the last call ends the line. `user` is the last percentage drawn (an int).
bool draw_progress(float fraction, void* user) {
    int& shown = *static_cast<int*>(user);
    if (static_cast<int>(fraction * 100) == shown) return true;
    shown = static_cast<int>(fraction * 100);
    constexpr int kWidth = 40;
    const int filled = static_cast<int>(fraction * kWidth);
    std::fprintf(stderr, "\r[%.*s%*s] %3d%%", filled, "========================================", kWidth - filled, "",
                 static_cast<int>(fraction * 100));
    if (fraction >= 1.0f) std::fputc('\n', stderr);
    std::fflush(stderr);
    return true;
}

struct AbiHandles {
    CudaContext* ctx = nullptr;
    CudaModel* model = nullptr;
    InferenceResult* inference = nullptr;
    ~AbiHandles() {
        cuda_inference_free(inference);
        cuda_unload_model(model);
        cuda_destroy(ctx);
    }
};

// Pulls every piece to stdout; the buffer grows to the size a piece needs.
void stream(InferenceResult* inference, Timings& t) {
    const auto t_start = Clock::now();
    std::vector<char> buffer(256);
    bool first = true;
    int err = 0;
    for (;;) {
        const int32_t needed = cuda_inference_next_token_size(inference, &err);
        if (needed < 0) throw_abi_error(err);
        if (first) t.first_s = seconds_since(t_start);
        first = false;
        if (needed == 0) break;
        if (static_cast<size_t>(needed) > buffer.size()) buffer.resize(static_cast<size_t>(needed));
        if (!cuda_inference_next_token(inference, buffer.data(), static_cast<int>(buffer.size()), nullptr, &err)) {
            if (err != CUDA_SUCCESS) throw_abi_error(err);
            break;
        }
        std::fputs(buffer.data(), stdout);
        std::fflush(stdout);
    }
    t.rest_s = seconds_since(t_start) - t.first_s;
}

int run_text(const GenerateOptions& o) {
    int err = 0;
    Timings t;
    const auto t_load = Clock::now();
    AbiHandles h;
    h.ctx = cuda_init(o.device, &err);
    if (h.ctx == nullptr) throw_abi_error(err);
    std::fprintf(stderr, "loading %s\n", o.model.c_str());
    WorkerLoadParams load = WORKER_LOAD_PARAMS_INIT;
    int shown = -1;
    load.progress_user_data = &shown;
    if (::isatty(STDERR_FILENO) == 1) load.progress = &draw_progress;  // a bar on a terminal only
    h.model = cuda_load_model_ex(h.ctx, o.model.c_str(), &load, nullptr, &err);
    if (h.model == nullptr) throw_abi_error(err);
    t.load_s = seconds_since(t_load);
    const std::string prompt = o.chat ? chat_prompt(h.model, o) : o.prompt;

    std::vector<const char*> stops;
    const WorkerInferenceParams params = abi_params(o, stops);
    h.inference = cuda_inference_start_ex(h.model, prompt.c_str(), &params, &err);
    if (h.inference == nullptr) throw_abi_error(err);
    stream(h.inference, t);
    WorkerInferenceInfo info = WORKER_INFERENCE_INFO_INIT;
    if (!cuda_inference_get_info(h.inference, &info, &err)) throw_abi_error(err);
    print_summary(t, info);
    return 0;
}

// Writes every tapped tensor to `dir` as raw f32 rows, one file per tensor in
// the order the forward passes produce them: <seq>_<name>-<layer>.f32 (no
// layer for tensors outside the blocks). For comparing, op by op, with the
// tensors llama.cpp's eval callback sees.
model::TensorTap dump_tap(const std::string& dir, model::Backend& backend) {
    auto seq = std::make_shared<int>(0);
    return [dir, &backend, seq](const char* name, int layer, const model::Tensor& t) {
        if (t.type != GgmlType::F32) return;
        char file[256];
        if (layer >= 0) {
            std::snprintf(file, sizeof file, "/%06d_%s-%d.f32", (*seq)++, name, layer);
        } else {
            std::snprintf(file, sizeof file, "/%06d_%s.f32", (*seq)++, name);
        }
        const std::string path = dir + file;
        std::FILE* f = std::fopen(path.c_str(), "wb");
        if (f == nullptr) throw UsageError{"--dump-tensors: cannot write '" + path + "'"};
        std::vector<float> row(static_cast<size_t>(t.ne0));
        for (int64_t i = 0; i < t.ne1; ++i) {
            backend.read(t.rows(i, 1), row.data(), row.size() * sizeof(float));
            std::fwrite(row.data(), sizeof(float), row.size(), f);
        }
        std::fclose(f);
    };
}

int run_ids(const GenerateOptions& o) {
    if (o.chat) throw UsageError{"--chat and --ids do not go together: pass the formatted prompt"};
    const auto t_load = Clock::now();
    auto model = Model::load(Context::create(o.device), o.model);
    const double load_s = seconds_since(t_load);
    if (!o.dump_dir.empty()) {
        model->transformer().set_tap(dump_tap(o.dump_dir, model->transformer().backend()));
    }
    std::vector<const char*> stops;
    const WorkerInferenceParams params = abi_params(o, stops);
    auto inference = Inference::start(model, o.prompt, InferenceParams::from_abi(&params));
    std::fprintf(stderr, "prompt ids:");
    for (const int32_t id : inference->prompt_tokens()) std::fprintf(stderr, " %d", id);
    std::fprintf(stderr, "\n");
    Timings t;
    t.load_s = load_s;
    const auto t_decode = Clock::now();
    size_t printed = 0;
    for (;;) {
        const bool more = inference->peek() != nullptr;
        const std::vector<int32_t>& ids = inference->generated_tokens();
        for (; printed < ids.size(); ++printed) std::printf("%s%d", printed ? " " : "", ids[printed]);
        std::fflush(stdout);
        if (printed == 1 && t.first_s == 0) t.first_s = seconds_since(t_decode);
        if (!more) break;
        inference->pop();
    }
    std::printf("\n");
    t.rest_s = seconds_since(t_decode) - t.first_s;
    const Inference::Info done = inference->info();
    WorkerInferenceInfo info = WORKER_INFERENCE_INFO_INIT;
    info.prompt_tokens = done.prompt_tokens;
    info.generated_tokens = done.generated_tokens;
    info.finish_reason = static_cast<int32_t>(done.finish_reason);
    print_summary(t, info);
    return 0;
}

int run_generate(const std::vector<std::string>& args) {
    GenerateOptions o = parse(args);
    if (o.model.empty()) o.model = default_model_path();
    if (!o.have_device) o.device = default_device();
    return o.ids ? run_ids(o) : run_text(o);
}

const bool registered = register_command({"generate", "generate text from a prompt", kHelp, &run_generate});

}  // namespace
}  // namespace worker::cli
