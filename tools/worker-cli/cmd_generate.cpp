// worker-cli generate: streams a model's continuation of a prompt to stdout
// through the public C ABI (--ids drives the core directly, since token ids
// are not part of the ABI); load progress and timings go to stderr.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "core/context.h"
#include "core/inference.h"
#include "core/model.h"
#include "gguf/gguf_file.h"
#include "options.h"
#include "worker_ffi.h"

namespace worker::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct GenerateOptions {
    std::string model;
    std::string prompt;
    bool have_prompt = false;
    int device = 0;
    bool have_device = false;
    bool chat = false;
    bool ids = false;
    std::string dump_dir;  // --dump-tensors: every intermediate of every forward pass, as raw f32 files
    std::vector<std::string> stop;
    WorkerInferenceParams params = WORKER_INFERENCE_PARAMS_INIT;
};

GenerateOptions parse(const std::vector<std::string>& args) {
    GenerateOptions o;
    ArgReader r(args);
    while (!r.done()) {
        const std::string a = r.next();
        if (a == "-m" || a == "--model") {
            o.model = r.value(a);
        } else if (a == "-p" || a == "--prompt") {
            o.prompt = r.value(a);
            o.have_prompt = true;
        } else if (a == "-n" || a == "--n-predict") {
            o.params.max_tokens = r.int_value(a);
        } else if (a == "--temp") {
            o.params.temperature = r.float_value(a);
        } else if (a == "--seed") {
            o.params.seed = r.u64_value(a);
        } else if (a == "--top-k") {
            o.params.top_k = r.int_value(a);
        } else if (a == "--top-p") {
            o.params.top_p = r.float_value(a);
        } else if (a == "--min-p") {
            o.params.min_p = r.float_value(a);
        } else if (a == "--repeat-penalty") {
            o.params.repetition_penalty = r.float_value(a);
        } else if (a == "--stop") {
            o.stop.push_back(r.value(a));
        } else if (a == "--device") {
            o.device = parse_device(r.value(a));
            o.have_device = true;
        } else if (a == "--chat") {
            o.chat = true;
        } else if (a == "--ids") {
            o.ids = true;
        } else if (a == "--dump-tensors") {
            o.dump_dir = r.value(a);
            o.ids = true;  // taps are part of the core, not the ABI
        } else {
            throw UsageError{
                "unknown option '" + a +
                "'\nusage: worker-cli generate -m MODEL -p PROMPT [-n N] [--temp T] [--seed S] [--top-k K] "
                "[--top-p P] [--min-p P] [--repeat-penalty R] [--stop STR]... [--device cpu|N] [--chat] "
                "[--ids] [--dump-tensors DIR]"};
        }
    }
    if (!o.have_prompt) throw UsageError{"-p PROMPT is required"};
    return o;
}

// The prompt wrapped in the chat template family of the model: named by
// tokenizer.chat_template, or — for files without one, such as the
// gemma-3-270m GGUF — by the turn markers its vocabulary has.
std::string apply_chat_template(const std::string& model_path, const std::string& prompt) {
    const auto file = gguf::File::open(model_path);
    std::string tmpl = file->get_string_or("tokenizer.chat_template", "");
    if (tmpl.empty() && file->has("tokenizer.ggml.tokens")) {
        for (const std::string& token : file->get_string_array("tokenizer.ggml.tokens")) {
            if (token == "<start_of_turn>" || token == "<|im_start|>") {
                tmpl = token;
                break;
            }
        }
    }
    if (tmpl.find("<start_of_turn>") != std::string::npos) {
        return "<start_of_turn>user\n" + prompt + "<end_of_turn>\n<start_of_turn>model\n";
    }
    if (tmpl.find("<|im_start|>") != std::string::npos) {
        // SmolLM2's template inserts its default system message when none is given.
        const std::string smol_system = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
        std::string text;
        if (tmpl.find(smol_system) != std::string::npos) text = "<|im_start|>system\n" + smol_system + "<|im_end|>\n";
        return text + "<|im_start|>user\n" + prompt + "<|im_end|>\n<|im_start|>assistant\n";
    }
    throw UsageError{
        "--chat: the model's chat template is neither ChatML nor Gemma, and its vocabulary has "
        "neither family's turn markers"};
}

void print_summary(double load_s, double prefill_s, double decode_s, int generated) {
    std::fprintf(stderr, "\n\nload %.0f ms | prompt %.0f ms | %d tokens in %.0f ms (%.1f tokens/s)\n", load_s * 1e3,
                 prefill_s * 1e3, generated, decode_s * 1e3, decode_s > 0 ? generated / decode_s : 0.0);
}

