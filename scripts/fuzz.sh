#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for the
# given number of seconds (default 60) through ctest (label "fuzz").
#
#   scripts/fuzz.sh [SECONDS] [ctest -R regex]
#
# Corpora grow in ${WORKER_FUZZ_BUILD_DIR:-build-fuzz}/corpus/<target>; crash
# inputs land in .../artifacts/<target>/ and make the run fail. ctest's JUnit
# report goes to .../ctest-junit.xml (scripts/test.sh summarises it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
filter=${2:-.}
build="${WORKER_FUZZ_BUILD_DIR:-$root/build-fuzz}"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DWORKER_CUDA=OFF -DWORKER_FUZZ=ON -DWORKER_SANITIZE=address,undefined -DWORKER_FUZZ_SECONDS="$seconds" >&2
targets=()
shopt -s nullglob
for f in "$root"/tests/fuzz/fuzz_*.cpp "$root"/tests/fuzz/seed_*.cpp "$root"/tests/fuzz/canary_*.cpp; do targets+=("$(basename "$f" .cpp)"); done
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" >&2
cd "$build"
ctest -L fuzz -R "$filter" --output-on-failure --output-junit "$build/ctest-junit.xml"
