// Kernels only the GPU tests launch, to put a device into states the library
// must survive: a kernel fault (the CUDA context is poisoned for the whole
// process) and every multiprocessor busy. Built only with the CUDA backend,
// into the test_gpu executable — never into the library.
#pragma once

#include <string>

namespace worker::test {

// Launches a one-thread kernel that stores through an invalid address on
// `device`, waits for it, and returns the name of the error the wait
// returned ("cudaErrorIllegalAddress" is what a fault gives).
std::string fault_the_device(int device);

// Fills every multiprocessor of `device` with blocks that spin for about
// `ms` milliseconds, on a stream of their own; returns at once with "" or the
// name of the error that stopped the launch.
std::string occupy_the_device(int device, int ms);

}  // namespace worker::test
