#!/usr/bin/env bash
# The library loads and runs the CPU device on a machine without the CUDA
# runtime or cuBLAS: it must not depend on them (ELF NEEDED), and the C
# example must generate text when the loader cannot find cuBLAS at all —
# the dynamic loader run with its cache off and no library path, so only the
# system's default folders are searched (the CUDA toolkit's are not), which a
# dlopen probe confirms first.
# Usage: cpu_only_test.sh LIBWORKER_CUDA GENERATE TEST_GENERATE_SH
set -euo pipefail
lib=$1 generate=$2 test_generate=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

needed=$(readelf -d "$lib" | awk '/NEEDED/ {gsub(/[\[\]]/, "", $5); print $5}')
echo "NEEDED: $(echo $needed)"
if echo "$needed" | grep -Eq '^lib(cublas|cublasLt|cudart|cuda)\.so'; then
  echo "FAIL: $lib depends on CUDA libraries"; exit 1
fi

soname=$(strings "$lib" | grep -Eo '^libcublas\.so\.[0-9]+$' | head -1 || true)
if [ -z "$soname" ]; then
  echo "SKIP: this build has no CUDA backend (nothing to hide)"; exit 77
fi
loader=$(readelf -l "$generate" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
hidden=("$loader" --inhibit-cache --library-path "$tmp/empty")
mkdir -p "$tmp/empty"

cat >"$tmp/probe.c" <<'C'
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char** argv) {
    void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    printf("%s: %s\n", argv[1], h ? "loadable" : dlerror());
    return h ? 0 : 3;
}
C
cc -o "$tmp/probe" "$tmp/probe.c" -ldl
"$tmp/probe" "$soname" || echo "(cuBLAS is not installed here at all)"
status=0
"${hidden[@]}" "$tmp/probe" "$soname" || status=$?
if [ "$status" -ne 3 ]; then
  echo "FAIL: $soname is still found with the loader's cache off; cannot hide it here"; exit 1
fi

echo "== the C example, cuBLAS hidden"
"$test_generate" generation "$generate" "${hidden[@]}"
