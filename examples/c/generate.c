/* generate: streams a completion or a chat reply from a GGUF model through
 * the worker_cuda C ABI.
 *
 *   generate [--chat] [--system TEXT] [--timeout MS] MODEL [PROMPT] [MAX_TOKENS]
 *
 * Runs on CUDA device 0 when a GPU is present, else on the CPU reference
 * device. Prints what the model is (cuda_model_get_info) to stderr. Without
 * --chat, PROMPT is completed as it is and echoed before the completion; with
 * --chat, PROMPT is a user message (after a --system message, if given) that
 * the chat template in the model's own file turns into the prompt
 * (cuda_chat_apply_template), and only the reply is printed. --timeout
 * cancels the generation from a second thread (cuda_inference_cancel) when it
 * runs longer than MS milliseconds, prompt evaluation included.
 *
 * The text goes to stdout as it is generated; per-token timing, the finish
 * reason and the token counts (cuda_inference_get_info) go to stderr. Every
 * failure is reported with its error code, the code's message and the
 * library's detail, and gives exit status 1 (2 for bad usage). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "worker_ffi.h"

#define DEFAULT_PROMPT "The capital of France is"
#define DEFAULT_MAX_TOKENS 32

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void report(const char* call, int error_code) {
    fprintf(stderr, "generate: %s failed: %s (code %d): %s\n", call, cuda_error_message(error_code), error_code,
            cuda_last_error_detail());
}

/* An integer in [low, INT_MAX]; 0 when `text` is not one. */
static int parse_int(const char* text, int low, int* out) {
    char* end;
    long value;
    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < low || value > INT_MAX) return 0;
    *out = (int)value;
    return 1;
}

static const char* finish_reason_name(int32_t reason) {
    switch (reason) {
        case WORKER_FINISH_NONE: return "none";
        case WORKER_FINISH_EOS: return "eos";
        case WORKER_FINISH_MAX_TOKENS: return "max_tokens";
        case WORKER_FINISH_STOP: return "stop";
        case WORKER_FINISH_CANCELLED: return "cancelled";
        case WORKER_FINISH_ERROR: return "error";
        default: return "unknown";
    }
}

/* ---- model info ----------------------------------------------------------- */

static int show_model_info(CudaModel* model) {
    WorkerModelInfo info = WORKER_MODEL_INFO_INIT;
    int err = CUDA_SUCCESS;
    if (!cuda_model_get_info(model, &info, &err)) {
        report("cuda_model_get_info", err);
        return 0;
    }
    fprintf(stderr, "generate: model '%s', architecture %s, %d layers, %d heads (%d key/value), width %d\n",
            info.name, info.architecture, info.n_layers, info.n_heads, info.n_kv_heads, info.n_embd);
    fprintf(stderr, "generate: context length %u, vocabulary %d, BOS %d, EOS %d, %llu parameters, weights %s\n",
            info.context_length, info.vocab_size, info.bos_token_id, info.eos_token_id,
            (unsigned long long)info.n_params, info.weight_types);
    fprintf(stderr, "generate: chat template: %s\n", info.chat_template != NULL ? "in the file" : "none");
    return 1;
}

/* ---- chat --------------------------------------------------------------------- */

/* The prompt for a conversation of an optional system message and one user
 * message, rendered by the model's own chat template; NULL on failure. The
 * caller frees it. */
static char* chat_prompt(CudaModel* model, const char* system, const char* user) {
    WorkerChatMessage messages[2];
    WorkerChatParams params = WORKER_CHAT_PARAMS_INIT;
    int n = 0;
    int err = CUDA_SUCCESS;
    int64_t needed;
    char* text;

    if (system != NULL) {
        messages[n].role = "system";
        messages[n].content = system;
        ++n;
    }
    messages[n].role = "user";
    messages[n].content = user;
    ++n;
    /* First the size, then the text. */
    needed = cuda_chat_apply_template(model, messages, n, &params, NULL, 0, &err);
    if (needed < 0) {
        report("cuda_chat_apply_template", err);
        return NULL;
    }
    text = malloc((size_t)needed);
    if (text == NULL) {
        fprintf(stderr, "generate: out of memory\n");
        return NULL;
    }
    if (cuda_chat_apply_template(model, messages, n, &params, text, needed, &err) < 0 || err != CUDA_SUCCESS) {
        report("cuda_chat_apply_template", err);
        free(text);
        return NULL;
    }
    return text;
}

