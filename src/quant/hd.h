// Marks functions shared by host code and CUDA kernels.
#pragma once

#if defined(__CUDACC__)
#define WORKER_HD __host__ __device__ __forceinline__
#else
#define WORKER_HD inline
#endif
