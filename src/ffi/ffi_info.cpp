// The ABI's 0.3 additions: an inference's usage, finish reason, cancel and
// log-probabilities; tokenize/detokenize; model facts; chat templates.
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "core/versioned.h"
#include "ffi/boundary.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "worker_ffi.h"

namespace worker::ffi {
namespace {

// The caller's struct_size must reach at least `minimum` bytes; the library
// fills what fits (a caller built against a newer, larger struct gets the
// fields this library knows).
void check_struct_size(uint32_t size, size_t minimum, const char* what) {
    if (size < minimum)
        fail(CUDA_ERROR_INVALID_PARAMETER, what, "->struct_size is ", size, ", expected at least ", minimum);
}

// Copies the first `size` bytes of `full` (a fully filled struct) to `out`,
// keeping out->struct_size.
template <typename T>
void fill(T* out, const T& full) {
    const size_t size = std::min<size_t>(out->struct_size, sizeof(T));
    const uint32_t caller_size = out->struct_size;
    std::memcpy(out, &full, size);
    out->struct_size = caller_size;
}

std::string text_of(const char* text, const char* what) {
    if (text == nullptr) fail(CUDA_ERROR_INVALID_PARAMETER, what, " is NULL");
    if (!tokenizer::utf8_is_valid(text)) fail(CUDA_ERROR_INVALID_PARAMETER, what, " is not valid UTF-8");
    return text;
}

std::vector<chat::Message> chat_messages(const WorkerChatMessage* messages, int32_t n_messages) {
    if (n_messages < 0) fail(CUDA_ERROR_INVALID_PARAMETER, "n_messages must be >= 0, got ", n_messages);
    if (n_messages > 0 && messages == nullptr) invalid("messages is NULL while n_messages > 0");
    std::vector<chat::Message> out;
    for (int32_t i = 0; i < n_messages; ++i) {
        const std::string at = str_cat("messages[", i, "]");
        chat::Message m;
        m.role = text_of(messages[i].role, (at + ".role").c_str());
        if (m.role.empty()) fail(CUDA_ERROR_INVALID_PARAMETER, at, ".role is empty");
        if (messages[i].content != nullptr) m.content = text_of(messages[i].content, (at + ".content").c_str());
        out.push_back(std::move(m));
    }
    return out;
}

std::string render_chat(const Model& model, const WorkerChatMessage* messages, int32_t n_messages,
                        const WorkerChatParams* given) {
    WorkerChatParams p = WORKER_CHAT_PARAMS_INIT;
    if (given != nullptr)
        p = read_versioned(*given, p, offsetof(WorkerChatParams, add_generation_prompt) + sizeof(int32_t));
    if (p.add_generation_prompt != 0 && p.add_generation_prompt != 1) {
        fail(CUDA_ERROR_INVALID_PARAMETER, "params->add_generation_prompt must be 0 or 1, got ",
             p.add_generation_prompt);
    }
    const ModelFacts& facts = model.facts();
    std::string source;
    if (p.template_text != nullptr) {
        source = text_of(p.template_text, "params->template_text");
    } else if (facts.has_chat_template) {
        source = facts.chat_template;
    } else {
        fail(CUDA_ERROR_INVALID_PARAMETER, "the model file has no tokenizer.chat_template; pass params->template_text");
    }
    chat::ChatOptions options;
    options.add_generation_prompt = p.add_generation_prompt == 1;
    const tokenizer::Tokenizer& tok = model.tokenizer();
    if (tok.bos_id() >= 0) options.bos_token = tok.token_text(tok.bos_id());
    if (tok.eos_id() >= 0) options.eos_token = tok.token_text(tok.eos_id());
    if (p.tools_json != nullptr) options.tools_json = text_of(p.tools_json, "params->tools_json");
    if (p.extra_json != nullptr) options.extra_context_json = text_of(p.extra_json, "params->extra_json");
    return chat::render_chat(source, chat_messages(messages, n_messages), options);
}

}  // namespace
}  // namespace worker::ffi

