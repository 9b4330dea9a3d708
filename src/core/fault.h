// Test-only fault injection. Production code calls the check functions at
// the places where a failure can really happen; they do nothing (one relaxed
// atomic load) unless a test arms them through the functions below.
#pragma once

#include <cstdint>

namespace worker::fault {

enum class Site : int {
    Boundary = 0,    // entry of every core operation called by the ABI layer
    Allocation = 1,  // host or device memory allocation of model/inference state
    FileRead = 2,    // opening or reading a model file
    ThreadStart = 3, // starting a CPU worker thread
    kCount = 4,
};

enum class Kind : int {
    WorkerError = 0,  // worker::Error(CUDA_ERROR_UNKNOWN, ...)
    BadAlloc = 1,     // std::bad_alloc
    StdException = 2, // std::runtime_error
    NonStd = 3,       // a thrown int: not derived from std::exception
};

// Makes the n-th (1-based) check of `site` from now on throw `kind`;
// n = 0 disarms the site.
void arm(Site site, uint64_t nth, Kind kind);
void disarm_all();
// Number of checks of `site` made since it was last armed or disarmed.
uint64_t count(Site site);

// The check itself: throws when armed and due.
void check(Site site);

}  // namespace worker::fault
