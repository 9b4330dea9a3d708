/* A C99 program that includes only the public header, calls every function of
 * the ABI and checks the documented results. Exit status 0 means all passed. */
#include <stdio.h>
#include <string.h>

#include "worker_ffi.h"

static int failures = 0;
static int log_calls = 0;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                    \
        }                                                                  \
    } while (0)

static void count_log(int level, const char* message, void* user_data) {
    if (level >= WORKER_LOG_ERROR && level <= WORKER_LOG_DEBUG && message != NULL && user_data == &log_calls) {
        ++log_calls;
    }
}

int main(void) {
    int err = -1;
    char piece[64];
    int index = 0;
    WorkerInferenceParams params = WORKER_INFERENCE_PARAMS_INIT;
    CudaContext* ctx;
    CudaModel* model;
    InferenceResult* inference;
    uint64_t vram = 7;
    WorkerContextParams settings = WORKER_CONTEXT_PARAMS_INIT;
    CudaContext* tuned;
    const int devices = cuda_get_device_count();

    CHECK((cuda_api_version() >> 16) == WORKER_VERSION_MAJOR);
    CHECK(cuda_api_version() == WORKER_VERSION_NUMBER);
    CHECK(devices >= 0);
    CHECK(strcmp(cuda_error_message(CUDA_SUCCESS), "success") == 0);
    CHECK(strlen(cuda_error_message(12345)) > 0);
    CHECK(params.struct_size == sizeof(WorkerInferenceParams));

    ctx = cuda_init(WORKER_DEVICE_CPU, &err);
    CHECK(ctx != NULL && err == CUDA_SUCCESS);
    CHECK(strcmp(cuda_last_error_detail(), "") == 0);
    CHECK(cuda_check_device_health(ctx, &err) && err == CUDA_SUCCESS);
    CHECK(cuda_get_process_vram_usage(ctx) > 0);

    if (devices == 0) {
        CHECK(cuda_init(0, &err) == NULL && err == CUDA_ERROR_DEVICE_NOT_FOUND);
        CHECK(strlen(cuda_last_error_detail()) > 0);
    }
    CHECK(cuda_init(-2, &err) == NULL && err == CUDA_ERROR_INVALID_DEVICE);
    CHECK(cuda_init(devices, &err) == NULL && (err == CUDA_ERROR_INVALID_DEVICE || err == CUDA_ERROR_DEVICE_NOT_FOUND));

    /* cuda_init_ex: NULL is cuda_init; the macro's defaults; a bad field. */
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

    model = cuda_load_model(ctx, "/nonexistent/model.gguf", &vram, &err);
    CHECK(model == NULL && err == CUDA_ERROR_MODEL_LOAD_FAILED && vram == 0);
    CHECK(strstr(cuda_last_error_detail(), "/nonexistent/model.gguf") != NULL);
    CHECK(cuda_load_model(NULL, "x", NULL, &err) == NULL && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(cuda_load_model(ctx, NULL, NULL, &err) == NULL && err == CUDA_ERROR_INVALID_PARAMETER);

    CHECK(cuda_model_get_vram_usage(NULL) == 0);
    CHECK(cuda_get_vram_usage(NULL) == 0);
    CHECK(cuda_inference_start(NULL, "hi", 4, 0.0f, 1, &err) == NULL && err == CUDA_ERROR_INVALID_PARAMETER);
    inference = cuda_inference_start_ex(NULL, "hi", &params, &err);
    CHECK(inference == NULL && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(!cuda_inference_next_token(NULL, piece, (int)sizeof piece, &index, &err) && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(!cuda_check_vram_residency(NULL, &err) && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(!cuda_check_device_health(NULL, &err) && err == CUDA_ERROR_INVALID_PARAMETER);
    CHECK(cuda_get_process_vram_usage(NULL) == 0);

    cuda_inference_free(NULL);
    cuda_unload_model(NULL);
    cuda_destroy(ctx);
    /* A destroyed handle is recognised, not dereferenced. */
    CHECK(!cuda_check_device_health(ctx, &err) && err == CUDA_ERROR_INVALID_PARAMETER);
    cuda_destroy(ctx);
    cuda_destroy(NULL);

    if (failures == 0) printf("abi_c99: all checks passed\n");
    return failures == 0 ? 0 : 1;
}
