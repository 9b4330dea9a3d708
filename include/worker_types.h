/**
 * @file worker_types.h
 * @brief Handle, constant and parameter types of the worker_cuda C ABI.
 */
#ifndef WORKER_TYPES_H
#define WORKER_TYPES_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Major version of the API these headers describe. */
#define WORKER_VERSION_MAJOR 0
/** @brief Minor version of the API these headers describe. */
#define WORKER_VERSION_MINOR 3
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
    /** 1: record the log-probability of each generated token, read with
     *  cuda_inference_get_logprobs(); 0: off. Added in 0.3. */
    int32_t logprobs;
    /** With `logprobs`: also record the `top_logprobs` most likely tokens of
     *  each step, in [0, 20]. Added in 0.3. */
    int32_t top_logprobs;
} WorkerInferenceParams;

/**
 * @brief Default parameters: 128 tokens, temperature 0.8, seed 0, top-k 40,
 *        top-p 0.95, min-p 0.05, no repetition penalty, no stop strings,
 *        special-token text parsed, no log-probabilities.
 */
#define WORKER_INFERENCE_PARAMS_INIT \
    { (uint32_t)sizeof(WorkerInferenceParams), 128, 0.8f, 0u, 40, 0.95f, 0.05f, 1.0f, NULL, 0, 1, 0, 0 }

/**
 * @brief Told how far a model load has come: `fraction` of the weights in
 *        [0, 1], the last call 1 once loaded. Return false to cancel the load.
 */
typedef bool (*WorkerLoadProgress)(float fraction, void* user_data);

/** @brief Options of cuda_load_model_ex(); ::WORKER_LOAD_PARAMS_INIT gives the defaults. */
typedef struct WorkerLoadParams {
    uint32_t struct_size;        /**< sizeof(WorkerLoadParams) as compiled by the caller. */
    WorkerLoadProgress progress; /**< Called on the loading thread as weights are loaded; NULL: none. */
    void* progress_user_data;    /**< Passed to `progress`. */
} WorkerLoadParams;

/** @brief Default load options: no progress callback. */
#define WORKER_LOAD_PARAMS_INIT { (uint32_t)sizeof(WorkerLoadParams), NULL, NULL }

/** @brief Why an inference stopped generating (WorkerInferenceInfo::finish_reason). */
typedef enum WorkerFinishReason {
    WORKER_FINISH_NONE = 0,       /**< Still generating, or text is still to be read. */
    WORKER_FINISH_EOS = 1,        /**< The model generated an end-of-generation token. */
    WORKER_FINISH_MAX_TOKENS = 2, /**< `max_tokens` tokens were generated. */
    WORKER_FINISH_STOP = 3,       /**< A stop string was generated (it is not returned). */
    WORKER_FINISH_CANCELLED = 4,  /**< cuda_inference_cancel() ended it. */
    WORKER_FINISH_ERROR = 5       /**< A step failed; `error_code` says how. */
} WorkerFinishReason;

/**
 * @brief What an inference used and why it ended: cuda_inference_get_info().
 *
 * Set `struct_size` to `sizeof(WorkerInferenceInfo)` (or use
 * ::WORKER_INFERENCE_INFO_INIT): the library fills only the fields that fit.
 */
typedef struct WorkerInferenceInfo {
    uint32_t struct_size;     /**< sizeof(WorkerInferenceInfo) as compiled by the caller. */
    int32_t prompt_tokens;    /**< Tokens of the prompt as tokenized (BOS included). */
    int32_t generated_tokens; /**< Tokens generated so far, an end-of-generation token included. */
    int32_t finish_reason;    /**< A ::WorkerFinishReason. */
    int32_t last_token_id;    /**< The last generated token's id; -1 before the first. */
    int32_t error_code;       /**< With ::WORKER_FINISH_ERROR: the step's ::CudaErrorCode; else 0. */
} WorkerInferenceInfo;

/** @brief An empty WorkerInferenceInfo with its `struct_size` set. */
#define WORKER_INFERENCE_INFO_INIT { (uint32_t)sizeof(WorkerInferenceInfo), 0, 0, 0, -1, 0 }

/** @brief A token id and its log-probability (natural log). */
typedef struct WorkerTokenLogprob {
    int32_t token_id; /**< The token. */
    float logprob;    /**< log p(token) under the model's distribution at that step. */
} WorkerTokenLogprob;

/**
 * @brief What a loaded model is: cuda_model_get_info().
 *
 * Set `struct_size` to `sizeof(WorkerModelInfo)` (or use
 * ::WORKER_MODEL_INFO_INIT). Strings and arrays belong to the model: they
 * stay valid until cuda_unload_model().
 */
