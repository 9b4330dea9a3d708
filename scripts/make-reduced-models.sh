#!/usr/bin/env bash
# Writes the reduced real models the GPU suite runs on: SmolLM2 and gemma-3
# cut to their first blocks and tokens by the test writer (the specs are
# reduced_models() in tests/support/reduce_model.h), small enough together
# (33 MB) to travel to a GPU machine that has nothing but the repository.
#
#   scripts/make-reduced-models.sh [OUT_DIR]
#
# OUT_DIR: else $WORKER_REDUCED_MODELS_DIR, else build/reduced. The sources
# come from the model cache (scripts/fetch-models.sh). Builds the program
# make_reduced_models into ${WORKER_BUILD_DIR:-build} when it is missing, with
# ${WORKER_BUILD_JOBS:-$(nproc)} jobs. The same sources always give the same
# bytes. Prints each file's path and size, then the total.
#
# scripts/gpu-check.sh --prepare calls it to put them in build-gpu/device/models,
# the folder carried to the GPU machine, whose run phase then points the tests
# at them and makes a missing one a failure rather than a skip:
#
#   export WORKER_REDUCED_MODELS_DIR=$PWD/build-gpu/device/models
#   export WORKER_TEST_REQUIRE_REDUCED_MODELS=1
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${WORKER_BUILD_DIR:-$root/build}"
out="${1:-${WORKER_REDUCED_MODELS_DIR:-$root/build/reduced}}"
jobs="${WORKER_BUILD_JOBS:-$(nproc)}"

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
fi
if ! cmake --build "$build" --target make_reduced_models -j "$jobs" >&2; then
  echo "make-reduced-models: cannot build make_reduced_models in $build" >&2
  echo "  (tests/CMakeLists.txt must say add_subdirectory(tools))" >&2
  exit 1
fi
tool="$build/tests/tools/make_reduced_models"

mkdir -p "$out"
"$tool" "$out" | awk '{ printf "%s %d bytes (%.1f MB)\n", $1, $2, $2 / 1e6; total += $2 }
                      END { printf "total %d bytes (%.1f MB)\n", total, total / 1e6 }'
