#!/usr/bin/env bash
# The test command: sets up a fresh machine (apt/pip), fetches the real
# models, and runs every suite through ctest in four builds:
#   1. Release with the CUDA backend (when nvcc exists): every suite, the CPU
#      golden and op tests once per instruction-set level (ctest names
#      isa.<level>.*; a level this CPU lacks is a skip that says so), and the
#      reduced real models the GPU suite runs on (made here);
#   2. AddressSanitizer + UndefinedBehaviorSanitizer: the unit suites;
#   3. ThreadSanitizer: the unit suites;
#   4. libFuzzer smoke runs (clang, ASan + UBSan), WORKER_FUZZ_SECONDS each (60),
#      and the planted UBSan fault that must fail its run.
# WORKER_TEST_QUICK=1 runs the first build only. Whatever happens, the output
# ends with what did not run: every skipped test grouped by its reason, and
# their count (scripts/skip-summary.py over each stage's ctest JUnit file).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --test
"$root/scripts/fetch-models.sh" all >/dev/null
# In these runs a missing model is a failure, not a skip.
export WORKER_TEST_REQUIRE_MODELS=1
jobs=$(nproc)

stages=()
summary() {
  local status=$?
  python3 "$root/scripts/skip-summary.py" "${stages[@]}" || true
  exit "$status"
}
trap summary EXIT

build=$("$root/scripts/build.sh")
# The reduced real models (scripts/make-reduced-models.sh): ReducedModelFile.*
# check them here, so they cannot skip.
WORKER_BUILD_DIR="$build" "$root/scripts/make-reduced-models.sh" "$build/reduced" >&2
export WORKER_REDUCED_MODELS_DIR="$build/reduced" WORKER_TEST_REQUIRE_REDUCED_MODELS=1
stages+=("release=$build/ctest-junit.xml")
rm -f "$build/ctest-junit.xml"
(cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 1500 --output-junit "$build/ctest-junit.xml")
[ "${WORKER_TEST_QUICK:-0}" = 1 ] && exit 0

echo "== AddressSanitizer + UndefinedBehaviorSanitizer ==" >&2
asan=$(WORKER_BUILD_DIR="$root/build-asan" "$root/scripts/build.sh" -DWORKER_CUDA=OFF \
  -DWORKER_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo)
stages+=("asan+ubsan=$asan/ctest-junit.xml")
rm -f "$asan/ctest-junit.xml"
(cd "$asan" && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  ctest -L unit --output-on-failure -j "$jobs" --timeout 1500 --output-junit "$asan/ctest-junit.xml")

echo "== ThreadSanitizer ==" >&2
tsan=$(WORKER_BUILD_DIR="$root/build-tsan" "$root/scripts/build.sh" -DWORKER_CUDA=OFF \
  -DWORKER_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo)
stages+=("tsan=$tsan/ctest-junit.xml")
rm -f "$tsan/ctest-junit.xml"
(cd "$tsan" && TSAN_OPTIONS=halt_on_error=1 ctest -L unit --output-on-failure -j "$jobs" --timeout 1500 \
  --output-junit "$tsan/ctest-junit.xml")

echo "== libFuzzer smoke ==" >&2
fuzz="${WORKER_FUZZ_BUILD_DIR:-$root/build-fuzz}"
stages+=("fuzz=$fuzz/ctest-junit.xml")
rm -f "$fuzz/ctest-junit.xml"
"$root/scripts/fuzz.sh" "${WORKER_FUZZ_SECONDS:-60}"
