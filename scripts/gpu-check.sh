#!/usr/bin/env bash
# The GPU check, in two phases made to fit one 15-minute GPU window (issue 13).
#
#   scripts/gpu-check.sh --prepare          here, on a machine without a GPU
#   scripts/gpu-check.sh --run              on the GPU machine (compiles nothing)
#   scripts/gpu-check.sh --run --dry-run    the run phase without any GPU step
#   scripts/gpu-check.sh --carry-report     what travels to the GPU machine, and its size
#   scripts/gpu-check.sh --list-steps       the run phase's steps, one a line
#
# --prepare configures $WORKER_GPU_BUILD_DIR (default build-gpu) for sm_90
# (H100/H200) only, builds what the GPU machine runs (test_gpu, worker-cli,
# worker-synthetic-model, and the bandwidth probe), cuts the reduced real
# models from the model cache (scripts/fetch-models.sh), and puts all of it,
# stripped, into ONE ignored folder, $WORKER_GPU_DEVICE_DIR (default
# build-gpu/device): bin/, models/, ctest/ (the GPU tests' ctest file with
# its paths made relative), lib/ (libpcre2-8, used only when the GPU machine
# lacks it) and manifest.txt. It ends with --carry-report, which prints the
# carry list for the device tool and fails when the tracked tree plus the
# folder exceed 60 MiB.
#
# --run writes at most 6 files into $OUT (else build-gpu/gpu-check-out):
# summary.md (one row per step: PASS / FAIL / SKIP, seconds, figure or
# reason; its table goes into docs/gpu-validation.md), setup.log, ctest.log,
# bench.log, bench.jsonl, sanitizer.log. Each step has a time cap, and the whole run a
# budget ($WORKER_GPU_CHECK_BUDGET_S, default 420 s): a step that runs out
# is reported and the rest still run; a step the budget no longer allows is
# reported as not run. The summary is rewritten after every step, so a run
# stopped from outside still leaves one. Exit status 0 only when the verdict
# is PASS: every step passed, or was skipped for a reason the step accepts
# (compute-sanitizer refusing the device). The reduced real models must
# run on the GPU: a run where their tests skipped or did not run is a FAIL.
#
# A GPU step never passes without a GPU: with --dry-run, or when no CUDA
# device answers, every GPU step is a FAIL that says why.
#
# Environment: WORKER_GPU_BUILD_DIR, WORKER_GPU_DEVICE_DIR, OUT,
# WORKER_GPU_CHECK_BUDGET_S, WORKER_GPU_CHECK_SANITIZER_FILTER (gtest
# filter of the sanitizer runs), WORKER_BENCH_ARGS (default
# "-p 512 -n 128 -r 3"), WORKER_MODEL_CACHE (for --prepare).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${WORKER_GPU_BUILD_DIR:-$root/build-gpu}")
device_dir=$(realpath -m "${WORKER_GPU_DEVICE_DIR:-$build/device}")
carry_limit_bytes=$((60 * 1024 * 1024))
bench_args="${WORKER_BENCH_ARGS:--p 512 -n 128 -r 3}"
# The sanitizer runs: every op once on small shapes (20 tests; the CPU
# reference parts run at full speed, every kernel launch is instrumented).
sanitizer_filter_default='GpuOps.*:*GpuAttention.*smollm2*:*GpuEmbed.*/Q4_K:*GpuMatmul.*/Q4_K_640x2048:*GpuSampling.*/vocab_300'

# ---- the run phase's steps ---------------------------------------------------------------

# name|cap in seconds|gpu (the step needs a GPU) or host
steps_table() {
    cat <<'EOF'
binaries|30|host
gpu|20|gpu
ctest -L gpu|200|gpu
reduced real models ran|1|gpu
bandwidth|20|gpu
bench smollm2-reduced graphs off|25|gpu
bench smollm2-reduced graphs on|25|gpu
bench gemma3-reduced graphs off|25|gpu
bench gemma3-reduced graphs on|25|gpu
memcheck|60|gpu
racecheck|60|gpu
synthetic 8B models|120|host
bench llama3-8b-shape-q4_0 graphs off|30|gpu
bench llama3-8b-shape-q4_0 graphs on|30|gpu
bench llama3-8b-shape-q4_k graphs off|30|gpu
bench llama3-8b-shape-q4_k graphs on|30|gpu
EOF
}

step_names() { steps_table | cut -d'|' -f1; }
step_cap() { steps_table | awk -F'|' -v n="$1" '$1 == n { print $2 }'; }

