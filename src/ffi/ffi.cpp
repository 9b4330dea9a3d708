// The extern "C" boundary: argument checks, calls into the core, and the
// translation of every exception into an error code plus a detail message.
#include <atomic>
#include <cstring>
#include <new>
#include <string>

#include "core/error.h"
#include "ffi/handles.h"
#include "worker_ffi.h"

namespace worker::ffi {

uintptr_t next_handle_value() noexcept {
    static std::atomic<uintptr_t> next{0x10000};
    return next.fetch_add(16, std::memory_order_relaxed);
}

Registry<CudaContext, Context>& contexts() {
    static auto* registry = new Registry<CudaContext, Context>();  // never destroyed: usable during exit
    return *registry;
}
Registry<CudaModel, Model>& models() {
    static auto* registry = new Registry<CudaModel, Model>();
    return *registry;
}
Registry<InferenceResult, Inference>& inferences() {
    static auto* registry = new Registry<InferenceResult, Inference>();
    return *registry;
}

namespace {

// The detail lives in a fixed thread-local buffer: recording an error never
// allocates, so it works even when memory has run out.
constexpr size_t kDetailCapacity = 4096;
thread_local char t_detail[kDetailCapacity] = "";

void set_detail(const char* text) {
    size_t n = std::strlen(text);
    if (n >= kDetailCapacity) {
        n = kDetailCapacity - 1;
        while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;  // keep UTF-8 whole
    }
    std::memcpy(t_detail, text, n);
    t_detail[n] = '\0';
}

void succeed(int* error_code) {
    t_detail[0] = '\0';
    if (error_code != nullptr) *error_code = CUDA_SUCCESS;
}

void report(int* error_code, CudaErrorCode code, const char* detail) {
    set_detail(detail);
    if (error_code != nullptr) *error_code = code;
}

// Runs `body`; any exception becomes an error code + detail and `on_error`.
template <typename Result, typename Body>
Result guarded(int* error_code, Result on_error, Body&& body) noexcept {
    try {
        Result result = body();
        succeed(error_code);
        return result;
    } catch (const Error& e) {
        report(error_code, e.code(), e.what());
    } catch (const std::bad_alloc&) {
        report(error_code, CUDA_ERROR_OUT_OF_MEMORY, "out of host memory");
    } catch (const std::exception& e) {
        report(error_code, CUDA_ERROR_UNKNOWN, "internal error: ");
        const size_t used = std::strlen(t_detail);
        std::strncat(t_detail, e.what(), kDetailCapacity - used - 1);
    } catch (...) {
        report(error_code, CUDA_ERROR_UNKNOWN, "internal error: unknown exception");
    }
    return on_error;
}

[[noreturn]] void invalid(const char* what) { fail(CUDA_ERROR_INVALID_PARAMETER, what); }

// For functions whose error_code is required: a NULL one is reported through
// the detail alone.
bool missing_error_code(int* error_code, const char* function) {
    if (error_code != nullptr) return false;
    set_detail(function);
    std::strncat(t_detail, ": error_code is NULL", kDetailCapacity - std::strlen(t_detail) - 1);
    return true;
}

std::shared_ptr<Context> live_context(CudaContext* ctx) {
    if (ctx == nullptr) invalid("context handle is NULL");
    auto impl = contexts().find(ctx);
    if (!impl) invalid("context handle is not a live context (already destroyed or never created)");
    return impl;
}

std::shared_ptr<Model> live_model(CudaModel* model) {
    if (model == nullptr) invalid("model handle is NULL");
    auto impl = models().find(model);
    if (!impl) invalid("model handle is not a live model (already unloaded or never loaded)");
    return impl;
}

std::shared_ptr<Inference> live_inference(InferenceResult* result) {
    if (result == nullptr) invalid("inference handle is NULL");
    auto impl = inferences().find(result);
    if (!impl) invalid("inference handle is not a live inference (already freed or never started)");
    return impl;
}

InferenceResult* start_inference(CudaModel* model, const char* prompt, const SamplingParams& params) {
    auto impl = live_model(model);
    if (prompt == nullptr) invalid("prompt is NULL");
    return inferences().add(Inference::start(std::move(impl), prompt, params));
}

}  // namespace
}  // namespace worker::ffi

