#!/usr/bin/env bash
# The shared library exports exactly the API symbols of exports.map, and has
# its SONAME set to libworker_cuda.so.<major>.
set -euo pipefail
lib=$1 map=$2 major=$3
expected=$(grep -oE '^\s+cuda_[a-z_]+;' "$map" | tr -d ' ;' | sort)
actual=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort)
if [ "$expected" != "$actual" ]; then
  echo "exported symbols differ from exports.map:"; diff <(echo "$expected") <(echo "$actual") || true; exit 1
fi
count=$(echo "$actual" | wc -l)
[ "$count" -eq 27 ] || { echo "expected 27 exported symbols, found $count"; exit 1; }
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = "libworker_cuda.so.$major" ] || { echo "SONAME is '$soname', expected libworker_cuda.so.$major"; exit 1; }
echo "OK: 27 symbols exported, SONAME $soname"