typedef struct WorkerModelInfo {
    uint32_t struct_size;           /**< sizeof(WorkerModelInfo) as compiled by the caller. */
    const char* architecture;       /**< general.architecture, e.g. "llama", "qwen2", "gemma3". */
    const char* name;               /**< general.name, or "" when the file has none. */
    const char* chat_template;      /**< tokenizer.chat_template (Jinja), or NULL when the file has none. */
    const char* weight_types;       /**< Weight types and tensor counts, most first: "Q4_K:120,Q6_K:13,F32:61". */
    uint32_t context_length;        /**< Positions the model was trained for (prompt + generated tokens). */
    int32_t vocab_size;             /**< Tokens in the vocabulary. */
    int32_t bos_token_id;           /**< Beginning of sequence, or -1. */
    int32_t eos_token_id;           /**< End of sequence, or -1. */
    const int32_t* eog_token_ids;   /**< Every token that ends generation (EOS, EOT, ...). */
    int32_t n_eog_token_ids;        /**< Entries in `eog_token_ids`. */
    int32_t n_layers;               /**< Transformer blocks. */
    int32_t n_embd;                 /**< Width of the residual stream. */
    int32_t n_heads;                /**< Attention (query) heads. */
    int32_t n_kv_heads;             /**< Key/value heads. */
    uint64_t n_params;              /**< Elements of all weight tensors. */
    uint64_t weight_bytes;          /**< Bytes of weights held on the model's device. */
} WorkerModelInfo;

/** @brief An empty WorkerModelInfo with its `struct_size` set. */
#define WORKER_MODEL_INFO_INIT \
    { (uint32_t)sizeof(WorkerModelInfo), NULL, NULL, NULL, NULL, 0u, 0, -1, -1, NULL, 0, 0, 0, 0, 0, 0u, 0u }

/** @brief One message of a conversation for cuda_chat_apply_template(). */
typedef struct WorkerChatMessage {
    const char* role;    /**< "system", "user", "assistant", "tool", ... Required. */
    const char* content; /**< UTF-8 text; NULL: the message has no content. */
} WorkerChatMessage;

/**
 * @brief Options of cuda_chat_apply_template(); ::WORKER_CHAT_PARAMS_INIT
 *        gives the defaults (the model's template, generation prompt added).
 */
typedef struct WorkerChatParams {
    uint32_t struct_size;          /**< sizeof(WorkerChatParams) as compiled by the caller. */
    int32_t add_generation_prompt; /**< 1: end with the assistant turn's opening (default); 0: not. */
    const char* template_text;     /**< A Jinja chat template to use instead of the model's; NULL: the model's. */
    const char* tools_json;        /**< JSON array of tool schemas the template may show; NULL: none. */
    const char* extra_json;        /**< JSON object of more template variables (e.g. {"enable_thinking": false}); NULL: none. */
} WorkerChatParams;

/** @brief Default chat options. */
#define WORKER_CHAT_PARAMS_INIT { (uint32_t)sizeof(WorkerChatParams), 1, NULL, NULL, NULL }

/**
 * @name Context settings (added in 0.3)
 * Values of the fields of ::WorkerContextParams.
 * @{
 */
/** @brief `cpu_isa`: `WORKER_CPU_ISA` from the environment if set, else the highest level the CPU has. */
#define WORKER_CPU_ISA_AUTO 0
/** @brief `cpu_isa`: portable C++ kernels only. */
#define WORKER_CPU_ISA_SCALAR 1
/** @brief `cpu_isa`: at most AVX2 + FMA + F16C (and AVX-VNNI where the CPU has it). */
#define WORKER_CPU_ISA_AVX2 2
/** @brief `cpu_isa`: at most AVX-512 (F, BW, DQ, VL, VNNI): no cap on today's CPUs. */
#define WORKER_CPU_ISA_AVX512 3

/** @brief `cpu_weights`: `WORKER_CPU_WEIGHTS` from the environment if set, else mapped. */
#define WORKER_CPU_WEIGHTS_DEFAULT 0
/** @brief `cpu_weights`: weights are read from a read-only mapping of the file. */
#define WORKER_CPU_WEIGHTS_MAPPED 1
/** @brief `cpu_weights`: weights are read once into private memory at load. */
#define WORKER_CPU_WEIGHTS_PRIVATE 2

/** @brief `log_level`: `WORKER_LOG` from the environment if set, else ::WORKER_LOG_INFO
 *         when a callback is given and ::WORKER_LOG_NONE otherwise. */
#define WORKER_LOG_DEFAULT (-1)
/** @brief `log_level` (and nothing is ever reported at it): no messages. */
#define WORKER_LOG_NONE 0
/** @brief Level of a message: a failure. */
#define WORKER_LOG_ERROR 1
/** @brief Level of a message: something unexpected that the library worked around. */
#define WORKER_LOG_WARN 2
/** @brief Level of a message: progress (a model's load steps). */
#define WORKER_LOG_INFO 3
/** @brief Level of a message: detail for debugging the library. */
#define WORKER_LOG_DEBUG 4
/** @} */

