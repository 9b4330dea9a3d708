// IEEE arithmetic rounded to nearest after every operation, the same on the
// host and in CUDA kernels. nvcc contracts a product followed by an add into
// one FMA (one rounding instead of two) unless the product is written with
// an explicit _rn intrinsic; the host code is compiled with
// -ffp-contract=off, so plain operators already round each step there.
// Code whose device results must equal the host's bit for bit (the
// dequantizers, activation quantization, the sampler's decisions) writes
// such products and sums with these. The four functions look alike on
// purpose: each names its own intrinsic, and no template over the operation
// would be shorter than the four cases.
#pragma once

#include "quant/hd.h"

namespace worker {

// a * b rounded on its own, never contracted with a following add.
WORKER_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

WORKER_HD double mul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
    return __dmul_rn(a, b);
#else
    return a * b;
#endif
}

WORKER_HD double add_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
    return __dadd_rn(a, b);
#else
    return a + b;
#endif
}

WORKER_HD double div_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
    return __ddiv_rn(a, b);
#else
    return a / b;
#endif
}

}  // namespace worker
