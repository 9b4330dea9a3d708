/**
 * @file worker_errors.h
 * @brief Error codes of the worker_cuda C ABI.
 *
 * The numeric values are part of the stable ABI: they never change, and new
 * codes are only ever added.
 */
#ifndef WORKER_ERRORS_H
#define WORKER_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Result code of every fallible worker_cuda call.
 *
 * Functions report it through their `int* error_code` out-parameter; the
 * thread-local detail of the failure is available from
 * cuda_last_error_detail().
 *
 * Each code has two names with the same value: `WORKER_*` (WORKER_SUCCESS,
 * WORKER_ERROR_OUT_OF_MEMORY, ...) and the original `CUDA_*` names that
 * existing callers use. The `CUDA_*` names are also enumerators of the CUDA
 * driver API's `CUresult` in `<cuda.h>`, with other values for most codes, so
 * a translation unit can have only one set of them:
 * - when `<cuda.h>` is included before this header, the `CUDA_*` names here
 *   are left out (they keep CUDA's meaning) and the `WORKER_*` names serve;
 * - when `<cuda.h>` comes after this header, define
 *   `WORKER_NO_CUDA_ERROR_NAMES` before including it to leave them out.
 */
typedef enum CudaErrorCode {
    WORKER_SUCCESS = 0,                    /**< The call succeeded. */
    WORKER_ERROR_INVALID_DEVICE = 1,       /**< Device id out of range or unusable. */
    WORKER_ERROR_OUT_OF_MEMORY = 2,        /**< Host or device memory exhausted. */
    WORKER_ERROR_MODEL_LOAD_FAILED = 3,    /**< The model file is missing, unreadable, malformed or unsupported. */
    WORKER_ERROR_INFERENCE_FAILED = 4,     /**< Generation failed after it was started. */
    WORKER_ERROR_INVALID_PARAMETER = 5,    /**< A NULL handle/pointer, a freed handle, or an out-of-range value. */
    WORKER_ERROR_KERNEL_LAUNCH_FAILED = 6, /**< A GPU kernel could not be launched or faulted. */
    WORKER_ERROR_VRAM_RESIDENCY_FAILED = 7,/**< Weights not resident: not plain device memory, or (CPU) the file changed. */
    WORKER_ERROR_DEVICE_NOT_FOUND = 8,     /**< No CUDA device exists (or the build has no CUDA backend). */
    WORKER_ERROR_UNKNOWN = 99              /**< An unexpected internal failure. */
#if !defined(WORKER_NO_CUDA_ERROR_NAMES) && !defined(__cuda_cuda_h__)
    ,
    CUDA_SUCCESS = WORKER_SUCCESS,                                         /**< = ::WORKER_SUCCESS */
    CUDA_ERROR_INVALID_DEVICE = WORKER_ERROR_INVALID_DEVICE,               /**< = ::WORKER_ERROR_INVALID_DEVICE */
    CUDA_ERROR_OUT_OF_MEMORY = WORKER_ERROR_OUT_OF_MEMORY,                 /**< = ::WORKER_ERROR_OUT_OF_MEMORY */
    CUDA_ERROR_MODEL_LOAD_FAILED = WORKER_ERROR_MODEL_LOAD_FAILED,         /**< = ::WORKER_ERROR_MODEL_LOAD_FAILED */
    CUDA_ERROR_INFERENCE_FAILED = WORKER_ERROR_INFERENCE_FAILED,           /**< = ::WORKER_ERROR_INFERENCE_FAILED */
    CUDA_ERROR_INVALID_PARAMETER = WORKER_ERROR_INVALID_PARAMETER,         /**< = ::WORKER_ERROR_INVALID_PARAMETER */
    CUDA_ERROR_KERNEL_LAUNCH_FAILED = WORKER_ERROR_KERNEL_LAUNCH_FAILED,   /**< = ::WORKER_ERROR_KERNEL_LAUNCH_FAILED */
    CUDA_ERROR_VRAM_RESIDENCY_FAILED = WORKER_ERROR_VRAM_RESIDENCY_FAILED, /**< = ::WORKER_ERROR_VRAM_RESIDENCY_FAILED */
    CUDA_ERROR_DEVICE_NOT_FOUND = WORKER_ERROR_DEVICE_NOT_FOUND,           /**< = ::WORKER_ERROR_DEVICE_NOT_FOUND */
    CUDA_ERROR_UNKNOWN = WORKER_ERROR_UNKNOWN                              /**< = ::WORKER_ERROR_UNKNOWN */
#endif
} CudaErrorCode;

/**
 * @brief Short, static, human-readable name of an error code.
 *
 * @param error_code Any integer; values that are not a ::CudaErrorCode give
 *        "unknown error code".
 * @return A pointer to a static NUL-terminated string; never NULL, never to
 *         be freed.
 * @par Errors
 *      None: this function cannot fail and does not touch the last-error detail.
 * @par Thread safety
 *      Safe to call from any thread at any time.
 */
const char* cuda_error_message(int error_code);

/**
 * @brief Detailed message of the last failed call on the calling thread.
 *
 * Every worker_cuda function that takes an `error_code` out-parameter clears
 * the detail when it succeeds and sets it when it fails, e.g.
 * `tensor 'blk.3.attn_q.weight': data [a, b) ends past end of file (n bytes)`.
 *
 * @return A NUL-terminated UTF-8 string owned by the library, "" when the
 *         last call succeeded. It stays valid until the next worker_cuda call
 *         on the same thread.
 * @par Errors
 *      None: this function cannot fail.
 * @par Thread safety
 *      The detail is thread-local; each thread sees only its own.
 */
const char* cuda_last_error_detail(void);

#ifdef __cplusplus
}
#endif

#endif /* WORKER_ERRORS_H */
