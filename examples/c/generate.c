/* generate: streams a completion from a GGUF model through the worker_cuda
 * C ABI.
 *
 *   generate MODEL [PROMPT] [MAX_TOKENS]
 *
 * Runs on CUDA device 0 when a GPU is present, else on the CPU reference
 * device. The completion goes to stdout as it is generated; per-token timing
 * and a summary go to stderr. Every failure is reported with its error code,
 * the code's message and the library's detail, and gives exit status 1
 * (2 for bad usage). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "worker_ffi.h"

#define DEFAULT_PROMPT "The capital of France is"
#define DEFAULT_MAX_TOKENS 32
#define MAX_PIECE_BYTES (1 << 20)

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void report(const char* call, int error_code) {
    fprintf(stderr, "generate: %s failed: %s (code %d): %s\n", call, cuda_error_message(error_code), error_code,
            cuda_last_error_detail());
}

static int parse_max_tokens(const char* text, int* max_tokens) {
    char* end;
    long value;
    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 1 || value > INT_MAX) return 0;
    *max_tokens = (int)value;
    return 1;
}

/* Streams every token of `inference` to stdout. Returns 1 on success. */
static int stream(InferenceResult* inference, double started_ms) {
    size_t capacity = 256;
    char* piece = malloc(capacity);
    double last_ms = started_ms;
    double first_token_ms = 0.0;
    int generated = 0;
    int ok = 1;
    int err = CUDA_SUCCESS;
    int index = 0;

    if (piece == NULL) {
        fprintf(stderr, "generate: out of memory\n");
        return 0;
    }
    for (;;) {
        double t;
        if (!cuda_inference_next_token(inference, piece, (int)capacity, &index, &err)) {
            if (err == CUDA_SUCCESS) break; /* complete */
            if (err == CUDA_ERROR_INVALID_PARAMETER && capacity < MAX_PIECE_BYTES) {
                /* The piece did not fit; the library keeps it for the retry. */
                char* larger = realloc(piece, capacity * 2);
                if (larger == NULL) {
                    fprintf(stderr, "generate: out of memory\n");
                    ok = 0;
                    break;
                }
                piece = larger;
                capacity *= 2;
                continue;
            }
            report("cuda_inference_next_token", err);
            ok = 0;
            break;
        }
        t = now_ms();
        fputs(piece, stdout);
        fflush(stdout);
        fprintf(stderr, "[token %3d] %8.2f ms\n", index, t - last_ms);
        if (generated == 0) first_token_ms = t - started_ms;
        last_ms = t;
        ++generated;
    }
    putchar('\n');
    if (generated > 1) {
        const double decode_ms = last_ms - started_ms - first_token_ms;
        fprintf(stderr, "generate: %d tokens; first token %.2f ms, then %.2f tokens/s\n", generated, first_token_ms,
                (generated - 1) * 1e3 / decode_ms);
    } else {
        fprintf(stderr, "generate: %d token(s)\n", generated);
    }
    free(piece);
    return ok;
}

int main(int argc, char** argv) {
    const char* model_path;
    const char* prompt = DEFAULT_PROMPT;
    int max_tokens = DEFAULT_MAX_TOKENS;
    int device;
    int err = CUDA_SUCCESS;
    int status = 1;
    uint64_t weight_bytes = 0;
    double t0, t1, t2;
    CudaContext* ctx = NULL;
    CudaModel* model = NULL;
    InferenceResult* inference = NULL;

    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s MODEL [PROMPT] [MAX_TOKENS]\n", argv[0]);
        return 2;
    }
    model_path = argv[1];
    if (argc > 2) prompt = argv[2];
    if (argc > 3 && !parse_max_tokens(argv[3], &max_tokens)) {
        fprintf(stderr, "generate: MAX_TOKENS must be an integer in [1, %d], not '%s'\n", INT_MAX, argv[3]);
        return 2;
    }

    device = cuda_get_device_count() > 0 ? 0 : WORKER_DEVICE_CPU;
    ctx = cuda_init(device, &err);
    if (ctx == NULL) {
        report("cuda_init", err);
        goto done;
    }
    fprintf(stderr, "generate: worker_cuda %u.%u.%u on %s\n", cuda_api_version() >> 16,
            (cuda_api_version() >> 8) & 0xFF, cuda_api_version() & 0xFF, device >= 0 ? "CUDA device 0" : "CPU");

    t0 = now_ms();
    model = cuda_load_model(ctx, model_path, &weight_bytes, &err);
    if (model == NULL) {
        report("cuda_load_model", err);
        goto done;
    }
    t1 = now_ms();
    fprintf(stderr, "generate: loaded %s (%.1f MiB of weights) in %.1f ms\n", model_path,
            (double)weight_bytes / (1024.0 * 1024.0), t1 - t0);

    inference = cuda_inference_start(model, prompt, max_tokens, 0.0f, 0, &err);
    if (inference == NULL) {
        report("cuda_inference_start", err);
        goto done;
    }
    t2 = now_ms();
    fprintf(stderr, "generate: prompt evaluated in %.1f ms\n", t2 - t1);

    fputs(prompt, stdout);
    if (stream(inference, t2)) status = 0;

done:
    cuda_inference_free(inference);
    cuda_unload_model(model);
    cuda_destroy(ctx);
    return status;
}