int run_text(const GenerateOptions& o, const std::string& prompt) {
    int err = 0;
    const auto t_load = Clock::now();
    CudaContext* ctx = cuda_init(o.device, &err);
    if (ctx == nullptr) {
        std::fprintf(stderr, "error: %s: %s\n", cuda_error_message(err), cuda_last_error_detail());
        return 1;
    }
    std::fprintf(stderr, "loading %s\n", o.model.c_str());
    CudaModel* model = cuda_load_model(ctx, o.model.c_str(), nullptr, &err);
    if (model == nullptr) {
        std::fprintf(stderr, "error: %s: %s\n", cuda_error_message(err), cuda_last_error_detail());
        cuda_destroy(ctx);
        return 1;
    }
    const double load_s = seconds_since(t_load);

    std::vector<const char*> stops;
    for (const std::string& s : o.stop) stops.push_back(s.c_str());
    WorkerInferenceParams params = o.params;
    params.stop = stops.empty() ? nullptr : stops.data();
    params.n_stop = static_cast<int32_t>(stops.size());

    int rc = 0;
    const auto t_prefill = Clock::now();
    InferenceResult* inf = cuda_inference_start_ex(model, prompt.c_str(), &params, &err);
    const double prefill_s = seconds_since(t_prefill);
    if (inf == nullptr) {
        std::fprintf(stderr, "error: %s: %s\n", cuda_error_message(err), cuda_last_error_detail());
        rc = 1;
    } else {
        const auto t_decode = Clock::now();
        std::vector<char> buffer(256);
        int index = -1;
        for (;;) {
            int piece_index = 0;
            if (cuda_inference_next_token(inf, buffer.data(), static_cast<int>(buffer.size()), &piece_index, &err)) {
                std::fputs(buffer.data(), stdout);
                std::fflush(stdout);
                index = piece_index;
            } else if (err == CUDA_ERROR_INVALID_PARAMETER && buffer.size() < (1u << 20)) {
                buffer.resize(buffer.size() * 4);  // the piece is kept: ask again with room for it
            } else {
                if (err != CUDA_SUCCESS) {
                    std::fprintf(stderr, "\nerror: %s: %s\n", cuda_error_message(err), cuda_last_error_detail());
                    rc = 1;
                }
                break;
            }
        }
        print_summary(load_s, prefill_s, seconds_since(t_decode), index + 1);
        cuda_inference_free(inf);
    }
    cuda_unload_model(model);
    cuda_destroy(ctx);
    return rc;
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

int run_ids(const GenerateOptions& o, const std::string& prompt) {
    const auto t_load = Clock::now();
    auto model = Model::load(Context::create(o.device), o.model);
    const double load_s = seconds_since(t_load);
    if (!o.dump_dir.empty()) {
        model->transformer().set_tap(dump_tap(o.dump_dir, model->transformer().backend()));
    }
    SamplingParams p;
    p.max_tokens = o.params.max_tokens;
    p.temperature = o.params.temperature;
    p.seed = o.params.seed;
    p.top_k = o.params.top_k;
    p.top_p = o.params.top_p;
    p.min_p = o.params.min_p;
    p.repetition_penalty = o.params.repetition_penalty;
    p.stop = o.stop;
    const auto t_prefill = Clock::now();
    auto inference = Inference::start(model, prompt, p);
    const double prefill_s = seconds_since(t_prefill);
    std::fprintf(stderr, "prompt ids:");
    for (const int32_t id : inference->prompt_tokens()) std::fprintf(stderr, " %d", id);
    std::fprintf(stderr, "\n");
    const auto t_decode = Clock::now();
    size_t printed = 0;
    for (;;) {
        const bool more = inference->peek() != nullptr;
        const std::vector<int32_t>& ids = inference->generated_tokens();
        for (; printed < ids.size(); ++printed) std::printf("%s%d", printed ? " " : "", ids[printed]);
        std::fflush(stdout);
        if (!more) break;
        inference->pop();
    }
    std::printf("\n");
    print_summary(load_s, prefill_s, seconds_since(t_decode), static_cast<int>(printed));
    return 0;
}

int run_generate(const std::vector<std::string>& args) {
    GenerateOptions o = parse(args);
    if (o.model.empty()) o.model = default_model_path();
    if (!o.have_device) o.device = default_device();
    const std::string prompt = o.chat ? apply_chat_template(o.model, o.prompt) : o.prompt;
    return o.ids ? run_ids(o, prompt) : run_text(o, prompt);
}

const bool registered = register_command({"generate", "generate text from a prompt", &run_generate});

}  // namespace
}  // namespace worker::cli
