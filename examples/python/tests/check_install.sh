#!/usr/bin/env bash
# Checks that `pip install` of the package works and gives an importable
# worker_cuda that finds the library. Installs a copy of the source into a
# temporary folder, so that the build leaves nothing in the source tree and
# needs no network.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp -r "$src/pyproject.toml" "$src/README.md" "$src/src" "$work/"
python3 -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
  --target "$work/site" "$work"
cd "$work"
PYTHONPATH="$work/site" python3 - "$work/site" <<'PY'
import sys
import worker_cuda
assert worker_cuda.__file__.startswith(sys.argv[1]), worker_cuda.__file__
print("installed worker_cuda", worker_cuda.__version__, "library API", worker_cuda.api_version())
PY
