#include <algorithm>
#include <cstdint>

#include "core/error.h"
#include "cuda_backend_impl.h"

namespace worker::cuda {

namespace {

// Up to this many activation rows a matmul runs the matrix-vector kernels
// (weights read once per row, from L2 after the first); beyond it, cuBLAS.
constexpr int64_t kMaxMatvecRows = 8;
// Budget of the FP16 buffer a quantized weight is expanded into, a chunk of
// rows at a time, for cuBLAS.
constexpr size_t kDequantChunkBytes = size_t{64} << 20;
// cuBLAS workspace, given from our accounted scratch (the size NVIDIA
// recommends for Hopper; plenty for Ampere/Ada).
constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;

}  // namespace

using model::Tensor;

void CudaBackend::matmul(const Tensor& w, const Tensor& x, const Tensor& out) {
    const OpScope scope(*this);
    require_type(x, GgmlType::F32, "matmul", "x");
    require_type(out, GgmlType::F32, "matmul", "out");
    if (x.ne0 != w.ne0 || out.ne0 != w.ne1 || out.ne1 != x.ne1) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "matmul: shapes do not match: w [", w.ne1, "][", w.ne0, "], x [", x.ne1, "][",
             x.ne0, "], out [", out.ne1, "][", out.ne0, "]");
    }
    const int64_t n = x.ne1;
    const int64_t xs = stride_of(x, 4, "matmul", "x");
    const int64_t os = stride_of(out, 4, "matmul", "out");
    if (n == 0 || w.ne1 == 0) return;
    const TypeTraits traits = type_traits(w.type);
    if (n <= kMaxMatvecRows && traits.can(kFloatMatmul)) {
        launch_matvec_float(w.type, w.data, w.nb1, w.ne1, w.ne0, f32(x), xs, n, f32(out), os, stream_);
        return;
    }
    if (n <= kMaxMatvecRows && traits.can(kCudaMatvec)) {
        if (w.ne0 % 32 != 0) fail(CUDA_ERROR_INFERENCE_FAILED, "matmul: row of ", w.ne0, " is not a multiple of 32");
        if (w.type == GgmlType::Q4_K && (reinterpret_cast<uintptr_t>(w.data) % 16 != 0 || w.nb1 % 16 != 0)) {
            fail(CUDA_ERROR_INFERENCE_FAILED, "matmul: Q4_K weight rows are not 16-byte aligned");
        }
        auto* xq = decode_activation_blocks(w.ne0);
        launch_quantize_q8(w.type, f32(x), xs, w.ne0, n, xq, stream_);
        launch_matvec_q8(w.type, w.data, w.nb1, w.ne1, w.ne0, xq, n, f32(out), os, stream_);
        return;
    }
    gemm(w, x, xs, out, os);
}

// The 8-bit activation blocks of the matrix-vector path (at most
// kMaxMatvecRows rows): sized once for the widest weight the backend
// holds, so that neither a longer prompt nor another session replaces
// the buffer the captured decode steps point at.
BlockQ8Act* CudaBackend::decode_activation_blocks(int64_t cols) {
    const int64_t widest = std::max(max_weight_cols_, cols);
    const size_t bytes = static_cast<size_t>(kMaxMatvecRows * (widest / 32)) * sizeof(BlockQ8Act);
    return static_cast<BlockQ8Act*>(ensure(q8_decode_, bytes, "quantized activations (decode)", Graphs::UseIt));
}

