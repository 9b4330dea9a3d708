#include "cublas_loader.h"

#include <cublas_v2.h>
#include <dlfcn.h>

#include <string>

#include "core/error.h"

#ifndef WORKER_CUBLAS_SONAME
#error "WORKER_CUBLAS_SONAME must name the cuBLAS library to open (CMakeLists.txt sets it)"
#endif

namespace worker::cuda {
namespace {

struct Cublas {
    decltype(&::cublasCreate_v2) create = nullptr;
    decltype(&::cublasDestroy_v2) destroy = nullptr;
    decltype(&::cublasSetStream_v2) set_stream = nullptr;
    decltype(&::cublasSetWorkspace_v2) set_workspace = nullptr;
    cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                              const void*, cudaDataType, int, const void*, cudaDataType, int, const void*, void*,
                              cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
    std::string error;  // empty when every entry point was found
};

template <typename Fn>
void resolve(void* library, const char* name, Fn& fn, std::string& error) {
    fn = reinterpret_cast<Fn>(::dlsym(library, name));
    if (fn == nullptr && error.empty()) error = std::string(WORKER_CUBLAS_SONAME " has no symbol ") + name;
}

Cublas open_cublas() {
    Cublas api;
    void* library = ::dlopen(WORKER_CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
        const char* why = ::dlerror();
        api.error = why != nullptr ? why : "dlopen failed";
        return api;
    }
    // Kept open for the life of the process: handles and kernels refer to it.
    resolve(library, "cublasCreate_v2", api.create, api.error);
    resolve(library, "cublasDestroy_v2", api.destroy, api.error);
    resolve(library, "cublasSetStream_v2", api.set_stream, api.error);
    resolve(library, "cublasSetWorkspace_v2", api.set_workspace, api.error);
    resolve(library, "cublasGemmEx", api.gemm_ex, api.error);
    return api;
}

const Cublas& cublas() {
    static const Cublas api = open_cublas();
    return api;
}

}  // namespace

void require_cublas(int device) {
    const Cublas& api = cublas();
    if (!api.error.empty()) {
        fail(CUDA_ERROR_DEVICE_NOT_FOUND, "GPU ", device,
             " requested but cuBLAS (" WORKER_CUBLAS_SONAME ") cannot be loaded: ", api.error,
             "; install the CUDA runtime libraries or add their folder to LD_LIBRARY_PATH (the CPU device needs "
             "neither)");
    }
}

}  // namespace worker::cuda

// The entry points the backend calls. require_cublas() ran when the context
// was created, so the pointers are set; NOT_INITIALIZED guards the rest.
using worker::cuda::cublas;

extern "C" {

cublasStatus_t CUBLASWINAPI cublasCreate_v2(cublasHandle_t* handle) {
    return cublas().create != nullptr ? cublas().create(handle) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t CUBLASWINAPI cublasDestroy_v2(cublasHandle_t handle) {
    return cublas().destroy != nullptr ? cublas().destroy(handle) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t CUBLASWINAPI cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
    return cublas().set_stream != nullptr ? cublas().set_stream(handle, stream) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t CUBLASWINAPI cublasSetWorkspace_v2(cublasHandle_t handle, void* workspace, size_t bytes) {
    return cublas().set_workspace != nullptr ? cublas().set_workspace(handle, workspace, bytes)
                                             : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t CUBLASWINAPI cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                         int m, int n, int k, const void* alpha, const void* a, cudaDataType a_type,
                                         int lda, const void* b, cudaDataType b_type, int ldb, const void* beta,
                                         void* c, cudaDataType c_type, int ldc, cublasComputeType_t compute_type,
                                         cublasGemmAlgo_t algo) {
    if (cublas().gemm_ex == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
    return cublas().gemm_ex(handle, transa, transb, m, n, k, alpha, a, a_type, lda, b, b_type, ldb, beta, c, c_type,
                            ldc, compute_type, algo);
}

}  // extern "C"
