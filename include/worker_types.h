/**
 * @file worker_types.h
 * @brief Handle, constant and parameter types of the worker_cuda C ABI.
 */
#ifndef WORKER_TYPES_H
#define WORKER_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Major version of the API these headers describe. */
#define WORKER_VERSION_MAJOR 0
/** @brief Minor version of the API these headers describe. */
#define WORKER_VERSION_MINOR 2
/** @brief Patch version of the API these headers describe. */
#define WORKER_VERSION_PATCH 0
/** @brief The version packed as cuda_api_version() returns it. */
#define WORKER_VERSION_NUMBER \
    ((WORKER_VERSION_MAJOR << 16) | (WORKER_VERSION_MINOR << 8) | WORKER_VERSION_PATCH)

/**
 * @brief Device id that selects the CPU reference device in cuda_init().
 *
 * The CPU device runs the same models with the same results (within
 * floating-point tolerance) as a CUDA device. It is only ever used when asked
 * for explicitly, never as a fallback.
 */
#define WORKER_DEVICE_CPU (-1)

/**
 * @brief Opaque handle to a device context, created by cuda_init() and freed
 *        by cuda_destroy().
 */
typedef struct CudaContext CudaContext;

/**
 * @brief Opaque handle to a model loaded on a context's device, created by
 *        cuda_load_model() and freed by cuda_unload_model().
 */
typedef struct CudaModel CudaModel;

/**
 * @brief Opaque handle to one running generation, created by
 *        cuda_inference_start() or cuda_inference_start_ex() and freed by
 *        cuda_inference_free().
 */
typedef struct InferenceResult InferenceResult;

/**
 * @brief Full sampling control for cuda_inference_start_ex().
 *
 * Initialise with ::WORKER_INFERENCE_PARAMS_INIT and change the fields you
 * need. `struct_size` must be `sizeof(WorkerInferenceParams)` as the caller
 * was compiled; it lets the library accept callers built against older,
 * shorter versions of this struct (fields past `struct_size` take their
 * defaults).
 *
 * Sampling runs in this order: repetition penalty, temperature, top-k, top-p,
 * min-p, then a draw seeded by `seed`.
 */
typedef struct WorkerInferenceParams {
    uint32_t struct_size;     /**< sizeof(WorkerInferenceParams) as compiled by the caller. */
    int32_t max_tokens;       /**< Tokens to generate at most, >= 1. */
    float temperature;        /**< 0 = greedy (argmax, ties to the lowest id); range [0, 2]. */
    uint64_t seed;            /**< Seed of the random draw; same seed, same tokens. */
    int32_t top_k;            /**< Keep the k most likely tokens; 0 = off; >= 0. */
    float top_p;              /**< Nucleus mass to keep, in (0, 1]; 1 = off. */
    float min_p;              /**< Drop tokens below min_p times the top probability, in [0, 1); 0 = off. */
    float repetition_penalty; /**< > 0; 1 = off. Applied to prompt and generated tokens. */
    const char* const* stop;  /**< UTF-8 stop strings, or NULL. Not copied past the start call. */
    int32_t n_stop;           /**< Number of entries in `stop`, >= 0. */
    /** 1: special-token text in the prompt (`<|im_start|>`, `<bos>`, ...) becomes
     *  those tokens, so a caller can apply a chat template itself; 0: the prompt
     *  is plain text (user text passed literally); other values are refused.
     *  Added in 0.2: callers built against 0.1 get 1. */
    int32_t parse_special;
} WorkerInferenceParams;

/**
 * @brief Default parameters: 128 tokens, temperature 0.8, seed 0, top-k 40,
 *        top-p 0.95, min-p 0.05, no repetition penalty, no stop strings,
 *        special-token text parsed.
 */
#define WORKER_INFERENCE_PARAMS_INIT \
    { (uint32_t)sizeof(WorkerInferenceParams), 128, 0.8f, 0u, 40, 0.95f, 0.05f, 1.0f, NULL, 0, 1 }

#ifdef __cplusplus
}
#endif

#endif /* WORKER_TYPES_H */
