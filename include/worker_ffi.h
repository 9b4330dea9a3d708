/**
 * @file worker_ffi.h
 * @brief The worker_cuda C ABI: contexts, models and streaming inference.
 *
 * A caller creates a context on a device, loads a GGUF model into that
 * device's memory, starts an inference with a prompt and sampling parameters,
 * and pulls generated text one token at a time:
 *
 * @code
 * int err;
 * CudaContext* ctx = cuda_init(WORKER_DEVICE_CPU, &err);
 * CudaModel* model = cuda_load_model(ctx, "model.gguf", NULL, &err);
 * InferenceResult* inf = cuda_inference_start(model, "Hello", 32, 0.0f, 42, &err);
 * char piece[256]; int index;
 * while (cuda_inference_next_token(inf, piece, sizeof piece, &index, &err)) fputs(piece, stdout);
 * cuda_inference_free(inf); cuda_unload_model(model); cuda_destroy(ctx);
 * @endcode
 *
 * @par Contract shared by every function
 * - No function throws, aborts, or writes to stdout. The library is silent on
 *   stderr too unless the environment variable `WORKER_LOG` is set or a
 *   context is created with a `log_level` (cuda_init_ex()); a context with a
 *   `log_callback` sends its messages there instead of stderr.
 * - Every pointer argument may be NULL. A NULL (or already freed) handle, or a
 *   NULL required out-pointer, gives ::CUDA_ERROR_INVALID_PARAMETER and a
 *   NULL/false/0 return; it never crashes. Freed handles are recognised
 *   because the library keeps a registry of the live ones.
 * - On success `*error_code` is ::CUDA_SUCCESS and cuda_last_error_detail()
 *   is ""; on failure it holds the code and the detail names what is wrong.
 * - A failure leaves nothing behind: no leak, and the context and the model
 *   stay usable.
 *
 * @par Ownership and destruction order
 * Handles may be freed in any order. A model keeps the resources of its
 * context alive, and an inference those of its model, until the last handle
 * that needs them is freed; freeing a handle makes only that handle invalid.
 *
 * @par Thread safety
 * All functions may be called from any thread. Contexts are independent of
 * each other. A context and a model may be used from several threads at once
 * (for instance, several threads each starting and running their own
 * inference on one model). One InferenceResult must not be used by two
 * threads at the same time, but it may move from one thread to another
 * between calls.
 */
#ifndef WORKER_FFI_H
#define WORKER_FFI_H

#include <stdbool.h>
#include <stdint.h>

#include "worker_errors.h"
#include "worker_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Creates a context on a device.
 *
 * The same as cuda_init_ex() with NULL `params`: every setting from its
 * environment variable when set, else its built-in default (see
 * ::WorkerContextParams).
 *
 * @param gpu_device A CUDA device id in [0, cuda_get_device_count()), or
 *        ::WORKER_DEVICE_CPU for the CPU reference device (which uses all
 *        cores; the environment variable `WORKER_CPU_THREADS` overrides).
 * @param error_code Out: the result code. Required.
 * @return A new context to be freed with cuda_destroy(), or NULL on failure.
 * @par Errors
 * - ::CUDA_ERROR_INVALID_PARAMETER: `error_code` is NULL, or one of the
 *   environment variables of ::WorkerContextParams has an invalid value (the
 *   detail names it and its value).
 * - ::CUDA_ERROR_DEVICE_NOT_FOUND: a GPU was asked for and there is none (or
 *   the library was built without its CUDA backend).
 * - ::CUDA_ERROR_INVALID_DEVICE: `gpu_device` is out of range, or below -1.
 * - ::CUDA_ERROR_OUT_OF_MEMORY: the context's resources could not be allocated.
 * - ::CUDA_ERROR_UNKNOWN: the CUDA runtime failed in another way.
 */
CudaContext* cuda_init(int gpu_device, int* error_code);