# ---- results and the summary ----------------------------------------------------------

declare -gA result=() seconds=() figure=()
bench_rows=()
env_lines=()
out_dir=""
run_started=0
deadline=0

now() { date +%s; }

# record NAME STATUS SECONDS FIGURE — STATUS is PASS, FAIL or SKIP.
record() {
    result["$1"]=$2
    seconds["$1"]=$3
    figure["$1"]=$(printf '%s' "$4" | tr '\n|' '  ' | cut -c1-300)
    echo "== $1: $2 ($3 s) $4" >&2
    write_summary
}

verdict() {
    local n fails=0 skips=0 total=0
    while IFS= read -r n; do
        total=$((total + 1))
        case "${result[$n]:-}" in
            PASS) ;;
            SKIP) skips=$((skips + 1)) ;;
            *) fails=$((fails + 1)) ;;
        esac
    done < <(step_names)
    if [ "$fails" -eq 0 ]; then
        echo "PASS ($((total - skips)) passed, $skips skipped of $total steps)"
    else
        echo "FAIL ($fails failed or not run, $skips skipped of $total steps)"
    fi
}

write_summary() {
    [ -n "$out_dir" ] || return 0
    local n
    {
        echo "# GPU check"
        echo
        echo "| | |"
        echo "|---|---|"
        echo "| verdict | **$(verdict)** |"
        printf '%s\n' "${env_lines[@]}"
        echo "| wall time | $(($(now) - run_started)) s of a $((deadline - run_started)) s budget |"
        echo
        echo "| step | result | seconds | figure or reason |"
        echo "|---|---|---|---|"
        while IFS= read -r n; do
            if [ -n "${result[$n]:-}" ]; then
                echo "| $n | ${result[$n]} | ${seconds[$n]} | ${figure[$n]} |"
            else
                echo "| $n | FAIL | - | not reached: the run stopped before this step |"
            fi
        done < <(step_names)
        if [ "${#bench_rows[@]}" -gt 0 ]; then
            echo
            echo "worker-cli bench --device 0 $bench_args (medians; the floor counts the whole file read once per token):"
            echo
            echo "| model | CUDA graphs | file MB | load ms | prefill tok/s | decode tok/s | device MiB | decode vs bandwidth floor |"
            echo "|---|---|---|---|---|---|---|---|"
            printf '%s\n' "${bench_rows[@]}"
        fi
        echo
        echo "Logs beside this file: setup.log, ctest.log, bench.log, bench.jsonl, sanitizer.log."
    } >"$out_dir/summary.md"
}

# ---- helpers of the run phase ---------------------------------------------------------

# The cap of a step within what the budget has left; prints nothing when the
# budget cannot give it at least 5 s.
cap_within_budget() {
    local want=$1 left=$((deadline - $(now)))
    [ "$left" -ge 5 ] || return 1
    echo $((want < left ? want : left))
}

# Runs "$@" under a time cap, appending its output to LOG. Status 124: ran out.
capped() { # cap log command...
    local cap=$1 log=$2
    shift 2
    timeout --kill-after=5 "$cap" "$@" >>"$log" 2>&1
}

gpu_reason=""   # why the GPU steps cannot run ("" when they can)
cap=0           # the time cap of the step being run (set by gpu_step_begin)

# Every GPU step starts here: records a FAIL with the reason (and returns 1)
# when no GPU step may run or the budget is spent; else sets `cap`.
gpu_step_begin() { # name
    if [ -n "$gpu_reason" ]; then
        record "$1" FAIL 0 "$gpu_reason"
        return 1
    fi
    if ! cap=$(cap_within_budget "$(step_cap "$1")"); then
        record "$1" FAIL 0 "not run: the run's $((deadline - run_started)) s budget was spent"
        return 1
    fi
}

find_library_dir() { # soname — a folder holding it, searched where CUDA and pip put libraries
    local name=$1 dir site
    for dir in "${CUDA_HOME:-/usr/local/cuda}/lib64" /usr/local/cuda/lib64 /usr/local/cuda/lib \
        /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 /usr/local/cuda-*/targets/x86_64-linux/lib \
        /usr/lib/x86_64-linux-gnu "$device_dir/lib"; do
        [ -e "$dir/$name" ] && { echo "$dir"; return 0; }
    done
    for site in $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
        dir=$(find "$site/nvidia" -name "$name" -printf '%h\n' 2>/dev/null | head -1)
        [ -n "$dir" ] && { echo "$dir"; return 0; }
    done
    dir=$(timeout 20 find /usr /opt -xdev -name "$name" -printf '%h\n' 2>/dev/null | head -1)
    [ -n "$dir" ] && { echo "$dir"; return 0; }
    return 1
}

