#!/usr/bin/env bash
# Installs the built tree into a temporary prefix and builds a small consumer
# out of tree against it twice: with find_package(WorkerCuda) and with
# pkg-config. Both consumers must run.
set -euo pipefail
src=$1 build=$2 cmake=$3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
"$cmake" --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name 'libworker_cuda.so' | head -n1)")

mkdir -p "$work/consumer"
cat > "$work/consumer/main.c" <<'C'
#include <stdio.h>
#include <worker_ffi.h>
int main(void) {
    int err = -1;
    CudaContext* ctx = cuda_init(WORKER_DEVICE_CPU, &err);
    if (ctx == NULL || err != CUDA_SUCCESS) return 1;
    printf("consumer: worker_cuda %u, %d GPU(s)\n", cuda_api_version(), cuda_get_device_count());
    cuda_destroy(ctx);
    return (cuda_api_version() >> 16) == WORKER_VERSION_MAJOR ? 0 : 1;
}
C
cat > "$work/consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(WorkerCuda 0.1 REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE WorkerCuda::worker_cuda)
CM
"$cmake" -S "$work/consumer" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
"$cmake" --build "$work/cmake-build" >/dev/null
LD_LIBRARY_PATH="$libdir" "$work/cmake-build/consumer"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c99 -Wall -Werror "$work/consumer/main.c" -o "$work/pc-consumer" $(pkg-config --cflags --libs worker_cuda)
LD_LIBRARY_PATH="$libdir" "$work/pc-consumer"
echo "OK: find_package and pkg-config consumers built and ran"
