#include "model/backend.h"

#include <vector>

#include "core/context.h"
#include "core/error.h"
#include "cpu/cpu_backend.h"
#ifdef WORKER_HAVE_CUDA
#include "cuda_backend.h"
#endif

namespace worker::model {

Tensor Buffer::view(GgmlType type, int64_t cols, int64_t rows) const {
    Tensor t{data_, type, cols, rows, 0};
    t.nb1 = t.row_bytes();
    return t;
}

int32_t Backend::sample(const Tensor& logits, const sampling::Settings& settings, std::span<const int32_t> history,
                        double uniform) {
    std::vector<float> host(static_cast<size_t>(logits.ne0));
    read(logits, host.data(), host.size() * sizeof(float));
    return sampling::sample(host, settings, history, uniform);
}

std::unique_ptr<Backend> create_backend(const Context& context) {
    if (context.is_cpu()) return cpu::create_cpu_backend(context.settings().cpu_threads, context.settings().cpu_isa);
#ifdef WORKER_HAVE_CUDA
    return cuda::make_cuda_backend(context);
#else
    fail(CUDA_ERROR_INVALID_DEVICE, "GPU ", context.device(), ": this build has no CUDA backend");
#endif
}

}  // namespace worker::model
