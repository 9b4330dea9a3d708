// A planted fault, not a fuzz target: a signed overflow on every input. The
// ctest entry fuzz.canary_ubsan runs it through run_one.sh exactly as the
// real targets run and passes only when the run fails with UBSan's report, so
// the smoke run proves that an undefined-behaviour report fails it.
#include <climits>
#include <cstddef>
#include <cstdint>

namespace {
volatile int g_large = INT_MAX;  // volatile: the compiler cannot see the overflow coming
volatile int g_sink = 0;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t size) {
    int v = g_large;
    v += static_cast<int>(size % 2) + 1;  // INT_MAX + 1 or + 2: undefined
    g_sink = v;
    return 0;
}
