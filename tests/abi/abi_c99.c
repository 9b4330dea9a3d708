/* A C99 program that includes only the public header, calls every function of
 * the ABI and checks the documented results. Exit status 0 means all passed. */
#include <stdio.h>
#include <string.h>

#include "worker_ffi.h"

static int failures = 0;
static int log_calls = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                              \
        }                                                                            \
    } while (0)

static void count_log(int level, const char* message, void* user_data) {
    if (level >= WORKER_LOG_ERROR && level <= WORKER_LOG_DEBUG && message != NULL && user_data == &log_calls) {
        ++log_calls;
    }
}

static void check_versions_and_messages(int devices) {
    WorkerInferenceParams params = WORKER_INFERENCE_PARAMS_INIT;
    CHECK((cuda_api_version() >> 16) == WORKER_VERSION_MAJOR);
    CHECK(cuda_api_version() == WORKER_VERSION_NUMBER);
    CHECK(devices >= 0);
    CHECK(strcmp(cuda_error_message(CUDA_SUCCESS), "success") == 0);
    CHECK(strlen(cuda_error_message(12345)) > 0);
    CHECK(params.struct_size == sizeof(WorkerInferenceParams));
}

static void check_device_ids(int devices) {
    int err = -1;
    if (devices == 0) {
        CHECK(cuda_init(0, &err) == NULL && err == CUDA_ERROR_DEVICE_NOT_FOUND);
        CHECK(strlen(cuda_last_error_detail()) > 0);
    }
    CHECK(cuda_init(-2, &err) == NULL && err == CUDA_ERROR_INVALID_DEVICE);
    CHECK(cuda_init(devices, &err) == NULL && (err == CUDA_ERROR_INVALID_DEVICE || err == CUDA_ERROR_DEVICE_NOT_FOUND));
}

/* cuda_init_ex: NULL is cuda_init; the macro's defaults; a bad field. */
static void check_context_settings(void) {
    int err = -1;
    WorkerContextParams settings = WORKER_CONTEXT_PARAMS_INIT;
    CudaContext* tuned;
    CHECK(settings.struct_size == sizeof(WorkerContextParams));
    CHECK(settings.cpu_isa == WORKER_CPU_ISA_AUTO && settings.log_level == WORKER_LOG_DEFAULT);
    tuned = cuda_init_ex(WORKER_DEVICE_CPU, NULL, &err);
    CHECK(tuned != NULL && err == CUDA_SUCCESS);
    cuda_destroy(tuned);
    settings.cpu_threads = 2;
    settings.cpu_isa = WORKER_CPU_ISA_SCALAR;
    settings.cpu_weights = WORKER_CPU_WEIGHTS_PRIVATE;
    settings.log_callback = count_log;
    settings.log_user_data = &log_calls;
    settings.log_level = WORKER_LOG_INFO;
    tuned = cuda_init_ex(WORKER_DEVICE_CPU, &settings, &err);
    CHECK(tuned != NULL && err == CUDA_SUCCESS);
    /* The load's first step is reported before the missing file is. */
    CHECK(cuda_load_model(tuned, "/nonexistent/model.gguf", NULL, &err) == NULL && log_calls == 1);
    cuda_destroy(tuned);
    settings.cpu_threads = -1;
    CHECK(cuda_init_ex(WORKER_DEVICE_CPU, &settings, &err) == NULL && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(strstr(cuda_last_error_detail(), "params->cpu_threads is -1") != NULL);
    CHECK(cuda_init_ex(WORKER_DEVICE_CPU, NULL, NULL) == NULL);
}

static void check_loading(CudaContext* ctx) {
    int err = -1;
    uint64_t vram = 7;
    WorkerLoadParams load = WORKER_LOAD_PARAMS_INIT;
    CudaModel* model = cuda_load_model(ctx, "/nonexistent/model.gguf", &vram, &err);
    CHECK(model == NULL && err == CUDA_ERROR_MODEL_LOAD_FAILED && vram == 0);
    CHECK(strstr(cuda_last_error_detail(), "/nonexistent/model.gguf") != NULL);
    CHECK(cuda_load_model(NULL, "x", NULL, &err) == NULL && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(cuda_load_model(ctx, NULL, NULL, &err) == NULL && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(load.struct_size == sizeof(WorkerLoadParams) && load.progress == NULL);
    CHECK(cuda_load_model_ex(ctx, "/nonexistent/model.gguf", &load, NULL, &err) == NULL &&
          err == CUDA_ERROR_MODEL_LOAD_FAILED);
}

/* Every call that takes a model or an inference refuses NULL. */
static void check_null_handles(void) {
    int err = -1;
    char piece[64];
    int index = 0;
    int32_t ids[4];
    WorkerInferenceParams params = WORKER_INFERENCE_PARAMS_INIT;
    WorkerInferenceInfo info = WORKER_INFERENCE_INFO_INIT;
    WorkerModelInfo model_info = WORKER_MODEL_INFO_INIT;
    WorkerChatMessage message = {"user", "hi"};
    WorkerTokenLogprob top[2];
    CHECK(cuda_model_get_vram_usage(NULL) == 0);
    CHECK(cuda_get_vram_usage(NULL) == 0);
    CHECK(cuda_inference_start(NULL, "hi", 4, 0.0f, 1, &err) == NULL && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(cuda_inference_start_ex(NULL, "hi", &params, &err) == NULL && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(!cuda_inference_next_token(NULL, piece, (int)sizeof piece, &index, &err) &&
          err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(!cuda_check_vram_residency(NULL, &err) && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(!cuda_check_device_health(NULL, &err) && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(cuda_get_process_vram_usage(NULL) == 0);
    CHECK(!cuda_inference_cancel(NULL, &err) && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(!cuda_inference_get_info(NULL, &info, &err) && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(cuda_inference_next_token_size(NULL, &err) == -1 && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(cuda_inference_get_logprobs(NULL, 0, NULL, top, 2, &err) == -1 && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(cuda_tokenize(NULL, "hi", true, true, ids, 4, &err) == -1 && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(cuda_detokenize(NULL, ids, 0, false, piece, (int64_t)sizeof piece, &err) == -1 &&
          err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(!cuda_model_get_info(NULL, &model_info, &err) && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(cuda_chat_apply_template(NULL, &message, 1, NULL, NULL, 0, &err) == -1 &&
          err == CUDA_ERROR_INVALID_PARAMETER);
    cuda_inference_free(NULL);
    cuda_unload_model(NULL);
}

int main(void) {
    int err = -1;
    CudaContext* ctx;
    const int devices = cuda_get_device_count();

    check_versions_and_messages(devices);
    ctx = cuda_init(WORKER_DEVICE_CPU, &err);
    CHECK(ctx != NULL && err == CUDA_SUCCESS);
    CHECK(strcmp(cuda_last_error_detail(), "") == 0);
    CHECK(cuda_check_device_health(ctx, &err) && err == CUDA_SUCCESS);
    CHECK(cuda_get_process_vram_usage(ctx) > 0);
    check_device_ids(devices);
    check_context_settings();
    check_loading(ctx);
    check_null_handles();

    cuda_destroy(ctx);
    /* A destroyed handle is recognised, not dereferenced. */
    CHECK(!cuda_check_device_health(ctx, &err) && err == CUDA_ERROR_INVALID_PARAMETER);
    cuda_destroy(ctx);
    cuda_destroy(NULL);

    if (failures == 0) printf("abi_c99: all checks passed\n");
    return failures == 0 ? 0 : 1;
}
