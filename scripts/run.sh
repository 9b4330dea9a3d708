#!/usr/bin/env bash
# The main job: sets up a fresh machine, builds, fetches the default model
# (SmolLM2-135M-Instruct) and generates text with it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
model=$("$root/scripts/fetch-models.sh" smollm2)
build=$("$root/scripts/build.sh")
"$build/tools/worker-cli" devices
"$build/tools/worker-cli" generate -m "$model" --chat -p "${1:-Write a haiku about GPU computing}" -n "${2:-64}" --temp 0 --repeat-penalty 1.1