missing_libraries() { # executable... — sonames ldd cannot find, and the cuBLAS the GPU backend dlopens
    local exe soname dir found
    for exe in "$@"; do ldd "$exe" 2>/dev/null | awk '/not found/ { print $1 }'; done | sort -u
    # cuBLAS is not linked (cuda/cublas_loader.cpp): ldd does not list it.
    for soname in libcublas.so.13 libcublasLt.so.13; do
        found=""
        ldconfig -p 2>/dev/null | grep -q " $soname " && found=1
        for dir in ${LD_LIBRARY_PATH//:/ }; do [ -e "$dir/$soname" ] && found=1; done
        [ -n "$found" ] || echo "$soname"
    done
}

bin=""   # where the binaries the run uses are

# The prebuilt binaries must start here; missing libraries are looked for
# where CUDA and pip keep them; failing that, only the missing targets are
# built (sm_90, all cores).
step_binaries() {
    local start log=$out_dir/setup.log lib dir missing exe count why=""
    start=$(now)
    if [ ! -f "$device_dir/manifest.txt" ]; then
        record binaries FAIL 0 "no prepared folder ${device_dir#"$root"/} (run scripts/gpu-check.sh --prepare before the GPU window and carry it)"
        return
    fi
    bin=$device_dir/bin
    {
        echo "== manifest"
        cat "$device_dir/manifest.txt"
        echo "== ldd"
        for exe in "$bin"/*; do echo "-- $exe"; ldd "$exe" 2>&1; done
    } >>"$log"
    missing=$(missing_libraries "$bin"/*)
    for lib in $missing; do
        if dir=$(find_library_dir "$lib"); then
            echo "found $lib in $dir" >>"$log"
            export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$dir"
        fi
    done
    missing=$(missing_libraries "$bin"/*)
    if [ -n "$missing" ]; then
        why="libraries not found: ${missing//$'\n'/ }"
    elif ! count=$("$bin/test_gpu" --gtest_list_tests 2>>"$log" | grep -c '^  '); then
        why="test_gpu does not start (see setup.log)"
    elif ! "$bin/worker-cli" version >>"$log" 2>&1; then
        why="worker-cli does not start (see setup.log)"
    fi
    if [ -z "$why" ]; then
        record binaries PASS $(($(now) - start)) "prebuilt, $count GPU tests listed${LD_LIBRARY_PATH:+; LD_LIBRARY_PATH=$LD_LIBRARY_PATH}"
        return
    fi
    echo "prebuilt binaries unusable: $why" >>"$log"
    if [ "$dry_run" = 1 ]; then
        record binaries FAIL $(($(now) - start)) "$why (a real run would rebuild test_gpu, worker-cli and worker-synthetic-model for sm_90 here)"
        return
    fi
    local rebuilt=$work/build cap
    cap=$(cap_within_budget 240) || cap=5
    if capped "$cap" "$log" cmake -S "$root" -B "$rebuilt" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWORKER_CUDA=ON \
        -DCMAKE_CUDA_ARCHITECTURES=90 &&
        capped "$cap" "$log" cmake --build "$rebuilt" -j "$(nproc)" --target test_gpu worker-cli worker-synthetic-model &&
        capped 60 "$log" nvcc -O2 -gencode arch=compute_90,code=sm_90 -o "$rebuilt/gpu-bandwidth" "$root/scripts/gpu/bandwidth.cu"; then
        bin=$work/bin
        mkdir -p "$bin"
        cp "$rebuilt/tests/test_gpu" "$rebuilt/tools/worker-cli" "$rebuilt/tests/tools/worker-synthetic-model" \
            "$rebuilt/gpu-bandwidth" "$bin/"
        record binaries PASS $(($(now) - start)) "rebuilt here for sm_90 ($why)"
    else
        record binaries FAIL $(($(now) - start)) "$why; rebuilding here failed too (see setup.log)"
        gpu_reason="no usable binaries: $why"
    fi
}

step_gpu() {
    local start smi devices
    gpu_step_begin gpu || return
    start=$(now)
    smi=$(timeout 15 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)
    devices=$(timeout "$cap" "$bin/worker-cli" devices 2>&1 | awk '/CUDA devices:/ { print $3 }')
    echo "nvidia-smi: $smi; worker-cli devices: ${devices:-no answer}" >>"$out_dir/setup.log"
    env_lines+=("| GPU | ${smi:-nvidia-smi gave nothing} |")
    if [ "${devices:-0}" -ge 1 ] 2>/dev/null; then
        record gpu PASS $(($(now) - start)) "$smi"
    else
        gpu_reason="no CUDA device: worker-cli devices found ${devices:-none}; nvidia-smi: ${smi:-no answer}"
        record gpu FAIL $(($(now) - start)) "$gpu_reason"
    fi
}

# ctest over the carried test list (paths put back), -j1, each test in its
# own process under a 90 s timeout. Without ctest on the machine, the same
# per-test processes are run by hand with ctest's line format.
step_ctest() {
    local name="ctest -L gpu" start log=$out_dir/ctest.log dir=$work/ctest line passed failed skipped total
    gpu_step_begin "$name" || return
    start=$(now)
    mkdir -p "$dir"
    sed -e "s#@DEVICE_BIN@#$bin#g" -e "s#@WORK_DIR@#$work#g" "$device_dir/ctest/test_gpu_tests.cmake" >"$dir/test_gpu_tests.cmake"
    echo "include(\"$dir/test_gpu_tests.cmake\")" >"$dir/CTestTestfile.cmake"
    (
        export WORKER_TEST_REQUIRE_GPU=1 WORKER_TEST_REQUIRE_REDUCED_MODELS=1
        export WORKER_REDUCED_MODELS_DIR=$device_dir/models
        unset WORKER_TEST_REQUIRE_MODELS
        if command -v ctest >/dev/null; then
            timeout --kill-after=5 "$cap" ctest --test-dir "$dir" -L gpu -j1 --timeout 90 --output-on-failure
        else
            echo "ctest is not installed: running each test of test_gpu in its own process"
            local i=0 t status
            for t in $("$bin/test_gpu" --gtest_list_tests | awk '/^[^ ]/ { s = $1 } /^  / { print s $1 }'); do
                i=$((i + 1))
                timeout --kill-after=5 90 "$bin/test_gpu" --gtest_filter="$t" >"$dir/one.log" 2>&1
                status=$?
                if [ $status = 0 ] && grep -q '^\[  SKIPPED \]' "$dir/one.log"; then line="Skipped"
                elif [ $status = 0 ]; then line="Passed"
                elif [ $status = 124 ] || [ $status = 137 ]; then line="***Timeout"
                else line="***Failed"; cat "$dir/one.log"; fi
                echo "      Start $i: $t"
                echo "$i/$i Test #$i: $t ... ${line}"
                [ $(($(now) - start)) -lt "$cap" ] || { echo "out of time"; break; }
            done
        fi
    ) >"$log" 2>&1
    local status=$?
    passed=$(grep -cE 'Test +#[0-9]+: .* Passed' "$log")
    failed=$(grep -cE 'Test +#[0-9]+: .*\*\*\*(Failed|Timeout|Exception)' "$log")
    skipped=$(grep -cE 'Test +#[0-9]+: .*Skipped' "$log")
    total=$((passed + failed + skipped))
    local detail="$passed passed, $failed failed, $skipped skipped of $total"
    local skipped_names
    skipped_names=$(grep -E 'Test +#[0-9]+: .*Skipped' "$log" | sed -E 's/.*Test +#[0-9]+: ([^ ]+).*/\1/' | head -4 | tr '\n' ' ')
    [ -n "$skipped_names" ] && detail="$detail (skipped: $skipped_names)"
    if [ $status = 124 ] || [ $status = 137 ]; then
        record "$name" FAIL $(($(now) - start)) "ran out of its $cap s cap after $total tests: $detail"
    elif [ "$failed" -gt 0 ] || [ $status != 0 ] || [ "$total" = 0 ]; then
        record "$name" FAIL $(($(now) - start)) "$detail; failed: $(grep -E 'Test +#[0-9]+: .*\*\*\*' "$log" | sed -E 's/.*Test +#[0-9]+: ([^ ]+).*/\1/' | head -6 | tr '\n' ' ')"
    else
        record "$name" PASS $(($(now) - start)) "$detail"
    fi
}

# The reduced real models (the only real models on the GPU machine) must
# have run and passed on the GPU: skipped or absent is a FAIL.
reduced_models_row() { # ctest log — prints "PASS|figure" or "FAIL|reason"
    local log=$1 t line bad=""
    for t in GpuModelReal.ReducedSmolLM2MatchesCpu GpuModelReal.ReducedGemma3MatchesCpu; do
        line=$(grep -E "Test +#[0-9]+: $t " "$log" 2>/dev/null | tail -1)
        if [ -z "$line" ]; then bad="$bad $t did not run;"
        elif ! echo "$line" | grep -q 'Passed'; then
            bad="$bad $t $(echo "$line" | grep -oE '(\*\*\*)?(Failed|Timeout|Skipped|Exception)' | head -1 | tr -d '*');"
        fi
    done
    if [ -n "$bad" ]; then echo "FAIL|the reduced real models must run on the GPU:$bad"
    else echo "PASS|both reduced real models matched the CPU on the GPU"; fi
}

step_reduced() {
    local name="reduced real models ran" row
    gpu_step_begin "$name" || return
    row=$(reduced_models_row "$out_dir/ctest.log")
    record "$name" "${row%%|*}" 0 "${row#*|}"
}

bandwidth_gbs=""
step_bandwidth() {
    local start
    gpu_step_begin bandwidth || return
    start=$(now)
    if bandwidth_gbs=$(timeout "$cap" "$bin/gpu-bandwidth" 2>>"$out_dir/setup.log"); then
        record bandwidth PASS $(($(now) - start)) "$bandwidth_gbs GB/s device-to-device (1 GiB copies, read + write counted)"
    else
        bandwidth_gbs=""
        record bandwidth FAIL $(($(now) - start)) "exit $? (see setup.log)"
    fi
}

# worker-cli bench on one model, CUDA graphs off or on.
step_bench() { # name model graphs(0|1)
    local name=$1 model=$2 graphs=$3 start json out
    gpu_step_begin "$name" || return
    start=$(now)
    if [ ! -f "$model" ]; then
        record "$name" FAIL 0 "no model file $(basename "$model")"
        return
    fi
    echo "== $name: worker-cli bench -m $model --device 0 $bench_args --json" >>"$out_dir/bench.log"
    # shellcheck disable=SC2086
    if json=$(WORKER_CUDA_GRAPHS=$graphs timeout --kill-after=5 "$cap" "$bin/worker-cli" bench -m "$model" --device 0 \
        $bench_args --json 2>>"$out_dir/bench.log"); then
        echo "$json" >>"$out_dir/bench.jsonl"
        # Line 1: the step's figure; line 2: the row of the bench table.
        if ! out=$(python3 - "$model" "$bandwidth_gbs" "$json" "$graphs" <<'PY'
import json, os, sys
path, bandwidth, raw, graphs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
r = json.loads(raw)
size = os.path.getsize(path)
decode, prefill = r["decode_tps"]["median"], r["prefill_tps"]["median"]
floor = "-"
if bandwidth:
    ceiling = float(bandwidth) * 1e9 / size
    floor = f"{100 * decode / ceiling:.0f}% of {ceiling:.0f} tok/s"
print(f"prefill {prefill:.0f} tok/s, decode {decode:.1f} tok/s, load {r['load_ms']:.0f} ms")
print(f"| {os.path.basename(path)} | {'on' if graphs == '1' else 'off'} | {size / 1e6:.0f} | "
      f"{r['load_ms']:.0f} | {prefill:.0f} | {decode:.1f} | {r['device_memory_mib']:.0f} | {floor} |")
PY
        ); then
            record "$name" FAIL $(($(now) - start)) "worker-cli bench gave no readable JSON (see bench.jsonl)"
            return
        fi
        bench_rows+=("$(echo "$out" | sed -n 2p)")
        record "$name" PASS $(($(now) - start)) "$(echo "$out" | sed -n 1p)"
    else
        local status=$?
        if [ $status = 124 ] || [ $status = 137 ]; then
            record "$name" FAIL $(($(now) - start)) "ran out of its $cap s cap (see bench.log)"
        else
            record "$name" FAIL $(($(now) - start)) "exit $status: $(tail -1 "$out_dir/bench.log")"
        fi
    fi
}

sanitizer_path() {
    local s
    s=$(command -v compute-sanitizer) && { echo "$s"; return 0; }
    for s in "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer" /usr/local/cuda/compute-sanitizer/compute-sanitizer \
        /usr/local/cuda-*/bin/compute-sanitizer /opt/nvidia/*/compute-sanitizer/compute-sanitizer; do
        [ -x "$s" ] && { echo "$s"; return 0; }
    done
    return 1
}

# What a compute-sanitizer log says: "PASS|figure", "FAIL|reason" or, when the
# tool refused the device, "SKIP|the tool's message".
sanitizer_row() { # log status cap
    local log=$1 status=$2 cap=$3 errors refusal
    refusal=$(grep -m1 -iE '^=+ .*(not supported|unable to|failed to initiali)' "$log")
    errors=$(grep -oE 'ERROR SUMMARY: [0-9]+ error' "$log" | tail -1 | grep -oE '[0-9]+')
    if [ -n "$refusal" ]; then
        echo "SKIP|compute-sanitizer refused the device: $(echo "$refusal" | sed 's/^=* *//')"
    elif [ "$status" = 124 ] || [ "$status" = 137 ]; then
        echo "FAIL|ran out of its $cap s cap"
    elif [ -n "$errors" ] && [ "$errors" != 0 ]; then
        echo "FAIL|$errors errors (see sanitizer.log)"
    elif [ "$status" = 0 ] && [ "$errors" = 0 ]; then
        echo "PASS|0 errors, $(grep -oE '\[  PASSED  \] [0-9]+ test' "$log" | tail -1 | grep -oE '[0-9]+') tests"
    else
        echo "FAIL|exit $status without an error summary (see sanitizer.log)"
    fi
}

step_sanitizer() { # memcheck|racecheck
    local tool=$1 start s log=$work/$1.log row status
    gpu_step_begin "$tool" || return
    start=$(now)
    if ! s=$(sanitizer_path); then
        record "$tool" FAIL 0 "compute-sanitizer not found"
        return
    fi
    local extra=()
    [ "$tool" = memcheck ] && extra=(--leak-check full)
    WORKER_TEST_REQUIRE_GPU=1 timeout --kill-after=5 "$cap" "$s" --tool "$tool" "${extra[@]}" --error-exitcode 97 \
        --print-limit 50 "$bin/test_gpu" --gtest_filter="${WORKER_GPU_CHECK_SANITIZER_FILTER:-$sanitizer_filter_default}" \
        >"$log" 2>&1
    status=$?
    { echo "== $tool (exit $status)"; tail -c 4000000 "$log"; } >>"$out_dir/sanitizer.log"
    row=$(sanitizer_row "$log" "$status" "$cap")
    record "$tool" "${row%%|*}" $(($(now) - start)) "${row#*|}"
}

synth_pid=""
synth_started=0
start_synthetic_models() { # in the background: the 8B-shaped benchmark models
    local gen=$bin/worker-synthetic-model
    synth_started=$(now)
    (
        for t in Q4_0 Q4_K; do
            timeout --kill-after=5 "$(step_cap 'synthetic 8B models')" "$gen" \
                "$work/llama3-8b-shape-${t,,}.gguf" --arch llama --embd 4096 --layers 32 \
                --heads 32 --kv-heads 8 --head-dim 128 --ff 14336 --ctx 4096 --type "$t" --embd-type Q4_0 \
                --share-layers 1 || exit 1
        done
    ) >>"$out_dir/setup.log" 2>&1 &
    synth_pid=$!
}

step_synthetic() {
    local name="synthetic 8B models" status
    if [ -z "$synth_pid" ]; then
        if [ "$dry_run" = 1 ]; then
            record "$name" SKIP 0 "dry run: only the GPU benches use them"
        else
            record "$name" FAIL 0 "not generated: ${gpu_reason:-no usable worker-synthetic-model}"
        fi
        return
    fi
    wait "$synth_pid"
    status=$?
    if [ $status = 0 ]; then
        record "$name" PASS $(($(now) - synth_started)) "Q4_0 and Q4_K, 32 blocks sharing block 0's bytes, $(du -bc "$work"/llama3-8b-shape-*.gguf | tail -1 | awk '{ printf "%.1f GB", $1 / 1e9 }') (generated beside the GPU steps)"
    else
        record "$name" FAIL $(($(now) - synth_started)) "worker-synthetic-model failed or ran out of its cap (see setup.log)"
    fi
}

run_phase() {
    local budget=${WORKER_GPU_CHECK_BUDGET_S:-420} commit
    out_dir=${OUT:-$build/gpu-check-out}
    mkdir -p "$out_dir"
    rm -f "$out_dir"/summary.md "$out_dir"/setup.log "$out_dir"/ctest.log "$out_dir"/bench.log \
        "$out_dir"/bench.jsonl "$out_dir"/sanitizer.log
    : >"$out_dir/setup.log"
    : >"$out_dir/ctest.log"
    : >"$out_dir/bench.log"
    : >"$out_dir/bench.jsonl"
    : >"$out_dir/sanitizer.log"
    work=$(mktemp -d /tmp/gpu-check-XXXXXX)
    trap 'rm -rf "$work"' EXIT
    run_started=$(now)
    deadline=$((run_started + budget))
    commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "?")
    env_lines+=("| date | $(date -u '+%Y-%m-%d %H:%M UTC') |")
    env_lines+=("| commit | $commit (prepared: $(grep -m1 '^commit' "$device_dir/manifest.txt" 2>/dev/null | cut -d' ' -f2- || echo none)) |")
    env_lines+=("| host | $(uname -n), $(nproc) cores, nvcc $(nvcc --version 2>/dev/null | grep -oE 'release [0-9.]+' | cut -d' ' -f2 || echo absent) |")
    if [ "$dry_run" = 1 ]; then
        gpu_reason="dry run (--dry-run): no GPU step is attempted"
        env_lines+=("| mode | dry run |")
    fi
    write_summary

    step_binaries
    [ -n "$bin" ] || gpu_reason=${gpu_reason:-"no prepared folder, so nothing to run"}
    step_gpu
    if [ -z "$gpu_reason" ]; then start_synthetic_models; fi
    step_ctest
    step_reduced
    step_bandwidth
    step_bench "bench smollm2-reduced graphs off" "$device_dir/models/smollm2-reduced.gguf" 0
    step_bench "bench smollm2-reduced graphs on" "$device_dir/models/smollm2-reduced.gguf" 1
    step_bench "bench gemma3-reduced graphs off" "$device_dir/models/gemma3-reduced.gguf" 0
    step_bench "bench gemma3-reduced graphs on" "$device_dir/models/gemma3-reduced.gguf" 1
    step_sanitizer memcheck
    step_sanitizer racecheck
    step_synthetic
    step_bench "bench llama3-8b-shape-q4_0 graphs off" "$work/llama3-8b-shape-q4_0.gguf" 0
    step_bench "bench llama3-8b-shape-q4_0 graphs on" "$work/llama3-8b-shape-q4_0.gguf" 1
    step_bench "bench llama3-8b-shape-q4_k graphs off" "$work/llama3-8b-shape-q4_k.gguf" 0
    step_bench "bench llama3-8b-shape-q4_k graphs on" "$work/llama3-8b-shape-q4_k.gguf" 1

    write_summary
    cat "$out_dir/summary.md"
    case "$(verdict)" in PASS*) return 0 ;; *) return 1 ;; esac
}

