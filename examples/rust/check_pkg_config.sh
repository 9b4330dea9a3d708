#!/usr/bin/env bash
# Installs the built tree into a temporary prefix and runs the Rust error
# tests with worker-cuda-sys finding the library through pkg-config alone
# (no WORKER_CUDA_LIB_DIR).
#
#   check_pkg_config.sh BUILD_DIR CMAKE CARGO CARGO_TARGET_DIR
set -euo pipefail
build=$1 cmake=$2 cargo=$3
export CARGO_TARGET_DIR=$4
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
"$cmake" --install "$build" --prefix "$work/prefix" >/dev/null
pc=$(find "$work/prefix" -name worker_cuda.pc | head -n1)
lib=$(find "$work/prefix" -name 'libworker_cuda.so' | head -n1)
unset WORKER_CUDA_LIB_DIR WORKER_CUDA_INCLUDE_DIR
export PKG_CONFIG_PATH=$(dirname "$pc") LD_LIBRARY_PATH=$(dirname "$lib")
cd "$(dirname "$0")"
"$cargo" test --offline --test errors
