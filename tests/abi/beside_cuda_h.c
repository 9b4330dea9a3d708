/* Compiled (not run) by check_beside_cuda_h.sh in C99 and C++, with <cuda.h>
 * included before and after the public headers: both orders must compile,
 * and CUDA's CUresult names must keep CUDA's values. */
#if defined(WORKER_TEST_CUDA_FIRST)
#include <cuda.h>
#include "worker_ffi.h"
#elif defined(WORKER_TEST_CUDA_AFTER)
#define WORKER_NO_CUDA_ERROR_NAMES
#include "worker_ffi.h"
#include <cuda.h>
#else
#error "define WORKER_TEST_CUDA_FIRST or WORKER_TEST_CUDA_AFTER"
#endif

/* A negative array size fails the compile when a condition is false. */
typedef char cuda_keeps_its_values[(CUDA_ERROR_INVALID_DEVICE == 101 && CUDA_ERROR_UNKNOWN == 999) ? 1 : -1];
typedef char worker_names_have_the_abi_values[(WORKER_SUCCESS == 0 && WORKER_ERROR_INVALID_DEVICE == 1 &&
                                               WORKER_ERROR_OUT_OF_MEMORY == 2 && WORKER_ERROR_UNKNOWN == 99)
                                                  ? 1
                                                  : -1];

int uses_both(void) {
    CUresult driver = CUDA_ERROR_OUT_OF_MEMORY;
    int error_code = WORKER_ERROR_MODEL_LOAD_FAILED;
    return (int)driver + error_code + (cuda_error_message(WORKER_SUCCESS) != 0);
}