/**
 * @brief Creates a context on a device with explicit settings (added in 0.3).
 *
 * @param device As `gpu_device` of cuda_init().
 * @param params The settings, initialised with ::WORKER_CONTEXT_PARAMS_INIT;
 *        NULL = all defaults, as cuda_init(). A field left at its default
 *        takes the environment variable named in ::WorkerContextParams when
 *        it is set. Read during the call only; `log_callback` and
 *        `log_user_data` must stay valid for the life of the context and of
 *        every model loaded on it.
 * @param error_code Out: the result code. Required.
 * @return A new context to be freed with cuda_destroy(), or NULL on failure.
 *
 * The settings are fixed for the life of the context. Settings for the other
 * kind of device are checked but have no effect (a GPU context runs no CPU
 * kernels; the CPU device has no CUDA graphs). The CPU instruction-set level
 * is per context: two contexts of one process may run at different levels,
 * and every level gives the same bits.
 *
 * @par Errors
 * As cuda_init(), and ::CUDA_ERROR_INVALID_PARAMETER, with a detail naming
 * the field and its value (e.g. "params->cpu_threads is 0..."), for a
 * `struct_size` below 4 or above `sizeof(WorkerContextParams)`, or a field
 * outside its documented values; or naming the variable and its value for an
 * invalid environment variable that a defaulted field reads.
 */
CudaContext* cuda_init_ex(int device, const WorkerContextParams* params, int* error_code);

/**
 * @brief Frees a context. NULL and already freed handles are ignored.
 *
 * Models still loaded on it stay valid; the device resources go when the
 * last of them is unloaded.
 *
 * @param ctx The context to free, or NULL.
 */
void cuda_destroy(CudaContext* ctx);

/**
 * @brief Number of CUDA devices visible to this process.
 * @return The count; 0 when there is no GPU, when the driver cannot be used,
 *         or when the library was built without its CUDA backend.
 *         Never fails; thread-safe.
 */
int cuda_get_device_count(void);

/**
 * @brief Loads a GGUF model onto the context's device.
 *
 * The file is memory-mapped and validated as untrusted input; weights stay in
 * their stored (quantized) block format in the device's memory.
 *
 * @param ctx The context. Required.
 * @param model_path Path of a GGUF file (version 2 or 3). Required.
 * @param vram_bytes_used Out, optional: the bytes the model holds on its
 *        device (weights). On the CPU device, the bytes of weight data it
 *        uses from the mapped file.
 * @param error_code Out: the result code. Required.
 * @return A new model to be freed with cuda_unload_model(), or NULL.
 * @par Errors
 * - ::CUDA_ERROR_INVALID_PARAMETER: `ctx`, `model_path` or `error_code` is
 *   NULL, or `ctx` is not a live context.
 * - ::CUDA_ERROR_MODEL_LOAD_FAILED: the file is missing, unreadable, not a
 *   regular file, malformed, or of an unsupported architecture; the detail
 *   names the problem and where it is.
 * - ::CUDA_ERROR_OUT_OF_MEMORY: the device has too little free memory; the
 *   detail gives required and available bytes.
 * - ::CUDA_ERROR_UNKNOWN: an unexpected failure.
 */
CudaModel* cuda_load_model(CudaContext* ctx, const char* model_path, uint64_t* vram_bytes_used,
                           int* error_code);

/**
 * @brief Frees a model. NULL and already freed handles are ignored.
 *
 * Inferences started on it stay valid until they are freed.
 *
 * @param model The model to free, or NULL.
 */
void cuda_unload_model(CudaModel* model);

/**
 * @brief Bytes the model holds on its device (see cuda_load_model()).
 * @param model The model; NULL or a dead handle gives 0.
 * @return The byte count, or 0 when `model` is NULL or not live.
 */
uint64_t cuda_model_get_vram_usage(CudaModel* model);

/**
 * @brief Starts generating from a prompt with temperature sampling.
 *
 * Equivalent to cuda_inference_start_ex() with ::WORKER_INFERENCE_PARAMS_INIT
 * except that `max_tokens`, `temperature` and `seed` are given, and top-k,
 * top-p and min-p are off.
 *
 * The prompt is tokenized as the model's metadata says (BOS added when the
 * model asks for it) and special-token text such as `<|im_start|>` is
 * recognised, so callers can apply a chat template themselves (to pass user
 * text literally, use cuda_inference_start_ex() with `parse_special` = 0). This
 * function tokenizes the prompt and reserves the inference's memory; the
 * prompt is evaluated (prefilled) by the first cuda_inference_next_token(),
 * in chunks of 512 tokens between which other inferences of the model may
 * step and cuda_inference_cancel() takes effect.
 *
 * @param model The model. Required.
 * @param prompt NUL-terminated UTF-8 text. Required; may be "" when the model
 *        adds a BOS token. Invalid UTF-8 is rejected. The prompt ends at its
 *        first NUL byte: text containing NUL cannot be passed.
 * @param max_tokens Tokens to generate at most, >= 1. Prompt tokens plus
 *        `max_tokens` must fit the model's context length.
 * @param temperature In [0, 2]; 0 selects greedy decoding.
 * @param seed Seed of the random draw.
 * @param error_code Out: the result code. Required.
 * @return A new inference to be freed with cuda_inference_free(), or NULL.
 * @par Errors
 * - ::CUDA_ERROR_INVALID_PARAMETER: a NULL or dead handle/pointer, invalid
 *   UTF-8, an empty tokenized prompt, a value out of range, or a prompt too
 *   long for the context.
 * - ::CUDA_ERROR_OUT_OF_MEMORY: the KV cache or activations do not fit.
 * - ::CUDA_ERROR_VRAM_RESIDENCY_FAILED: the model's mapped file changed on disk.
 */
