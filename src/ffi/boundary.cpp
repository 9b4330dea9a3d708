#include "ffi/boundary.h"

#include <atomic>
#include <cstdio>
#include <cstring>

namespace worker::ffi {

uintptr_t next_handle_value() noexcept {
    static std::atomic<uintptr_t> next{0x10000};
    return next.fetch_add(16, std::memory_order_relaxed);
}

Registry<CudaContext, Context>& contexts() {
    static auto* registry = new Registry<CudaContext, Context>();  // never destroyed: usable during exit
    return *registry;
}
Registry<CudaModel, Model>& models() {
    static auto* registry = new Registry<CudaModel, Model>();
    return *registry;
}
Registry<InferenceResult, Inference>& inferences() {
    static auto* registry = new Registry<InferenceResult, Inference>();
    return *registry;
}

namespace {

// The detail lives in a fixed thread-local buffer: recording an error never
// allocates.
constexpr size_t kDetailCapacity = 4096;
thread_local char t_detail[kDetailCapacity] = "";

// Copies `text` to t_detail + `at`, cut at a UTF-8 character boundary.
void put_detail(size_t at, const char* text) noexcept {
    size_t n = std::strlen(text);
    if (at + n >= kDetailCapacity) {
        n = kDetailCapacity - 1 - at;
        while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;  // keep UTF-8 whole
    }
    std::memcpy(t_detail + at, text, n);
    t_detail[at + n] = '\0';
}

}  // namespace

void set_detail(const char* text) noexcept { put_detail(0, text); }
void append_detail(const char* text) noexcept { put_detail(std::strlen(t_detail), text); }
const char* detail() noexcept { return t_detail; }

bool missing_error_code(int* error_code, const char* function) noexcept {
    if (error_code != nullptr) return false;
    set_detail(function);
    append_detail(": error_code is NULL");
    return true;
}

std::shared_ptr<Context> live_context(CudaContext* ctx) {
    if (ctx == nullptr) invalid("context handle is NULL");
    auto impl = contexts().find(ctx);
    if (!impl) invalid("context handle is not a live context (already destroyed or never created)");
    return impl;
}

std::shared_ptr<Model> live_model(CudaModel* model) {
    if (model == nullptr) invalid("model handle is NULL");
    auto impl = models().find(model);
    if (!impl) invalid("model handle is not a live model (already unloaded or never loaded)");
    return impl;
}

std::shared_ptr<Inference> live_inference(InferenceResult* result) {
    if (result == nullptr) invalid("inference handle is NULL");
    auto impl = inferences().find(result);
    if (!impl) invalid("inference handle is not a live inference (already freed or never started)");
    return impl;
}

void check_buffer(const void* out, int64_t capacity, const char* what) {
    if (out == nullptr && capacity != 0) {
        fail(CUDA_ERROR_INVALID_PARAMETER, what, " is NULL with a capacity of ", capacity,
             " (pass NULL and 0 to ask for the size)");
    }
    if (out != nullptr && capacity <= 0)
        fail(CUDA_ERROR_INVALID_PARAMETER, what, "'s capacity must be > 0, got ", capacity);
}

int64_t copy_out(std::string_view text, char* out, int64_t capacity) noexcept {
    const auto needed = static_cast<int64_t>(text.size()) + 1;
    if (out == nullptr || capacity <= 0) return needed;
    if (needed > capacity) {
        out[0] = '\0';
        return needed;
    }
    std::memcpy(out, text.data(), text.size());
    out[text.size()] = '\0';
    return needed;
}

void check_fits(int* error_code, int64_t needed, const void* out, int64_t capacity, const char* what) noexcept {
    if (out == nullptr || needed <= capacity) return;
    char text[256];
    std::snprintf(text, sizeof text, "%s holds %lld but %lld are needed; call again with a buffer of that size", what,
                  static_cast<long long>(capacity), static_cast<long long>(needed));
    report(error_code, CUDA_ERROR_INVALID_PARAMETER, text);
}

}  // namespace worker::ffi
