// The ABI's versioned parameter structs (WorkerInferenceParams,
// WorkerContextParams, ...): a caller compiled against an older, shorter
// struct passes a smaller struct_size, and the fields past it keep their
// defaults. One reading rule for all of them.
#pragma once

#include <cstddef>
#include <cstring>

#include "core/error.h"

namespace worker {

// `defaults` overwritten with the caller's first struct_size bytes. A
// struct_size below `minimum` (the fields every version has) or above
// sizeof(T) (a newer library's struct) is refused, naming `what`.
template <typename T>
T read_versioned(const T& given, T defaults, size_t minimum, const char* what = "params") {
    const size_t size = given.struct_size;
    if (size < minimum || size > sizeof(T)) {
        fail(CUDA_ERROR_INVALID_PARAMETER, what, "->struct_size is ", size, ", expected between ", minimum, " and ",
             sizeof(T));
    }
    std::memcpy(&defaults, &given, size);
    return defaults;
}

}  // namespace worker