/* ---- cancel from a second thread ----------------------------------------------- */

struct watchdog {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int done;               /* set by the main thread when generation ended */
    int fired;              /* set by the watchdog when it cancelled */
    struct timespec deadline; /* CLOCK_REALTIME, as pthread_cond_timedwait waits */
    InferenceResult* inference;
};

static void* watchdog_main(void* arg) {
    struct watchdog* w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->done) {
        if (pthread_cond_timedwait(&w->wake, &w->lock, &w->deadline) == ETIMEDOUT) {
            if (!w->done) {
                /* Safe from any thread, while the main thread is inside
                 * cuda_inference_next_token(); it returns at the next step. */
                cuda_inference_cancel(w->inference, NULL);
                w->fired = 1;
            }
            break;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static int start_watchdog(struct watchdog* w, pthread_t* thread, InferenceResult* inference, int timeout_ms) {
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    w->inference = inference;
    clock_gettime(CLOCK_REALTIME, &w->deadline);
    w->deadline.tv_sec += timeout_ms / 1000;
    w->deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (w->deadline.tv_nsec >= 1000000000L) {
        w->deadline.tv_sec += 1;
        w->deadline.tv_nsec -= 1000000000L;
    }
    if (pthread_create(thread, NULL, watchdog_main, w) != 0) {
        fprintf(stderr, "generate: cannot start the timeout thread\n");
        return 0;
    }
    return 1;
}

/* Stops the watchdog (if it has not fired) and waits for it; returns whether it cancelled. */
static int stop_watchdog(struct watchdog* w, pthread_t thread) {
    int fired;
    pthread_mutex_lock(&w->lock);
    w->done = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(thread, NULL);
    fired = w->fired;
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    return fired;
}

/* ---- streaming ---------------------------------------------------------------------- */

/* Streams every piece of `inference` to stdout. Returns 1 on success. */
static int stream(InferenceResult* inference, double started_ms) {
    size_t capacity = 16;
    char* piece = malloc(capacity);
    double last_ms = started_ms;
    double first_token_ms = 0.0;
    int pieces = 0;
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
            int32_t needed;
            char* larger;
            if (err == CUDA_SUCCESS) break; /* complete, or cancelled */
            if (err != CUDA_ERROR_INVALID_PARAMETER) {
                report("cuda_inference_next_token", err);
                ok = 0;
                break;
            }
            /* The piece may not have fitted: the library keeps it and says
             * the size it needs. */
            needed = cuda_inference_next_token_size(inference, &err);
            if (needed <= (int32_t)capacity) {
                report("cuda_inference_next_token", CUDA_ERROR_INVALID_PARAMETER);
                ok = 0;
                break;
            }
            larger = realloc(piece, (size_t)needed);
            if (larger == NULL) {
                fprintf(stderr, "generate: out of memory\n");
                ok = 0;
                break;
            }
            piece = larger;
            capacity = (size_t)needed;
            continue;
        }
        t = now_ms();
        fputs(piece, stdout);
        fflush(stdout);
        fprintf(stderr, "[token %3d] %8.2f ms\n", index, t - last_ms);
        if (pieces == 0) first_token_ms = t - started_ms;
        last_ms = t;
        ++pieces;
    }
    putchar('\n');
    if (pieces > 1) {
        const double decode_ms = last_ms - started_ms - first_token_ms;
        fprintf(stderr, "generate: first piece after %.2f ms (prompt included), then %.2f tokens/s\n",
                first_token_ms, (pieces - 1) * 1e3 / decode_ms);
    }
    free(piece);
    return ok;
}