InferenceResult* cuda_inference_start(CudaModel* model, const char* prompt, int max_tokens,
                                      float temperature, uint64_t seed, int* error_code);

/**
 * @brief Starts generating from a prompt with full sampling control.
 *
 * @param model The model. Required.
 * @param prompt As for cuda_inference_start().
 * @param params Sampling parameters. Required; `params->struct_size` must be
 *        at least the offset just past `seed` and at most
 *        `sizeof(WorkerInferenceParams)`. The stop strings are copied.
 * @param error_code Out: the result code. Required.
 * @return A new inference to be freed with cuda_inference_free(), or NULL.
 * @par Errors
 * As cuda_inference_start(), and ::CUDA_ERROR_INVALID_PARAMETER for: a bad
 * `struct_size`; `top_k` < 0; `top_p` outside (0, 1]; `min_p` outside [0, 1);
 * `repetition_penalty` <= 0 or not finite; `n_stop` < 0; `stop` NULL with
 * `n_stop` > 0; a NULL, empty or invalid UTF-8 stop string; `parse_special`
 * neither 0 nor 1; `logprobs` neither 0 nor 1; `top_logprobs` outside
 * [0, 20], or > 0 without `logprobs`.
 */
InferenceResult* cuda_inference_start_ex(CudaModel* model, const char* prompt,
                                         const WorkerInferenceParams* params, int* error_code);

/**
 * @brief Generates the next token and returns its text.
 *
 * Text is always whole UTF-8 characters: bytes of a character split across
 * tokens are held back until it is complete (a piece may therefore be "");
 * invalid byte sequences from the model become U+FFFD.
 *
 * @param result The inference. Required.
 * @param token_out Out: the NUL-terminated piece. Required.
 * @param token_buffer_size Size of `token_out` in bytes, including the NUL.
 * @param token_index Out, optional: 0-based index of the generated token.
 * @param error_code Out: the result code. Required.
 * The first call evaluates the prompt (see cuda_inference_start()).
 *
 * @return true with a piece; false with ::CUDA_SUCCESS when generation is
 *         complete (end-of-generation token, `max_tokens`, a stop string,
 *         which is not returned, or cuda_inference_cancel()) and on every
 *         later call; false with an error code otherwise.
 *         cuda_inference_get_info() says which.
 * @par Errors
 * - ::CUDA_ERROR_INVALID_PARAMETER: a NULL or dead pointer/handle, or
 *   `token_buffer_size` too small for the piece. The piece is not lost: the
 *   next call with a large enough buffer returns it, and
 *   cuda_inference_next_token_size() gives the size it needs.
 * - ::CUDA_ERROR_OUT_OF_MEMORY: the prompt's activations do not fit.
 * - ::CUDA_ERROR_INFERENCE_FAILED, ::CUDA_ERROR_KERNEL_LAUNCH_FAILED: the
 *   step failed; the inference cannot continue (later calls report the same
 *   code), but the model stays usable — unless the detail starts
 *   "GPU N lost:", N the device id (see cuda_check_device_health()): then
 *   every handle on that GPU fails the same way until the process restarts.
 */
bool cuda_inference_next_token(InferenceResult* result, char* token_out, int token_buffer_size,
                               int* token_index, int* error_code);

/**
 * @brief Frees an inference. NULL and already freed handles are ignored.
 *
 * Safe while another thread is inside cuda_inference_next_token() on the same
 * inference: that call returns at its next step boundary as at the end of
 * generation (false, ::CUDA_SUCCESS), and the inference's memory is released
 * when it has returned. Never waits for another inference's forward pass.
 * Handles are never reused: a freed handle stays invalid for the life of the
 * process and cannot name a later inference.
 *
 * @param result The inference to free, or NULL.
 */
