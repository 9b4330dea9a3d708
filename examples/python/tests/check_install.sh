#!/usr/bin/env bash
# Checks the package as users install it, from a copy of the source in a
# temporary folder (the build leaves nothing in the source tree and needs no
# network):
#
#  1. `pip install --target` gives an importable worker_cuda that carries the
#     library ($WORKER_CUDA_LIBRARY, as ctest sets it, is what setup.py bundles);
#  2. `pip wheel` gives a platform wheel holding worker_cuda/libworker_cuda.so.0;
#     installed into a fresh virtual environment, with no WORKER_CUDA_LIBRARY,
#     PYTHONPATH or LD_LIBRARY_PATH, the package loads that bundled copy, and
#     with the real model (when fetched) tokenizes, renders the chat template
#     and generates.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir "$work/pkg"
cp -r "$src/pyproject.toml" "$src/setup.py" "$src/README.md" "$src/src" "$work/pkg/"
pip_quiet=(--quiet --disable-pip-version-check --no-deps --no-build-isolation)

# 1. pip install --target
python3 -m pip install "${pip_quiet[@]}" --target "$work/site" "$work/pkg"
test -f "$work/site/worker_cuda/libworker_cuda.so.0" || { echo "pip install did not bundle the library" >&2; exit 1; }
(cd "$work" && PYTHONPATH="$work/site" python3 - "$work/site" <<'PY'
import sys
import worker_cuda
assert worker_cuda.__file__.startswith(sys.argv[1]), worker_cuda.__file__
print("installed worker_cuda", worker_cuda.__version__, "library API", worker_cuda.api_version())
PY
)

# 2. a wheel, installed in a fresh virtual environment
python3 -m pip wheel "${pip_quiet[@]}" --wheel-dir "$work/dist" "$work/pkg"
wheel=$(ls "$work"/dist/worker_cuda-*.whl)
case "$wheel" in
  *-py3-none-linux_*.whl) ;;
  *) echo "the wheel is not tagged for the platform: $wheel" >&2; exit 1 ;;
esac
python3 -c 'import sys, zipfile; sys.exit("worker_cuda/libworker_cuda.so.0" not in zipfile.ZipFile(sys.argv[1]).namelist())' "$wheel" \
  || { echo "$wheel does not carry worker_cuda/libworker_cuda.so.0" >&2; exit 1; }
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$wheel"
model="${WORKER_MODEL_CACHE:-$HOME/.cache/worker_cuda/models}/SmolLM2-135M-Instruct.Q4_1.gguf"
cd "$work"
env -u WORKER_CUDA_LIBRARY -u PYTHONPATH -u LD_LIBRARY_PATH \
  "$work/venv/bin/python" - "$work/venv" "$model" <<'PY'
import os
import sys
import worker_cuda

venv, model_path = sys.argv[1], sys.argv[2]
bundled = worker_cuda.bundled_library()
assert bundled is not None and str(bundled).startswith(os.path.realpath(venv)), bundled
assert worker_cuda.library()._name == str(bundled), worker_cuda.library()._name
print("the wheel's worker_cuda loads", bundled)
if os.path.isfile(model_path):
    with worker_cuda.Context() as ctx, ctx.load_model(model_path) as model:
        assert model.tokenize("Hello world", add_special=False) == [19556, 905]
        prompt = model.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}])
        assert prompt.endswith("<|im_start|>assistant\n"), prompt
        text = model.chat([{"role": "user", "content": "What is the capital of France?"}],
                          max_tokens=4, temperature=0.0).text()
        assert text, "nothing generated"
        print("generated through the bundled library:", repr(text))
else:
    print("model not fetched: generation through the wheel not checked")
PY
