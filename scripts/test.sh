#!/usr/bin/env bash
# The test command: sets up a fresh machine (apt/pip), fetches the real
# models, and runs every suite through ctest in four builds:
#   1. Release with the CUDA backend (when nvcc exists): every suite;
#   2. AddressSanitizer + UndefinedBehaviorSanitizer: the unit suites;
#   3. ThreadSanitizer: the unit suites;
#   4. libFuzzer smoke runs (clang, ASan + UBSan), WORKER_FUZZ_SECONDS each (60).
# WORKER_TEST_QUICK=1 runs the first build only.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --test
"$root/scripts/fetch-models.sh" all >/dev/null
# In these runs a missing model is a failure, not a skip.
export WORKER_TEST_REQUIRE_MODELS=1
jobs=$(nproc)

build=$("$root/scripts/build.sh")
(cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 1500)
[ "${WORKER_TEST_QUICK:-0}" = 1 ] && exit 0

echo "== AddressSanitizer + UndefinedBehaviorSanitizer ==" >&2
asan=$(WORKER_BUILD_DIR="$root/build-asan" "$root/scripts/build.sh" -DWORKER_CUDA=OFF \
  -DWORKER_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo)
(cd "$asan" && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  ctest -L unit --output-on-failure -j "$jobs" --timeout 1500)

echo "== ThreadSanitizer ==" >&2
tsan=$(WORKER_BUILD_DIR="$root/build-tsan" "$root/scripts/build.sh" -DWORKER_CUDA=OFF \
  -DWORKER_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo)
(cd "$tsan" && TSAN_OPTIONS=halt_on_error=1 ctest -L unit --output-on-failure -j "$jobs" --timeout 1500)

echo "== libFuzzer smoke ==" >&2
"$root/scripts/fuzz.sh" "${WORKER_FUZZ_SECONDS:-60}"