void cuda_inference_free(InferenceResult* result);

/**
 * @brief Loads a model as cuda_load_model() does, with options: a progress
 *        callback that may cancel the load (0.3).
 *
 * @param ctx The context. Required.
 * @param model_path As for cuda_load_model().
 * @param params Options, or NULL for ::WORKER_LOAD_PARAMS_INIT.
 * @param vram_bytes_used Out, optional: as for cuda_load_model().
 * @param error_code Out: the result code. Required.
 * @return A new model, or NULL.
 * @par Errors
 * As cuda_load_model(); ::CUDA_ERROR_MODEL_LOAD_FAILED, the detail saying
 * so, when the progress callback returned false; ::CUDA_ERROR_INVALID_PARAMETER
 * for a bad `params->struct_size`.
 */
CudaModel* cuda_load_model_ex(CudaContext* ctx, const char* model_path, const WorkerLoadParams* params,
                              uint64_t* vram_bytes_used, int* error_code);

/**
 * @name Inference details (0.3)
 * @{
 */

/**
 * @brief Stops an inference from any thread, without freeing it.
 *
 * Takes effect at the next prefill chunk or decode step: a
 * cuda_inference_next_token() running on another thread returns false with
 * ::CUDA_SUCCESS, and cuda_inference_get_info() reports
 * ::WORKER_FINISH_CANCELLED. Cancelling an inference that already ended
 * changes nothing. Never waits for a running step.
 *
 * @param result The inference. Required.
 * @param error_code Out, optional: ::CUDA_ERROR_INVALID_PARAMETER for a NULL
 *        or dead handle.
 * @return true when `result` is a live inference.
 */
bool cuda_inference_cancel(InferenceResult* result, int* error_code);

/**
 * @brief Tokens used so far and why generation ended.
 *
 * Waits while cuda_inference_next_token() runs on the same inference in
 * another thread. `finish_reason` stays ::WORKER_FINISH_NONE until the last
 * piece has been read.
 *
 * @param result The inference. Required.
 * @param info In: `struct_size` set (see ::WORKER_INFERENCE_INFO_INIT). Out:
 *        the fields that fit in `struct_size`. Required.
 * @param error_code Out: the result code. Required.
 * @return true on success.
 * @par Errors
 * ::CUDA_ERROR_INVALID_PARAMETER: a NULL or dead pointer/handle, or a
 * `struct_size` smaller than the fields up to `finish_reason`.
 */
bool cuda_inference_get_info(InferenceResult* result, WorkerInferenceInfo* info, int* error_code);

/**
 * @brief The bytes the next piece needs (its text plus the NUL), generating it
 *        if needed, without consuming it.
 *
 * @param result The inference. Required.
 * @param error_code Out: the result code. Required.
 * @return The size for cuda_inference_next_token()'s buffer; 0 with
 *         ::CUDA_SUCCESS when generation is complete; -1 on error (as
 *         cuda_inference_next_token()).
 */
int32_t cuda_inference_next_token_size(InferenceResult* result, int* error_code);

/**
 * @brief The log-probability of a generated token and the most likely
 *        alternatives at its step (the inference was started with `logprobs`).
 *
 * Log-probabilities are those of the model's own distribution at that step:
 * the log-softmax of its logits, before repetition penalty, temperature and
 * truncation.
 *
 * @param result The inference. Required.
 * @param token_index The generated token, as cuda_inference_next_token()
 *        reports it (0-based), less than `generated_tokens`.
 * @param chosen Out, optional: the token and its log-probability.
 * @param top Out: the `top_logprobs` most likely tokens, most likely first
 *        (ties to the lower id). May be NULL when `top_capacity` is 0.
 * @param top_capacity Entries `top` holds.
 * @param error_code Out: the result code. Required.
 * @return The number of alternatives recorded for the step (at most
 *         `top_logprobs`; those past `top_capacity` are not written); -1 on error.
 * @par Errors
 * ::CUDA_ERROR_INVALID_PARAMETER: a NULL or dead handle, log-probabilities
 * not requested, `token_index` out of range, `top` NULL with `top_capacity`
 * > 0, or `top_capacity` < 0.
 */
int32_t cuda_inference_get_logprobs(InferenceResult* result, int32_t token_index, WorkerTokenLogprob* chosen,
                                    WorkerTokenLogprob* top, int32_t top_capacity, int* error_code);

/** @} */