# ---- the prepare phase ---------------------------------------------------------------

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# What travels: the tracked and untracked-but-not-ignored files (the device
# tool sends them) plus the carried folder. Fails past 60 MiB.
carry_report() {
    local rel tree_bytes tree_files carry_bytes total f size links
    case "$device_dir" in
        "$root"/*) rel=${device_dir#"$root"/} ;;
        *) echo "gpu-check: $device_dir is not inside the repository $root: the device tool carries only paths inside it" >&2; return 1 ;;
    esac
    if [ ! -d "$device_dir" ]; then
        echo "gpu-check: no folder $rel: run scripts/gpu-check.sh --prepare" >&2
        return 1
    fi
    if ! git -C "$root" check-ignore -q "$rel"; then
        echo "gpu-check: $rel is not ignored by git: it would travel twice (as part of the tree and as carry)" >&2
        return 1
    fi
    links=$(find "$device_dir" -type l | head -3)
    if [ -n "$links" ]; then
        echo "gpu-check: symbolic links in $rel travel only as links: $links" >&2
        return 1
    fi
    tree_bytes=0
    tree_files=0
    while IFS= read -r -d '' f; do
        [ -e "$root/$f" ] || [ -L "$root/$f" ] || continue
        size=$(stat -c %s "$root/$f")
        tree_bytes=$((tree_bytes + size))
        tree_files=$((tree_files + 1))
    done < <(git -C "$root" ls-files -z -co --exclude-standard)
    if [ -d "$root/shared" ] && git -C "$root" check-ignore -q shared; then
        tree_bytes=$((tree_bytes + $(du -sb "$root/shared" | cut -f1)))
    fi
    carry_bytes=0
    echo "carried files:"
    while IFS= read -r -d '' f; do
        size=$(stat -c %s "$f")
        carry_bytes=$((carry_bytes + size))
        printf '  %-60s %s\n' "${f#"$root"/}" "$(mib "$size")"
    done < <(find "$device_dir" -type f -print0 | sort -z)
    total=$((tree_bytes + carry_bytes))
    echo "tracked and untracked-but-not-ignored files: $(mib "$tree_bytes") ($tree_files files)"
    echo "carried folder $rel: $(mib "$carry_bytes")"
    echo "total: $(mib "$total") of the 60 MiB budget (the device tool's limit is 64 MiB)"
    echo "carry: [\"$rel\"]"
    echo "run:   bash scripts/gpu-check.sh --run     (timeout_s 480)"
    if [ "$total" -gt "$carry_limit_bytes" ]; then
        echo "gpu-check: $(mib "$total") exceeds the 60 MiB budget" >&2
        return 1
    fi
}

prepare_phase() {
    local jobs tests_file content lib
    jobs=$(nproc 2>/dev/null || echo 2)
    command -v nvcc >/dev/null || { echo "gpu-check --prepare: nvcc not found (the CUDA toolkit is needed here)" >&2; return 1; }
    "$root/scripts/fetch-models.sh" all >/dev/null || { echo "gpu-check --prepare: the real models are not in the cache" >&2; return 1; }
    echo "== configure $build (sm_90 only)" >&2
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWORKER_CUDA=ON \
        -DCMAKE_CUDA_ARCHITECTURES=90 >&2 || return 1
    echo "== build test_gpu worker-cli worker-synthetic-model make_reduced_models" >&2
    cmake --build "$build" -j "$jobs" --target test_gpu worker-cli worker-synthetic-model make_reduced_models >&2 ||
        return 1
    case "$device_dir" in
        "$root"/?*) ;;
        *) echo "gpu-check --prepare: $device_dir must be a folder inside the repository" >&2; return 1 ;;
    esac
    rm -rf "$device_dir"
    mkdir -p "$device_dir/bin" "$device_dir/models" "$device_dir/ctest" "$device_dir/lib"
    echo "== reduced real models" >&2
    WORKER_BUILD_DIR="$build" "$root/scripts/make-reduced-models.sh" "$device_dir/models" >&2 || return 1
    echo "== bandwidth probe (nvcc, sm_90)" >&2
    nvcc -O2 -gencode arch=compute_90,code=sm_90 -o "$device_dir/bin/gpu-bandwidth" "$root/scripts/gpu/bandwidth.cu" >&2 ||
        return 1
    cp "$build/tests/test_gpu" "$build/tools/worker-cli" "$build/tests/tools/worker-synthetic-model" "$device_dir/bin/"
    strip --strip-unneeded "$device_dir"/bin/* || return 1
    # The GPU tests as ctest knows them, with this machine's paths replaced by
    # placeholders the run phase fills in.
    tests_file="$build/tests/test_gpu[1]_tests.cmake"
    [ -f "$tests_file" ] || { echo "gpu-check --prepare: $tests_file missing (test discovery failed?)" >&2; return 1; }
    content=$(<"$tests_file")
    content=${content//"$build/tests/test_gpu"/@DEVICE_BIN@/test_gpu}
    content=${content//"WORKING_DIRECTORY $build/tests"/WORKING_DIRECTORY @WORK_DIR@}
    if [[ "$content" == *"$root"* ]]; then
        echo "gpu-check --prepare: the ctest file still names $root" >&2
        return 1
    fi
    printf '%s\n' "$content" >"$device_dir/ctest/test_gpu_tests.cmake"
    lib=$(ldd "$device_dir/bin/test_gpu" | awk '$1 == "libpcre2-8.so.0" { print $3 }')
    [ -n "$lib" ] && cp -L "$lib" "$device_dir/lib/"
    {
        echo "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
        echo "prepared $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n)"
        echo "nvcc $(nvcc --version | grep -oE 'release [0-9.]+' | cut -d' ' -f2), CMAKE_CUDA_ARCHITECTURES=90"
        echo "gpu tests: $(grep -c '^add_test' "$device_dir/ctest/test_gpu_tests.cmake")"
        (cd "$device_dir" && find bin models lib -type f -exec sha256sum {} + | sort -k2)
    } >"$device_dir/manifest.txt"
    carry_report
}

usage() {
    sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    return 2
}

main() {
    dry_run=0
    local mode=""
    for a in "$@"; do
        case "$a" in
            --prepare | --run | --carry-report | --list-steps) mode=$a ;;
            --dry-run) dry_run=1 ;;
            *) usage; return 2 ;;
        esac
    done
    case "$mode" in
        --prepare) prepare_phase ;;
        --run) run_phase ;;
        --carry-report) carry_report ;;
        --list-steps) step_names ;;
        *) usage ;;
    esac
}

dry_run=0
work=""
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
    exit $?
fi
