#!/usr/bin/env bash
# The test command: sets up a fresh machine (apt/pip), fetches the real
# models, builds everything and runs every suite through ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --test
"$root/scripts/fetch-models.sh" all >/dev/null
build=$("$root/scripts/build.sh")
# In this run a missing model is a failure, not a skip.
export WORKER_TEST_REQUIRE_MODELS=1
cd "$build"
ctest --output-on-failure -j "$(nproc)" --timeout 1500
