// Temperature scaling, shared by the CPU sampler and the CUDA sampling
// kernels (WORKER_HD) so both devices scale alike.
#pragma once

#include <cmath>

#include "quant/hd.h"

namespace worker::sampling {

// logit / temperature; or, when the largest logit over the temperature is
// not finite (a temperature so small that the quotient overflows), the
// logit's distance below the largest over the temperature. Both keep the
// candidates' order; the second keeps every value finite or -inf with the
// largest at 0, so softmax gives the limit T -> 0 (all probability on the
// largest logit) instead of inf - inf = NaN. Explicitly rounded on the device
// so that nothing is fused.
WORKER_HD float scale_logit(float logit, float max_logit, float temperature) {
#if defined(__CUDA_ARCH__)
    if (isfinite(__fdiv_rn(max_logit, temperature))) return __fdiv_rn(logit, temperature);
    return __fdiv_rn(__fsub_rn(logit, max_logit), temperature);
#else
    if (std::isfinite(max_logit / temperature)) return logit / temperature;
    return (logit - max_logit) / temperature;
#endif
}

}  // namespace worker::sampling