using namespace worker;
using namespace worker::ffi;

// The library is built with hidden visibility; only these functions are
// exported, and exports.map keeps everything else local.
#pragma GCC visibility push(default)
extern "C" {

const char* cuda_error_message(int error_code) {
    switch (error_code) {
        case CUDA_SUCCESS: return "success";
        case CUDA_ERROR_INVALID_DEVICE: return "invalid device";
        case CUDA_ERROR_OUT_OF_MEMORY: return "out of memory";
        case CUDA_ERROR_MODEL_LOAD_FAILED: return "model load failed";
        case CUDA_ERROR_INFERENCE_FAILED: return "inference failed";
        case CUDA_ERROR_INVALID_PARAMETER: return "invalid parameter";
        case CUDA_ERROR_KERNEL_LAUNCH_FAILED: return "kernel launch failed";
        case CUDA_ERROR_VRAM_RESIDENCY_FAILED: return "VRAM residency check failed";
        case CUDA_ERROR_DEVICE_NOT_FOUND: return "no CUDA device found";
        case CUDA_ERROR_UNKNOWN: return "unknown error";
        default: return "unknown error code";
    }
}

const char* cuda_last_error_detail(void) { return t_detail; }

uint32_t cuda_api_version(void) { return WORKER_VERSION_NUMBER; }

int cuda_get_device_count(void) { return cuda_device_count(); }

CudaContext* cuda_init(int gpu_device, int* error_code) {
    if (missing_error_code(error_code, "cuda_init")) return nullptr;
    return guarded<CudaContext*>(error_code, nullptr, [&] {
        return contexts().add(Context::create(gpu_device));
    });
}

void cuda_destroy(CudaContext* ctx) {
    if (ctx != nullptr) contexts().remove(ctx);
}

CudaModel* cuda_load_model(CudaContext* ctx, const char* model_path, uint64_t* vram_bytes_used, int* error_code) {
    if (vram_bytes_used != nullptr) *vram_bytes_used = 0;
    if (missing_error_code(error_code, "cuda_load_model")) return nullptr;
    return guarded<CudaModel*>(error_code, nullptr, [&] {
        auto context = live_context(ctx);
        if (model_path == nullptr) invalid("model_path is NULL");
        std::shared_ptr<Model> loaded = Model::load(std::move(context), model_path);
        const uint64_t weight_bytes = loaded->weight_bytes();
        CudaModel* handle = models().add(std::move(loaded));
        if (vram_bytes_used != nullptr) *vram_bytes_used = weight_bytes;
        return handle;
    });
}

void cuda_unload_model(CudaModel* model) {
    if (model != nullptr) models().remove(model);
}

uint64_t cuda_model_get_vram_usage(CudaModel* model) {
    return guarded<uint64_t>(nullptr, 0, [&] { return live_model(model)->weight_bytes(); });
}

uint64_t cuda_get_vram_usage(CudaModel* model) {
    return guarded<uint64_t>(nullptr, 0, [&] { return live_model(model)->device_bytes(); });
}

InferenceResult* cuda_inference_start(CudaModel* model, const char* prompt, int max_tokens, float temperature,
                                      uint64_t seed, int* error_code) {
    if (missing_error_code(error_code, "cuda_inference_start")) return nullptr;
    return guarded<InferenceResult*>(error_code, nullptr, [&] {
        SamplingParams params;
        params.max_tokens = max_tokens;
        params.temperature = temperature;
        params.seed = seed;
        return start_inference(model, prompt, params);
    });
}

InferenceResult* cuda_inference_start_ex(CudaModel* model, const char* prompt, const WorkerInferenceParams* params,
                                         int* error_code) {
    if (missing_error_code(error_code, "cuda_inference_start_ex")) return nullptr;
    return guarded<InferenceResult*>(error_code, nullptr, [&] {
        if (params == nullptr) invalid("params is NULL");
        // Callers compiled against a shorter struct give a smaller struct_size:
        // fields past it keep their defaults. The first three fields are required.
        constexpr size_t kMinimumSize = offsetof(WorkerInferenceParams, seed) + sizeof(uint64_t);
        const size_t size = params->struct_size;
        if (size < kMinimumSize || size > sizeof(WorkerInferenceParams)) {
            fail(CUDA_ERROR_INVALID_PARAMETER, "params->struct_size is ", size, ", expected between ", kMinimumSize,
                 " and ", sizeof(WorkerInferenceParams));
        }
        WorkerInferenceParams p = WORKER_INFERENCE_PARAMS_INIT;
        std::memcpy(&p, params, size);
        SamplingParams sp;
        sp.max_tokens = p.max_tokens;
        sp.temperature = p.temperature;
        sp.seed = p.seed;
        sp.top_k = p.top_k;
        sp.top_p = p.top_p;
        sp.min_p = p.min_p;
        sp.repetition_penalty = p.repetition_penalty;
        if (p.parse_special != 0 && p.parse_special != 1) {
            fail(CUDA_ERROR_INVALID_PARAMETER, "params->parse_special must be 0 or 1, got ", p.parse_special);
        }
        sp.parse_special = p.parse_special == 1;
        if (p.n_stop < 0) fail(CUDA_ERROR_INVALID_PARAMETER, "params->n_stop must be >= 0, got ", p.n_stop);
        if (p.n_stop > 0 && p.stop == nullptr) invalid("params->stop is NULL while params->n_stop > 0");
        for (int32_t i = 0; i < p.n_stop; ++i) {
            if (p.stop[i] == nullptr) fail(CUDA_ERROR_INVALID_PARAMETER, "params->stop[", i, "] is NULL");
            sp.stop.emplace_back(p.stop[i]);
        }
        return start_inference(model, prompt, sp);
    });
}

bool cuda_inference_next_token(InferenceResult* result, char* token_out, int token_buffer_size, int* token_index,
                               int* error_code) {
    if (missing_error_code(error_code, "cuda_inference_next_token")) return false;
    return guarded<bool>(error_code, false, [&] {
        const std::shared_ptr<Inference> inference = live_inference(result);
        if (token_out == nullptr) invalid("token_out is NULL");
        if (token_buffer_size <= 0) {
            fail(CUDA_ERROR_INVALID_PARAMETER, "token_buffer_size must be > 0, got ", token_buffer_size);
        }
        // One caller at a time on one inference; a free on another thread
        // cancels it, and this call then returns as at the end of generation.
        std::lock_guard<std::mutex> lock(inference->call_mutex());
        const Inference::Piece* piece = inference->peek();
        if (piece == nullptr) {
            token_out[0] = '\0';
            return false;
        }
        const size_t needed = piece->text.size() + 1;
        if (needed > static_cast<size_t>(token_buffer_size)) {
            token_out[0] = '\0';
            fail(CUDA_ERROR_INVALID_PARAMETER, "token_buffer_size ", token_buffer_size, " is too small: the piece needs ",
                 needed, " bytes; call again with a larger buffer, the piece is kept");
        }
        std::memcpy(token_out, piece->text.data(), piece->text.size());
        token_out[piece->text.size()] = '\0';
        if (token_index != nullptr) *token_index = piece->index;
        inference->pop();
        return true;
    });
}

void cuda_inference_free(InferenceResult* result) {
    if (result == nullptr) return;
    // A call pulling from it on another thread keeps the inference alive
    // until it returns; cancelling makes it return at once (no piece).
    if (std::shared_ptr<Inference> inference = inferences().remove(result)) inference->cancel();
}

bool cuda_check_vram_residency(CudaModel* model, int* error_code) {
    if (missing_error_code(error_code, "cuda_check_vram_residency")) return false;
    return guarded<bool>(error_code, false, [&] { return live_model(model)->check_residency(); });
}

uint64_t cuda_get_process_vram_usage(CudaContext* ctx) {
    return guarded<uint64_t>(nullptr, 0, [&] { return live_context(ctx)->process_memory_usage(); });
}

bool cuda_check_device_health(CudaContext* ctx, int* error_code) {
    if (missing_error_code(error_code, "cuda_check_device_health")) return false;
    return guarded<bool>(error_code, false, [&] {
        live_context(ctx)->check_health();
        return true;
    });
}

}  // extern "C"
#pragma GCC visibility pop