/**
 * @brief Receives the library's diagnostic messages instead of stderr.
 *
 * @param level The message's level, ::WORKER_LOG_ERROR to ::WORKER_LOG_DEBUG.
 * @param message One line of UTF-8 text without a trailing newline; valid
 *        only during the call.
 * @param user_data The context's `log_user_data`, as given.
 *
 * Called on the thread of the library call that produced the message, from
 * any thread the caller uses, possibly from several at once. It must not
 * call back into the library with the same context.
 */
typedef void (*WorkerLogCallback)(int level, const char* message, void* user_data);

/**
 * @brief Settings of a context, for cuda_init_ex().
 *
 * Initialise with ::WORKER_CONTEXT_PARAMS_INIT and change the fields you
 * need. Every field's value in ::WORKER_CONTEXT_PARAMS_INIT means "the
 * default": the environment variable named beside the field when it is set,
 * else the built-in default. An explicit value always wins over the
 * environment. The environment is read when the context is created, never
 * later.
 *
 * `struct_size` must be `sizeof(WorkerContextParams)` as the caller was
 * compiled; it lets the library accept callers built against older, shorter
 * versions of this struct (fields past `struct_size` take their defaults).
 * As for ::WorkerInferenceParams, a `struct_size` larger than the library's
 * own `sizeof(WorkerContextParams)` (a caller built against newer headers)
 * is refused with ::CUDA_ERROR_INVALID_PARAMETER rather than ignoring fields
 * the library does not know.
 */
typedef struct WorkerContextParams {
    uint32_t struct_size; /**< sizeof(WorkerContextParams) as compiled by the caller. */
    /** Worker threads of the CPU device, 1..1024; 0 = `WORKER_CPU_THREADS`, else all cores.
     *  Ignored (but still checked) on a GPU. */
    int32_t cpu_threads;
    /** Highest instruction-set level of the CPU kernels of this context: a
     *  cap, never above what the CPU has. ::WORKER_CPU_ISA_AUTO (0) =
     *  `WORKER_CPU_ISA` (scalar, avx2 or avx512), else the highest level.
     *  Every level gives the same bits; higher is faster. */
    int32_t cpu_isa;
    /** GPU: 1 = capture each inference's decode step in a CUDA graph and replay
     *  it; 0 = launch every kernel of every step; -1 = `WORKER_CUDA_GRAPHS`
     *  (0 or 1), else 1. */
    int32_t cuda_graphs;
    /** GPU: bytes of each pinned staging buffer weights are uploaded
     *  through, 65536..268435456; 0 = `WORKER_CUDA_STAGING_BYTES`, else 1 MiB. */
    uint64_t cuda_staging_bytes;
    /** GPU: how long cuda_check_device_health() waits for the device, in
     *  milliseconds, 1..3600000; 0 = `WORKER_HEALTH_TIMEOUT_MS`, else 10000. */
    int32_t health_timeout_ms;
    /** CPU device: where a model's weights live, ::WORKER_CPU_WEIGHTS_MAPPED
     *  or ::WORKER_CPU_WEIGHTS_PRIVATE; ::WORKER_CPU_WEIGHTS_DEFAULT (0) =
     *  `WORKER_CPU_WEIGHTS` (mapped or private), else mapped. */
    int32_t cpu_weights;
    /** Receives the messages at or below `log_level`; NULL = they go to stderr. */
    WorkerLogCallback log_callback;
    /** Handed to `log_callback` unchanged. */
    void* log_user_data;
    /** Most detailed level reported, ::WORKER_LOG_NONE to ::WORKER_LOG_DEBUG;
     *  ::WORKER_LOG_DEFAULT (-1) = `WORKER_LOG` (0 or none, 1 = info, or a
     *  level name: error, warn, info, debug), else ::WORKER_LOG_INFO with a
     *  callback and ::WORKER_LOG_NONE without. */
    int32_t log_level;
} WorkerContextParams;

/**
 * @brief Default settings: every field "the default" (the environment, else
 *        the built-in value); no log callback.
 */
#define WORKER_CONTEXT_PARAMS_INIT \
    { (uint32_t)sizeof(WorkerContextParams), 0, WORKER_CPU_ISA_AUTO, -1, 0u, 0, WORKER_CPU_WEIGHTS_DEFAULT, \
      NULL, NULL, WORKER_LOG_DEFAULT }

#ifdef __cplusplus
}
#endif

#endif /* WORKER_TYPES_H */