/**
 * @name Tokens, model facts and chat templates (0.3)
 *
 * The calls that fill a buffer return the size needed: pass NULL and 0 to ask
 * for it; a buffer too small is left empty and the call reports
 * ::CUDA_ERROR_INVALID_PARAMETER while still returning the size needed.
 * @{
 */

/**
 * @brief Token ids of a text, as cuda_inference_start() would tokenize it.
 *
 * @param model The model. Required.
 * @param text NUL-terminated UTF-8. Required.
 * @param add_special true: add the BOS (and EOS) tokens the model's metadata asks for.
 * @param parse_special true: special-token text (`<|im_start|>`) becomes those tokens.
 * @param tokens Out: the ids, or NULL with `capacity` 0 to count them.
 * @param capacity Entries `tokens` holds.
 * @param error_code Out: the result code. Required.
 * @return The number of tokens (written when it fits `capacity`); -1 on error.
 */
int32_t cuda_tokenize(CudaModel* model, const char* text, bool add_special, bool parse_special, int32_t* tokens,
                      int32_t capacity, int* error_code);

/**
 * @brief The text of token ids: the bytes the tokens stand for, whole UTF-8
 *        characters (an incomplete or invalid sequence becomes U+FFFD).
 *
 * @param model The model. Required.
 * @param tokens The ids, each in [0, vocab_size). May be NULL when `n_tokens` is 0.
 * @param n_tokens Entries in `tokens`, >= 0.
 * @param render_special true: control tokens (BOS, `<|im_end|>`) give their
 *        text; false: they give nothing, as in generated text.
 * @param text_out Out: the NUL-terminated text, or NULL with `capacity` 0.
 * @param capacity Bytes `text_out` holds.
 * @param error_code Out: the result code. Required.
 * @return The bytes needed (text plus NUL); -1 on error.
 */
int64_t cuda_detokenize(CudaModel* model, const int32_t* tokens, int32_t n_tokens, bool render_special, char* text_out,
                        int64_t capacity, int* error_code);

/**
 * @brief What the model is: architecture, name, context length, vocabulary,
 *        special tokens, chat template, weight types, sizes.
 *
 * @param model The model. Required.
 * @param info In: `struct_size` set (see ::WORKER_MODEL_INFO_INIT). Out: the
 *        fields that fit in `struct_size`; strings belong to the model.
 * @param error_code Out: the result code. Required.
 * @return true on success.
 */
bool cuda_model_get_info(CudaModel* model, WorkerModelInfo* info, int* error_code);

/**
 * @brief Renders a conversation with the model's chat template (its GGUF
 *        `tokenizer.chat_template`), giving the prompt text.
 *
 * The output is byte for byte what Hugging Face transformers'
 * `apply_chat_template(..., tokenize=False)` gives with jinja2; pass it to
 * cuda_inference_start() (special-token text parsed). See
 * docs/chat-templates.md for the Jinja subset implemented.
 *
 * @param model The model (its template, BOS and EOS text). Required.
 * @param messages The conversation. May be NULL when `n_messages` is 0.
 * @param n_messages Entries in `messages`, >= 0.
 * @param params Options, or NULL for ::WORKER_CHAT_PARAMS_INIT.
 * @param text_out Out: the NUL-terminated prompt, or NULL with `capacity` 0.
 * @param capacity Bytes `text_out` holds.
 * @param error_code Out: the result code. Required.
 * @return The bytes needed (text plus NUL); -1 on error.
 * @par Errors
 * ::CUDA_ERROR_INVALID_PARAMETER: a NULL or dead pointer/handle, a message
 * without a role, invalid UTF-8 or JSON, a model without a chat template
 * (and no `template_text`), or a template that fails: the detail names the
 * template line and the cause (its own raise_exception() message, or the
 * construct this library does not implement).
 */
int64_t cuda_chat_apply_template(CudaModel* model, const WorkerChatMessage* messages, int32_t n_messages,
                                 const WorkerChatParams* params, char* text_out, int64_t capacity, int* error_code);

/** @} */