// out = x w^T through cuBLAS: F32 weights directly; F16 weights and
// quantized ones (expanded to half a chunk of rows at a time into a
// reused scratch buffer) against half activations, each activation row
// scaled by a power of two into half's range first and its products
// scaled back after (half_scaling.h). FP32 accumulation throughout.
void CudaBackend::gemm(const Tensor& w, const Tensor& x, int64_t xs, const Tensor& out, int64_t os) {
    const int64_t rows = w.ne1, cols = w.ne0, n = x.ne1;
    if (rows > 0x7FFFFFFF || cols > 0x7FFFFFFF || n > 0x7FFFFFFF || xs > 0x7FFFFFFF || os > 0x7FFFFFFF) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "matmul: [", rows, "][", cols, "] x ", n, " exceeds cuBLAS's int sizes");
    }
    if (cublas_workspace_.empty()) {
        ensure(cublas_workspace_, kCublasWorkspaceBytes, "cuBLAS workspace", Graphs::DoNotUseIt);
        check_cublas(cublasSetWorkspace(cublas_, cublas_workspace_.get(), cublas_workspace_.size()),
                     "cublasSetWorkspace");
    }
    const float alpha = 1.0f, beta = 0.0f;
    if (w.type == GgmlType::F32) {
        check_cublas(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows), static_cast<int>(n),
                                  static_cast<int>(cols), &alpha, w.data, CUDA_R_32F, static_cast<int>(w.nb1 / 4),
                                  x.data, CUDA_R_32F, static_cast<int>(xs), &beta, out.data, CUDA_R_32F,
                                  static_cast<int>(os), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                     "cublasGemmEx (F32 matmul)");
        return;
    }
    if (w.type != GgmlType::F16 && !type_traits(w.type).can(kCudaDequant)) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "matmul: weight type ", type_name(w.type), " is not supported");
    }
    auto* xh = static_cast<uint16_t*>(
        ensure(half_x_, static_cast<size_t>(n * cols) * 2, "half activations", Graphs::DoNotUseIt));
    auto* exponents = static_cast<int32_t*>(
        ensure(row_exponents_, static_cast<size_t>(n) * sizeof(int32_t), "activation row scales", Graphs::DoNotUseIt));
    if (w.type == GgmlType::F16 || cols % 32 != 0) {
        launch_to_half_scaled(f32(x), xs, cols, n, xh, exponents, stream_);
    } else {
        // Quantized weights: the activations go through the same 8-bit
        // quantization as on the CPU backend (and the decode path), then to
        // half, so prefill and decode round the activations alike.
        auto* xq =
            static_cast<BlockQ8Act*>(ensure(q8_prefill_, static_cast<size_t>(n * (cols / 32)) * sizeof(BlockQ8Act),
                                            "quantized activations (prefill)", Graphs::DoNotUseIt));
        launch_quantize_q8(w.type, f32(x), xs, cols, n, xq, stream_);
        launch_q8_to_half_scaled(xq, cols, n, xh, exponents, stream_);
    }
    if (w.type == GgmlType::F16) {
        check_cublas(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows), static_cast<int>(n),
                                  static_cast<int>(cols), &alpha, w.data, CUDA_R_16F, static_cast<int>(w.nb1 / 2), xh,
                                  CUDA_R_16F, static_cast<int>(cols), &beta, out.data, CUDA_R_32F, static_cast<int>(os),
                                  CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                     "cublasGemmEx (F16 matmul)");
    } else {
        const int64_t chunk_rows =
            std::clamp<int64_t>(static_cast<int64_t>(kDequantChunkBytes / (static_cast<size_t>(cols) * 2)), 1, 65535);
        const int64_t buffer_rows = std::min(chunk_rows, rows);
        auto* wh = static_cast<uint16_t*>(ensure(half_w_, static_cast<size_t>(buffer_rows * cols) * 2,
                                                 "dequantized weight chunk", Graphs::DoNotUseIt));
        for (int64_t r0 = 0; r0 < rows; r0 += buffer_rows) {
            const int64_t rc = std::min(buffer_rows, rows - r0);
            launch_dequantize_f16(w.type, w.data, w.nb1, r0, rc, cols, wh, stream_);
            check_cublas(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rc), static_cast<int>(n),
                                      static_cast<int>(cols), &alpha, wh, CUDA_R_16F, static_cast<int>(cols), xh,
                                      CUDA_R_16F, static_cast<int>(cols), &beta, f32(out) + r0, CUDA_R_32F,
                                      static_cast<int>(os), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                         "cublasGemmEx (dequantized matmul)");
        }
    }
    launch_unscale_rows(f32(out), os, rows, n, exponents, stream_);
}

}  // namespace worker::cuda