static int show_usage(InferenceResult* inference) {
    WorkerInferenceInfo info = WORKER_INFERENCE_INFO_INIT;
    int err = CUDA_SUCCESS;
    if (!cuda_inference_get_info(inference, &info, &err)) {
        report("cuda_inference_get_info", err);
        return 0;
    }
    fprintf(stderr, "generate: finish reason %s; prompt %d tokens, generated %d tokens, last token %d\n",
            finish_reason_name(info.finish_reason), info.prompt_tokens, info.generated_tokens, info.last_token_id);
    return 1;
}

static int usage(const char* program) {
    fprintf(stderr, "usage: %s [--chat] [--system TEXT] [--timeout MS] MODEL [PROMPT] [MAX_TOKENS]\n", program);
    return 2;
}

int main(int argc, char** argv) {
    const char* model_path;
    const char* prompt = DEFAULT_PROMPT;
    const char* system = NULL;
    char* rendered = NULL;
    int chat = 0;
    int timeout_ms = -1;
    int max_tokens = DEFAULT_MAX_TOKENS;
    int device;
    int err = CUDA_SUCCESS;
    int status = 1;
    int arg = 1;
    int watching = 0;
    uint64_t weight_bytes = 0;
    double t0, t1, t2;
    struct watchdog watchdog;
    pthread_t watchdog_thread;
    CudaContext* ctx = NULL;
    CudaModel* model = NULL;
    InferenceResult* inference = NULL;

    for (; arg < argc && strncmp(argv[arg], "--", 2) == 0; ++arg) {
        if (strcmp(argv[arg], "--chat") == 0) {
            chat = 1;
        } else if (strcmp(argv[arg], "--system") == 0 && arg + 1 < argc) {
            system = argv[++arg];
            chat = 1;
        } else if (strcmp(argv[arg], "--timeout") == 0 && arg + 1 < argc) {
            if (!parse_int(argv[++arg], 0, &timeout_ms)) {
                fprintf(stderr, "generate: --timeout must be an integer in [0, %d] (ms), not '%s'\n", INT_MAX,
                        argv[arg]);
                return 2;
            }
        } else {
            return usage(argv[0]);
        }
    }
    if (argc - arg < 1 || argc - arg > 3) return usage(argv[0]);
    model_path = argv[arg];
    if (argc - arg > 1) prompt = argv[arg + 1];
    if (argc - arg > 2 && !parse_int(argv[arg + 2], 1, &max_tokens)) {
        fprintf(stderr, "generate: MAX_TOKENS must be an integer in [1, %d], not '%s'\n", INT_MAX, argv[arg + 2]);
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
    if (!show_model_info(model)) goto done;

    if (chat) {
        rendered = chat_prompt(model, system, prompt);
        if (rendered == NULL) goto done;
        fprintf(stderr, "generate: the chat template gave a prompt of %zu bytes\n", strlen(rendered));
    }
    /* Special-token text is parsed, as the chat template's <|im_start|> needs. */
    inference = cuda_inference_start(model, chat ? rendered : prompt, max_tokens, 0.0f, 0, &err);
    if (inference == NULL) {
        report("cuda_inference_start", err);
        goto done;
    }
    t2 = now_ms();
    if (timeout_ms >= 0) {
        if (!start_watchdog(&watchdog, &watchdog_thread, inference, timeout_ms)) goto done;
        watching = 1;
    }

    if (!chat) fputs(prompt, stdout);
    if (stream(inference, t2)) status = 0;
    if (watching) {
        watching = 0;
        if (stop_watchdog(&watchdog, watchdog_thread)) {
            fprintf(stderr, "generate: cancelled after %d ms\n", timeout_ms);
        }
    }
    if (!show_usage(inference)) status = 1;

done:
    if (watching) stop_watchdog(&watchdog, watchdog_thread);
    cuda_inference_free(inference);
    cuda_unload_model(model);
    cuda_destroy(ctx);
    free(rendered);
    return status;
}
