#!/usr/bin/env bash
# Compiles tests/abi/beside_cuda_h.c in C99 and C++ with <cuda.h> included
# before and after the public headers (issue 16). Exits 77 (ctest: skipped,
# with the reason) when no <cuda.h> exists on this machine.
#   check_beside_cuda_h.sh CC CXX INCLUDE_DIR CUDA_INCLUDE_DIR SOURCE_DIR
set -euo pipefail
cc=$1 cxx=$2 include=$3 cuda_include=$4 src=$5
if [ ! -f "$cuda_include/cuda.h" ]; then
    echo "SKIPPED: no cuda.h in '$cuda_include' (the CUDA toolkit is not installed)"
    exit 77
fi
file="$src/tests/abi/beside_cuda_h.c"
status=0
for order in WORKER_TEST_CUDA_FIRST WORKER_TEST_CUDA_AFTER; do
    for lang in c c++; do
        if [ "$lang" = c ]; then compiler=$cc std=-std=c99; else compiler=$cxx std=-std=c++11; fi
        if "$compiler" "$std" -Wall -Wextra -Werror -fsyntax-only -D"$order" -I"$include" -I"$cuda_include" \
            -x "$lang" "$file"; then
            echo "ok: $lang, $order"
        else
            echo "FAILED: $lang, $order"
            status=1
        fi
    done
done
exit $status