using namespace worker;
using namespace worker::ffi;

#pragma GCC visibility push(default)
extern "C" {

bool cuda_inference_cancel(InferenceResult* result, int* error_code) {
    return guarded<bool>(error_code, false, [&] {
        live_inference(result)->cancel();
        return true;
    });
}

bool cuda_inference_get_info(InferenceResult* result, WorkerInferenceInfo* info, int* error_code) {
    if (missing_error_code(error_code, "cuda_inference_get_info")) return false;
    return guarded<bool>(error_code, false, [&] {
        const std::shared_ptr<Inference> inference = live_inference(result);
        if (info == nullptr) invalid("info is NULL");
        check_struct_size(info->struct_size, offsetof(WorkerInferenceInfo, finish_reason) + sizeof(int32_t), "info");
        Inference::Info now;
        {
            std::lock_guard<std::mutex> lock(inference->call_mutex());
            now = inference->info();
        }
        WorkerInferenceInfo full = WORKER_INFERENCE_INFO_INIT;
        full.prompt_tokens = now.prompt_tokens;
        full.generated_tokens = now.generated_tokens;
        full.finish_reason = static_cast<int32_t>(now.finish_reason);
        full.last_token_id = now.last_token;
        full.error_code = now.error;
        fill(info, full);
        return true;
    });
}

int32_t cuda_inference_next_token_size(InferenceResult* result, int* error_code) {
    if (missing_error_code(error_code, "cuda_inference_next_token_size")) return -1;
    return guarded<int32_t>(error_code, -1, [&] {
        const std::shared_ptr<Inference> inference = live_inference(result);
        std::lock_guard<std::mutex> lock(inference->call_mutex());
        const Inference::Piece* piece = inference->peek();
        return piece == nullptr ? 0 : static_cast<int32_t>(piece->text.size() + 1);
    });
}

int32_t cuda_inference_get_logprobs(InferenceResult* result, int32_t token_index, WorkerTokenLogprob* chosen,
                                    WorkerTokenLogprob* top, int32_t top_capacity, int* error_code) {
    if (missing_error_code(error_code, "cuda_inference_get_logprobs")) return -1;
    return guarded<int32_t>(error_code, -1, [&] {
        const std::shared_ptr<Inference> inference = live_inference(result);
        if (top_capacity < 0) fail(CUDA_ERROR_INVALID_PARAMETER, "top_capacity must be >= 0, got ", top_capacity);
        if (top == nullptr && top_capacity > 0) invalid("top is NULL while top_capacity > 0");
        std::lock_guard<std::mutex> lock(inference->call_mutex());
        const StepLogprobs& step = inference->logprobs(token_index);
        if (chosen != nullptr) *chosen = {step.chosen.id, step.chosen.logprob};
        const auto n = static_cast<int32_t>(step.top.size());
        for (int32_t i = 0; i < std::min(n, top_capacity); ++i) {
            top[i] = {step.top[static_cast<size_t>(i)].id, step.top[static_cast<size_t>(i)].logprob};
        }
        return n;
    });
}

int32_t cuda_tokenize(CudaModel* model, const char* text, bool add_special, bool parse_special, int32_t* tokens,
                      int32_t capacity, int* error_code) {
    if (missing_error_code(error_code, "cuda_tokenize")) return -1;
    const int32_t needed = guarded<int32_t>(error_code, -1, [&] {
        const std::shared_ptr<Model> impl = live_model(model);
        const std::string input = text_of(text, "text");
        check_buffer(tokens, capacity, "tokens");
        const std::vector<int32_t> ids = impl->tokenizer().encode(input, add_special, parse_special);
        if (ids.size() > static_cast<size_t>(INT32_MAX)) fail(CUDA_ERROR_INVALID_PARAMETER, "text has too many tokens");
        const auto n = static_cast<int32_t>(ids.size());
        if (tokens != nullptr && n <= capacity) std::memcpy(tokens, ids.data(), ids.size() * sizeof(int32_t));
        return n;
    });
    check_fits(error_code, needed, tokens, capacity, "tokens");
    return needed;
}

int64_t cuda_detokenize(CudaModel* model, const int32_t* tokens, int32_t n_tokens, bool render_special, char* text_out,
                        int64_t capacity, int* error_code) {
    if (missing_error_code(error_code, "cuda_detokenize")) return -1;
    const int64_t needed = guarded<int64_t>(error_code, -1, [&] {
        const std::shared_ptr<Model> impl = live_model(model);
        if (n_tokens < 0) fail(CUDA_ERROR_INVALID_PARAMETER, "n_tokens must be >= 0, got ", n_tokens);
        if (n_tokens > 0 && tokens == nullptr) invalid("tokens is NULL while n_tokens > 0");
        check_buffer(text_out, capacity, "text_out");
        const tokenizer::Tokenizer& tok = impl->tokenizer();
        std::vector<int32_t> ids(tokens, tokens + n_tokens);
        for (int32_t i = 0; i < n_tokens; ++i) {
            if (ids[static_cast<size_t>(i)] < 0 || ids[static_cast<size_t>(i)] >= tok.n_vocab()) {
                fail(CUDA_ERROR_INVALID_PARAMETER, "tokens[", i, "] is ", ids[static_cast<size_t>(i)],
                     ", outside the vocabulary [0, ", tok.n_vocab(), ")");
            }
        }
        tokenizer::Utf8Stream whole;
        std::string text = whole.push(tok.decode(ids, render_special));
        text += whole.finish();
        return copy_out(text, text_out, capacity);
    });
    check_fits(error_code, needed, text_out, capacity, "text_out");
    return needed;
}

bool cuda_model_get_info(CudaModel* model, WorkerModelInfo* info, int* error_code) {
    if (missing_error_code(error_code, "cuda_model_get_info")) return false;
    return guarded<bool>(error_code, false, [&] {
        const std::shared_ptr<Model> impl = live_model(model);
        if (info == nullptr) invalid("info is NULL");
        check_struct_size(info->struct_size, offsetof(WorkerModelInfo, architecture) + sizeof(const char*), "info");
        const ModelFacts& facts = impl->facts();
        const model::Config& config = impl->config();
        const tokenizer::Tokenizer& tok = impl->tokenizer();
        WorkerModelInfo full = WORKER_MODEL_INFO_INIT;
        full.architecture = facts.architecture.c_str();
        full.name = facts.name.c_str();
        full.chat_template = facts.has_chat_template ? facts.chat_template.c_str() : nullptr;
        full.weight_types = facts.weight_types.c_str();
        full.context_length = config.context_length;
        full.vocab_size = tok.n_vocab();
        full.bos_token_id = tok.bos_id();
        full.eos_token_id = tok.eos_id();
        full.eog_token_ids = facts.eog_ids.data();
        full.n_eog_token_ids = static_cast<int32_t>(facts.eog_ids.size());
        full.n_layers = static_cast<int32_t>(config.block_count);
        full.n_embd = static_cast<int32_t>(config.embedding_length);
        full.n_heads = static_cast<int32_t>(config.head_count);
        full.n_kv_heads = static_cast<int32_t>(config.head_count_kv);
        full.n_params = facts.n_params;
        full.weight_bytes = impl->weight_bytes();
        fill(info, full);
        return true;
    });
}

int64_t cuda_chat_apply_template(CudaModel* model, const WorkerChatMessage* messages, int32_t n_messages,
                                 const WorkerChatParams* params, char* text_out, int64_t capacity, int* error_code) {
    if (missing_error_code(error_code, "cuda_chat_apply_template")) return -1;
    const int64_t needed = guarded<int64_t>(error_code, -1, [&] {
        const std::shared_ptr<Model> impl = live_model(model);
        check_buffer(text_out, capacity, "text_out");
        return copy_out(render_chat(*impl, messages, n_messages, params), text_out, capacity);
    });
    check_fits(error_code, needed, text_out, capacity, "text_out");
    return needed;
}

}  // extern "C"
#pragma GCC visibility pop
