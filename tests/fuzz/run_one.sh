#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time from its seeds; fails on any
# crash, leak, sanitizer report or timeout.
set -euo pipefail
binary=$1 name=$2 src=$3 build=$4 seconds=$5
corpus="$build/corpus/$name"
artifacts="$build/artifacts/$name"
mkdir -p "$corpus" "$artifacts"
if [ -d "$src/tests/fuzz/seeds/$name" ]; then cp -n "$src/tests/fuzz/seeds/$name"/* "$corpus"/ 2>/dev/null || true; fi
seeder="$(dirname "$binary")/seed_$name"
if [ -x "$seeder" ]; then "$seeder" "$corpus"; fi
dict=()
if [ -f "$src/tests/fuzz/$name.dict" ]; then dict=(-dict="$src/tests/fuzz/$name.dict"); fi
# The targets are built with -fno-sanitize-recover=all; these options make a
# report fatal even in a binary that was not, and come last so that nothing in
# the caller's environment turns that off.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}halt_on_error=1:detect_leaks=1"
exec "$binary" "$corpus" "${dict[@]}" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
  -artifact_prefix="$artifacts/" -print_final_stats=1