/**
 * @brief Checks that every weight of the model is resident in device memory.
 *
 * On a CUDA device each weight allocation is checked with
 * `cudaPointerGetAttributes` to be plain device memory with no host mapping.
 * On the CPU device weights are in host memory by design: the check returns
 * true when every weight is readable and, for weights mapped from the file
 * (the default), when the file on disk has not changed since it was loaded
 * (size and times compared, then every page of the mapping read through the
 * kernel, which reports a truncated file instead of raising SIGBUS). Every
 * forward step on the CPU device makes the cheap part of this check too: a
 * model whose file changed fails with ::CUDA_ERROR_VRAM_RESIDENCY_FAILED
 * rather than reading it. A context created with `cpu_weights` =
 * ::WORKER_CPU_WEIGHTS_PRIVATE (or `WORKER_CPU_WEIGHTS=private`) holds
 * weights in private memory instead, immune to such changes.
 *
 * @param model The model. Required.
 * @param error_code Out: the result code. Required.
 * @return true when resident; false otherwise.
 * @par Errors
 * - ::CUDA_ERROR_INVALID_PARAMETER: NULL or dead handle/pointer.
 * - ::CUDA_ERROR_VRAM_RESIDENCY_FAILED: an allocation is not device memory,
 *   or (CPU) the model file changed on disk or cannot be read; the detail
 *   names it.
 */
bool cuda_check_vram_residency(CudaModel* model, int* error_code);

/**
 * @brief Bytes the model and its live inferences hold on the device.
 *
 * On a CUDA device: every device allocation made for this model, as its
 * allocation ledger counts it (each allocation's size rounded up to 256
 * bytes) — weights, the KV caches and activations of its live inferences,
 * and its scratch buffers (sampler arrays, cuBLAS workspace, 8-bit and half
 * activations, the error flag and decode position). It is the same ledger
 * cuda_get_process_vram_usage() sums over every model on the device, so
 * the process figure is exactly the sum of the models' figures.
 * On the CPU device: the weight bytes it uses from the mapped file plus its
 * inferences' state.
 *
 * @param model The model; NULL or a dead handle gives 0.
 * @return The byte count, or 0 when `model` is NULL or not live.
 */
uint64_t cuda_get_vram_usage(CudaModel* model);

/**
 * @brief Device memory this process holds on the context's device.
 *
 * On a CUDA device: the sum of cuda_get_vram_usage() over every live model
 * of this process on that device, from any context (the same allocation
 * ledgers: weights, KV caches, activations and scratch) — but not the CUDA
 * runtime's own context memory, cuBLAS's handle memory, executable CUDA
 * graphs, the health probe's few bytes, nor what other libraries or
 * processes allocate. 0 while nothing is loaded.
 * On the CPU device: the resident set size of the process.
 *
 * @param ctx The context; NULL or a dead handle gives 0.
 * @return The byte count, or 0 when `ctx` is NULL or not live.
 */
uint64_t cuda_get_process_vram_usage(CudaContext* ctx);

/**
 * @brief Checks that the context's device still works.
 *
 * On a CUDA device: a one-thread kernel, on a stream of its own, writes a
 * fresh number that a 4-byte copy brings back, within the context's
 * `health_timeout_ms` (::WorkerContextParams; `WORKER_HEALTH_TIMEOUT_MS`,
 * default 10000) milliseconds. The timeout
 * bounds the whole call: the probe runs on a thread of its own, and while
 * an earlier probe is still stuck the call says so at once. A kernel rather
 * than a copy alone, because the copy engine keeps answering while the
 * multiprocessors hang. On the CPU device: always healthy.
 *
 * @param ctx The context. Required.
 * @param error_code Out: the result code. Required.
 * @return true when healthy.
 * @par Errors
 * - ::CUDA_ERROR_INVALID_PARAMETER: NULL or dead handle/pointer.
 * - ::CUDA_ERROR_KERNEL_LAUNCH_FAILED with a detail starting "GPU N lost:",
 *   N the device id:
 *   a kernel fault (an illegal address, a trap) poisoned the device's CUDA
 *   context for the rest of the process. From then on every model, inference
 *   and new context on that GPU fails the same way at once; freeing them
 *   still works. Restart the process to use the GPU again.
 * - ::CUDA_ERROR_UNKNOWN: the device did not answer in time (the detail says
 *   "unresponsive"), or read back a wrong value.
 */
bool cuda_check_device_health(CudaContext* ctx, int* error_code);

/**
 * @brief Version of the loaded library, packed as
 *        `(major << 16) | (minor << 8) | patch`.
 *
 * Callers compare its major part with ::WORKER_VERSION_MAJOR: within one
 * major version the ABI only ever grows. Never fails; thread-safe.
 *
 * @return The packed version, e.g. 0x000100 for 0.1.0.
 */
uint32_t cuda_api_version(void);

#ifdef __cplusplus
}
#endif

#endif /* WORKER_FFI_H */
