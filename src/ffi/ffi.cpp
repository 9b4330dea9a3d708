// The extern "C" boundary: argument checks, calls into the core, and the
// translation of every exception into an error code plus a detail message.
#include <cstddef>
#include <cstring>
#include <string>

#include "core/versioned.h"
#include "ffi/boundary.h"
#include "worker_ffi.h"

namespace worker::ffi {
namespace {

CudaModel* load_model(CudaContext* ctx, const char* model_path, const WorkerLoadParams* given,
                      uint64_t* vram_bytes_used) {
    auto context = live_context(ctx);
    if (model_path == nullptr) invalid("model_path is NULL");
    WorkerLoadParams p = WORKER_LOAD_PARAMS_INIT;
    if (given != nullptr)
        p = read_versioned(*given, p, offsetof(WorkerLoadParams, progress) + sizeof(WorkerLoadProgress));
    model::LoadProgress progress;
    if (p.progress != nullptr) {
        progress = [callback = p.progress, user = p.progress_user_data](double fraction) {
            return callback(static_cast<float>(fraction), user);
        };
    }
    std::shared_ptr<Model> loaded = Model::load(std::move(context), model_path, progress);
    const uint64_t weight_bytes = loaded->weight_bytes();
    CudaModel* handle = models().add(std::move(loaded));
    if (vram_bytes_used != nullptr) *vram_bytes_used = weight_bytes;
    return handle;
}

InferenceResult* start_inference(CudaModel* model, const char* prompt, const InferenceParams& params) {
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
        case CUDA_SUCCESS:
            return "success";
        case CUDA_ERROR_INVALID_DEVICE:
            return "invalid device";
        case CUDA_ERROR_OUT_OF_MEMORY:
            return "out of memory";
        case CUDA_ERROR_MODEL_LOAD_FAILED:
            return "model load failed";
        case CUDA_ERROR_INFERENCE_FAILED:
            return "inference failed";
        case CUDA_ERROR_INVALID_PARAMETER:
            return "invalid parameter";
        case CUDA_ERROR_KERNEL_LAUNCH_FAILED:
            return "kernel launch failed";
        case CUDA_ERROR_VRAM_RESIDENCY_FAILED:
            return "VRAM residency check failed";
        case CUDA_ERROR_DEVICE_NOT_FOUND:
            return "no CUDA device found";
        case CUDA_ERROR_UNKNOWN:
            return "unknown error";
        default:
            return "unknown error code";
    }
}

const char* cuda_last_error_detail(void) { return detail(); }

uint32_t cuda_api_version(void) { return WORKER_VERSION_NUMBER; }

int cuda_get_device_count(void) { return cuda_device_count(); }

CudaContext* cuda_init(int gpu_device, int* error_code) {
    if (missing_error_code(error_code, "cuda_init")) return nullptr;
    return guarded<CudaContext*>(error_code, nullptr, [&] { return contexts().add(Context::create(gpu_device)); });
}

CudaContext* cuda_init_ex(int device, const WorkerContextParams* params, int* error_code) {
    if (missing_error_code(error_code, "cuda_init_ex")) return nullptr;
    return guarded<CudaContext*>(
        error_code, nullptr, [&] { return contexts().add(Context::create(device, Settings::from_params(params))); });
}

void cuda_destroy(CudaContext* ctx) {
    if (ctx != nullptr) contexts().remove(ctx);
}

CudaModel* cuda_load_model(CudaContext* ctx, const char* model_path, uint64_t* vram_bytes_used, int* error_code) {
    if (vram_bytes_used != nullptr) *vram_bytes_used = 0;
    if (missing_error_code(error_code, "cuda_load_model")) return nullptr;
    return guarded<CudaModel*>(error_code, nullptr,
                               [&] { return load_model(ctx, model_path, nullptr, vram_bytes_used); });
}

CudaModel* cuda_load_model_ex(CudaContext* ctx, const char* model_path, const WorkerLoadParams* params,
                              uint64_t* vram_bytes_used, int* error_code) {
    if (vram_bytes_used != nullptr) *vram_bytes_used = 0;
    if (missing_error_code(error_code, "cuda_load_model_ex")) return nullptr;
    return guarded<CudaModel*>(error_code, nullptr,
                               [&] { return load_model(ctx, model_path, params, vram_bytes_used); });
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
        // As documented: WORKER_INFERENCE_PARAMS_INIT with these three
        // values, and top-k, top-p and min-p off.
        WorkerInferenceParams params = WORKER_INFERENCE_PARAMS_INIT;
        params.max_tokens = max_tokens;
        params.temperature = temperature;
        params.seed = seed;
        params.top_k = 0;
        params.top_p = 1.0f;
        params.min_p = 0.0f;
        return start_inference(model, prompt, InferenceParams::from_abi(&params));
    });
}

InferenceResult* cuda_inference_start_ex(CudaModel* model, const char* prompt, const WorkerInferenceParams* params,
                                         int* error_code) {
    if (missing_error_code(error_code, "cuda_inference_start_ex")) return nullptr;
    return guarded<InferenceResult*>(error_code, nullptr,
                                     [&] { return start_inference(model, prompt, InferenceParams::from_abi(params)); });
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
            fail(CUDA_ERROR_INVALID_PARAMETER, "token_buffer_size ", token_buffer_size,
                 " is too small: the piece needs ", needed,
                 " bytes; call again with a larger buffer, the piece is kept");
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
