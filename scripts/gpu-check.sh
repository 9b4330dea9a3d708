#!/usr/bin/env bash
# GPU validation in one command (issue 7), for a machine with an NVIDIA GPU,
# the CUDA toolkit and nothing but this repository (no network needed):
#
#   1. configure and build with the CUDA backend (all default architectures);
#   2. the GPU suite (ctest -L gpu), where a missing GPU is a failure, not a
#      skip; then again with CUDA graphs off (WORKER_CUDA_GRAPHS=0; they
#      are on by default);
#   3. the whole ctest suite;
#   4. compute-sanitizer memcheck and racecheck on every GPU test executable;
#   5. device-to-device bandwidth, then `worker-cli bench --device 0` on the
#      real models of the model cache (if present) and on synthetic models
#      generated here (SmolLM2-, gemma-3-270m- and Llama-3-8B-shaped), each
#      with its distance to the bandwidth floor, with CUDA graphs off and on.
#
# Every step runs even when an earlier one failed; the summary says what ran
# and what it gave, and is printed to stdout and written to $OUT (when set)
# with the logs. Exit status: 0 when every step that ran passed.
#
# Environment: WORKER_BUILD_DIR (default build-gpu), WORKER_MODEL_CACHE
# (default ~/.cache/worker_cuda/models), WORKER_REDUCED_MODELS_DIR (the real
# models cut down by scripts/make-reduced-models.sh, carried to the GPU
# machine; default build/reduced: when present the reduced-model tests are
# required to run), WORKER_GPU_CHECK_SKIP_8B=1 (skip
# generating the 4.5 GB Llama-3-8B-shaped model), WORKER_GPU_CHECK_SANITIZER_FILTER
# (gtest filter for the sanitizer runs; default all but the real models and
# the 8B-sized matmul), WORKER_BENCH_ARGS
# (default "-p 512 -n 128 -r 3").
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${WORKER_BUILD_DIR:-$root/build-gpu}"
cache="${WORKER_MODEL_CACHE:-$HOME/.cache/worker_cuda/models}"
jobs=$(nproc 2>/dev/null || echo 4)
logs="${OUT:-$build}/gpu-check-logs"
mkdir -p "$logs"
summary="$logs/summary.md"
status=0
rows=()
export WORKER_REDUCED_MODELS_DIR="${WORKER_REDUCED_MODELS_DIR:-$root/build/reduced}"
if ls "$WORKER_REDUCED_MODELS_DIR"/*.gguf >/dev/null 2>&1; then
    export WORKER_TEST_REQUIRE_REDUCED_MODELS=1
fi

row() {  # step | result | detail
    rows+=("| $1 | $2 | $3 |")
    echo "== $1: $2 ${3:+($3)}" >&2
}

run_step() {  # name logfile command...
    local name=$1 log=$2
    shift 2
    if "$@" >"$log" 2>&1; then
        row "$name" PASS "log: $(basename "$log")"
    else
        row "$name" "FAIL (exit $?)" "log: $(basename "$log")"
        status=1
    fi
}

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
cuda=$(nvcc --version 2>/dev/null | tail -1)
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit: $commit"
    echo "gpu: ${gpu:-none found by nvidia-smi}"
    echo "toolkit: ${cuda:-nvcc not found}"
} >"$logs/environment.txt"
cat "$logs/environment.txt" >&2

# ---- 1. build ---------------------------------------------------------------------
run_step "configure + build (CUDA on)" "$logs/build.log" bash -c \
    "cmake -S '$root' -B '$build' -G Ninja -DCMAKE_BUILD_TYPE=Release -DWORKER_CUDA=ON && cmake --build '$build' -j $jobs"
if [ ! -x "$build/tests/test_gpu_ops" ]; then
    row "remaining steps" "NOT RUN" "the build failed"
    status=1
else
    export WORKER_TEST_REQUIRE_GPU=1  # a GPU test that cannot find the GPU fails

    # ---- 2, 3. test suites -----------------------------------------------------------
    run_step "ctest -L gpu" "$logs/ctest-gpu.log" \
        ctest --test-dir "$build" -L gpu --output-on-failure --timeout 1800
    run_step "ctest -L gpu, WORKER_CUDA_GRAPHS=0" "$logs/ctest-gpu-eager.log" \
        env WORKER_CUDA_GRAPHS=0 ctest --test-dir "$build" -L gpu --output-on-failure --timeout 1800
    run_step "ctest (whole suite)" "$logs/ctest-all.log" \
        ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 1800
    for log in ctest-gpu ctest-gpu-eager ctest-all; do
        line=$(grep -E 'tests passed|tests failed' "$logs/$log.log" | tail -1)
        skipped=$(grep -c '\*\*\*Skipped' "$logs/$log.log")
        [ -n "$line" ] && row "$log result" "-" "$line; $skipped skipped"
    done

    # ---- 4. compute-sanitizer ----------------------------------------------------------
    sanitizer=$(command -v compute-sanitizer)
    for candidate in "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer" \
        "${CUDA_HOME:-/usr/local/cuda}/compute-sanitizer/compute-sanitizer"; do
        [ -z "$sanitizer" ] && [ -x "$candidate" ] && sanitizer=$candidate
    done
    # The real models and the 8B-sized matmul are left out by default: under
    # the sanitizers they take hours, and the synthetic models cover the same
    # kernels.
    filter="${WORKER_GPU_CHECK_SANITIZER_FILTER:--GpuModelReal.*:*14336x4096*}"
    if [ -n "$sanitizer" ] && [ -x "$sanitizer" ]; then
        for exe in "$build"/tests/test_gpu_*; do
            [ -x "$exe" ] || continue
            name=$(basename "$exe")
            run_step "memcheck $name" "$logs/memcheck-$name.log" timeout 5400 \
                "$sanitizer" --tool memcheck --leak-check full --error-exitcode 1 "$exe" --gtest_filter="$filter"
            run_step "racecheck $name" "$logs/racecheck-$name.log" timeout 5400 \
                "$sanitizer" --tool racecheck --error-exitcode 1 "$exe" --gtest_filter="$filter"
        done
    else
        row "compute-sanitizer" "NOT RUN" "not found"
        status=1
    fi

    # ---- 5. bandwidth and benchmarks -----------------------------------------------------
    bandwidth=""
    if nvcc -O2 -o "$build/gpu-bandwidth" "$root/scripts/gpu/bandwidth.cu" >"$logs/bandwidth.log" 2>&1 &&
        bandwidth=$("$build/gpu-bandwidth" 2>>"$logs/bandwidth.log"); then
        row "device-to-device bandwidth" "$bandwidth GB/s" "1 GiB copies, read + write counted"
    else
        row "device-to-device bandwidth" "FAIL" "log: bandwidth.log"
        status=1
    fi

    models=()
    [ -f "$cache/SmolLM2-135M-Instruct.Q4_1.gguf" ] && models+=("$cache/SmolLM2-135M-Instruct.Q4_1.gguf")
    [ -f "$cache/gemma-3-270m-q4_k_m.gguf" ] && models+=("$cache/gemma-3-270m-q4_k_m.gguf")
    synth="$build/synthetic-models"
    mkdir -p "$synth"
    make_model() {  # file args...
        local file=$1
        shift
        [ -f "$synth/$file" ] || "$build/tests/tools/worker-synthetic-model" "$synth/$file" "$@" >>"$logs/synthetic.log" 2>&1
        if [ -f "$synth/$file" ]; then models+=("$synth/$file"); else row "generate $file" FAIL "log: synthetic.log"; status=1; fi
    }
    make_model smollm2-shape-q4_1.gguf --arch llama --embd 576 --layers 30 --heads 9 --kv-heads 3 --head-dim 64 \
        --ff 1536 --ctx 2048 --type Q4_1 --embd-type Q8_0
    # 640-wide rows cannot hold K-quant super-blocks (the real Q4_K_M file
    # keeps those tensors in 32-element formats); the real file, when
    # cached, covers Q4_K and Q6_K.
    make_model gemma3-270m-shape-q5_0.gguf --arch gemma3 --embd 640 --layers 18 --heads 4 --kv-heads 1 \
        --head-dim 256 --ff 2048 --ctx 2048 --type Q5_0 --embd-type Q8_0
    if [ "${WORKER_GPU_CHECK_SKIP_8B:-0}" != 1 ]; then
        make_model llama3-8b-shape-q4_0.gguf --arch llama --embd 4096 --layers 32 --heads 32 --kv-heads 8 \
            --head-dim 128 --ff 14336 --ctx 4096 --type Q4_0 --embd-type Q4_0
    fi

    bench_rows=()
    for model in "${models[@]}"; do
      for graphs in 0 1; do
        name="$(basename "$model" .gguf)-graphs$graphs"
        # shellcheck disable=SC2086
        if json=$(WORKER_CUDA_GRAPHS=$graphs "$build/tools/worker-cli" bench -m "$model" --device 0 \
            ${WORKER_BENCH_ARGS:--p 512 -n 128 -r 3} --json 2>"$logs/bench-$name.log"); then
            echo "$json" >"$logs/bench-$name.json"
            bench_rows+=("$(python3 - "$model" "$bandwidth" "$json" "$graphs" <<'PY'
import json, os, sys
path, bandwidth, raw, graphs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
r = json.loads(raw)
size = os.path.getsize(path)
decode = r["decode_tps"]["median"]
prefill = r["prefill_tps"]["median"]
load_gbs = size / (r["load_ms"] / 1e3) / 1e9 if r["load_ms"] > 0 else 0.0
floor = ""
if bandwidth:
    # Bytes read per decoded token taken as the file size (every weight once;
    # an upper bound: the embedding table is only gathered).
    ceiling = float(bandwidth) * 1e9 / size
    floor = f"{ceiling:.0f} tok/s ceiling, decode at {100 * decode / ceiling:.0f}%"
print(f"| {os.path.basename(path)} | {'on' if graphs == '1' else 'off'} | {size / 1e6:.0f} MB | {prefill:.0f} | "
      f"{decode:.1f} | {load_gbs:.2f} | "
      f"{r['device_memory_mib']:.0f} MiB | {floor} |")
PY
)")
        else
            row "bench $name" "FAIL" "log: bench-$name.log"
            status=1
        fi
      done
    done
fi

{
    echo "# GPU check"
    echo
    sed 's/^/    /' "$logs/environment.txt"
    echo
    echo "| step | result | detail |"
    echo "|---|---|---|"
    printf '%s\n' "${rows[@]}"
    if [ "${#bench_rows[@]}" -gt 0 ] 2>/dev/null; then
        echo
        echo "worker-cli bench --device 0 ${WORKER_BENCH_ARGS:--p 512 -n 128 -r 3} (medians):"
        echo
        echo "| model | CUDA graphs | file | prefill tok/s | decode tok/s | load GB/s | device memory | bandwidth floor |"
        echo "|---|---|---|---|---|---|---|---|"
        printf '%s\n' "${bench_rows[@]}"
    fi
    echo
    echo "overall: $([ $status = 0 ] && echo PASS || echo FAIL)"
} >"$summary"
cat "$summary"
exit $status
