// cuBLAS is opened with dlopen when a GPU context is first created, not
// linked: the library loads, and the CPU device runs, on a machine without
// cuBLAS (≈570 MB with cuBLASLt). cublas_loader.cpp defines the few cuBLAS
// entry points the backend calls as forwards to the opened library, so the
// call sites use the cuBLAS API unchanged.
#pragma once

namespace worker::cuda {

// Opens libcublas.so.<CUDA major> once (the loader's search path:
// LD_LIBRARY_PATH, the ld.so cache, RUNPATH). Throws
// Error(CUDA_ERROR_DEVICE_NOT_FOUND) naming the library and the loader's
// reason when it cannot, for GPU `device`.
void require_cublas(int device);

}  // namespace worker::cuda
