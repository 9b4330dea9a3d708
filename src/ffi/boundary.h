// What every extern "C" function of the ABI shares: the registries of live
// handles, the thread's error detail, and `guarded`, which turns any
// exception into an error code plus a detail message.
#pragma once

#include <cstddef>
#include <exception>
#include <memory>
#include <new>
#include <string_view>

#include "core/error.h"
#include "ffi/handles.h"
#include "worker_errors.h"

namespace worker::ffi {

// Records the detail of this thread's last call (cut to the buffer, UTF-8 kept
// whole); it never allocates, so it works even when memory has run out.
void set_detail(const char* text) noexcept;
// Appends to the detail, within the same buffer.
void append_detail(const char* text) noexcept;
const char* detail() noexcept;

inline void succeed(int* error_code) noexcept {
    set_detail("");
    if (error_code != nullptr) *error_code = CUDA_SUCCESS;
}

inline void report(int* error_code, CudaErrorCode code, const char* text) noexcept {
    set_detail(text);
    if (error_code != nullptr) *error_code = code;
}

// Runs `body`; any exception becomes an error code + detail and `on_error`.
template <typename Result, typename Body>
Result guarded(int* error_code, Result on_error, Body&& body) noexcept {
    try {
        Result result = body();
        succeed(error_code);
        return result;
    } catch (const Error& e) {
        report(error_code, e.code(), e.what());
    } catch (const std::bad_alloc&) {
        report(error_code, CUDA_ERROR_OUT_OF_MEMORY, "out of host memory");
    } catch (const std::exception& e) {
        report(error_code, CUDA_ERROR_UNKNOWN, "internal error: ");
        append_detail(e.what());
    } catch (...) {
        report(error_code, CUDA_ERROR_UNKNOWN, "internal error: unknown exception");
    }
    return on_error;
}

[[noreturn]] inline void invalid(const char* what) { fail(CUDA_ERROR_INVALID_PARAMETER, what); }

// For functions whose error_code is required: a NULL one is reported through
// the detail alone, and the function does nothing.
bool missing_error_code(int* error_code, const char* function) noexcept;

Registry<CudaContext, Context>& contexts();
Registry<CudaModel, Model>& models();
Registry<InferenceResult, Inference>& inferences();

// What a handle stands for; Error(CUDA_ERROR_INVALID_PARAMETER) for NULL or a
// handle that is not live.
std::shared_ptr<Context> live_context(CudaContext* ctx);
std::shared_ptr<Model> live_model(CudaModel* model);
std::shared_ptr<Inference> live_inference(InferenceResult* result);

// The calls that fill a caller's buffer return the size needed. A NULL
// buffer with capacity 0 asks for the size alone; a non-NULL buffer must
// have capacity > 0. Throws Error(CUDA_ERROR_INVALID_PARAMETER) otherwise.
void check_buffer(const void* out, int64_t capacity, const char* what);
// Copies `text` and a NUL into `out` when `capacity` bytes hold them (else
// `out` gets an empty string when it has a byte); returns text size + 1.
int64_t copy_out(std::string_view text, char* out, int64_t capacity) noexcept;
// After a sized call: when a buffer was given and `needed` exceeds its
// capacity, reports CUDA_ERROR_INVALID_PARAMETER naming `what` and both
// sizes (nothing else was lost: call again with the size returned).
void check_fits(int* error_code, int64_t needed, const void* out, int64_t capacity, const char* what) noexcept;

}  // namespace worker::ffi
