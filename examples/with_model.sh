#!/usr/bin/env bash
# Runs a binding's generation tests only when the real model is there:
#
#   with_model.sh COMMAND...
#
# cargo test and pytest count a test that returns early (Rust) or skips
# (pytest) as a success, so without the model ctest would report the
# generation suites as passed. This wrapper exits 77 instead, which ctest
# reports as a skip with this reason (SKIP_RETURN_CODE); with
# WORKER_TEST_REQUIRE_MODELS=1 (as in CI) a missing model fails the test.
set -euo pipefail
cache="${WORKER_MODEL_CACHE:-$HOME/.cache/worker_cuda/models}"
model="$cache/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -f "$model" ]; then
  if [ "${WORKER_TEST_REQUIRE_MODELS:-0}" = 1 ]; then
    echo "FAIL: $model is missing (run scripts/fetch-models.sh)" >&2
    exit 1
  fi
  echo "skipped: $model not fetched (run scripts/fetch-models.sh)"
  exit 77
fi
exec "$@"
