#!/usr/bin/env bash
# scripts/gpu-check.sh without a GPU (ctest label tools):
#   1. the run phase as a dry run writes a complete summary — one row per
#      step, every step FAIL or SKIP with a reason, a FAIL verdict, a non-zero
#      exit — into at most 8 files, at most 2 folders deep, quickly;
#   2. the verdicts it draws from logs: the reduced real models must have
#      passed (skipped or absent is a FAIL); compute-sanitizer's refusal of
#      the device is a SKIP with the tool's message, errors and time-outs FAIL;
#   3. the carry report: the size it adds up, the 60 MiB limit, and the
#      folders it refuses (outside the repository, not ignored, with links);
#   4. with TEST_GPU (the test_gpu executable of this build): the sanitizer
#      runs' default filter selects the tests it is meant to.
#
#   gpu_check_test.sh REPOSITORY_ROOT [TEST_GPU]
set -uo pipefail
root=$(cd "$1" && pwd)
script=$root/scripts/gpu-check.sh
if ! git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "skipped: $root is not a git checkout (the carry report counts the files git would send)"
    exit 77
fi
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
tmp=$(mktemp -d)
scratch=$(mktemp -d "$root/build-gpu-check-test.XXXXXX")  # ignored (/build*/), inside the repository
trap 'rm -rf "$tmp" "$scratch"' EXIT

# ---- 1. the dry run -------------------------------------------------------------------------
mapfile -t steps < <(bash "$script" --list-steps)
[ "${#steps[@]}" -ge 10 ] || fail "--list-steps gave ${#steps[@]} steps"
start=$SECONDS
OUT=$tmp/out WORKER_GPU_DEVICE_DIR=$scratch/none bash "$script" --run --dry-run >"$tmp/stdout" 2>"$tmp/stderr"
status=$?
[ "$status" -ne 0 ] || fail "a dry run exited 0: a check without a GPU must not pass"
[ $((SECONDS - start)) -lt 60 ] || fail "the dry run took $((SECONDS - start)) s"
summary=$tmp/out/summary.md
[ -f "$summary" ] || { fail "no summary.md"; cat "$tmp/stderr" >&2; }
n_files=$(find "$tmp/out" -type f | wc -l)
[ "$n_files" -le 8 ] || fail "$n_files files in the output folder (at most 8 come back)"
deep=$(find "$tmp/out" -mindepth 4 | head -1)
[ -z "$deep" ] || fail "$deep is more than 2 folders deep"
bad_name=$(find "$tmp/out" -mindepth 1 | sed "s#^$tmp/out/##" | grep -vE '^[A-Za-z0-9._/-]+$' | head -1)
[ -z "$bad_name" ] || fail "output name '$bad_name' has characters that do not come back"
grep -q '^| verdict | \*\*FAIL' "$summary" || fail "the verdict is not FAIL"
for step in "${steps[@]}"; do
    rows=$(grep -cF "| $step | " "$summary")
    [ "$rows" = 1 ] || { fail "step '$step' has $rows rows in the summary"; continue; }
    row=$(grep -F "| $step | " "$summary")
    result=$(echo "$row" | awk -F' \\| ' '{ print $2 }')
    reason=$(echo "$row" | awk -F' \\| ' '{ print $4 }' | sed 's/ |$//')
    case "$result" in
        FAIL | SKIP) ;;
        *) fail "step '$step' is '$result' in a dry run" ;;
    esac
    [ ${#reason} -ge 10 ] || fail "step '$step' gives no reason: '$reason'"
done
grep -F '| gpu | FAIL' "$summary" | grep -q 'dry run' || fail "the gpu step does not say it was a dry run"
grep -F '| binaries | FAIL' "$summary" | grep -q -- '--prepare' || fail "a missing folder does not point to --prepare"

# ---- 2. verdicts drawn from logs ----------------------------------------------------------
# shellcheck source=/dev/null
source "$script"
ctest_line() { printf '%s/9 Test #%s: %s ....... %s   0.50 sec\n' "$1" "$1" "$2" "$3"; }
{
    ctest_line 1 GpuModelReal.ReducedSmolLM2MatchesCpu '  Passed'
    ctest_line 2 GpuModelReal.ReducedGemma3MatchesCpu '  Passed'
} >"$tmp/both.log"
{
    ctest_line 1 GpuModelReal.ReducedSmolLM2MatchesCpu '  Passed'
    ctest_line 2 GpuModelReal.ReducedGemma3MatchesCpu '***Skipped'
} >"$tmp/skipped.log"
ctest_line 1 GpuModelReal.ReducedSmolLM2MatchesCpu '***Failed' >"$tmp/failed.log"
[ "$(reduced_models_row "$tmp/both.log" | cut -d'|' -f1)" = PASS ] || fail "both reduced models passed: not a PASS"
row=$(reduced_models_row "$tmp/skipped.log")
[ "${row%%|*}" = FAIL ] && [[ "$row" == *"ReducedGemma3MatchesCpu Skipped"* ]] || fail "a skipped reduced model: $row"
row=$(reduced_models_row "$tmp/failed.log")
[[ "$row" == FAIL* && "$row" == *"ReducedSmolLM2MatchesCpu Failed"* && "$row" == *"ReducedGemma3MatchesCpu did not run"* ]] ||
    fail "a failed and an absent reduced model: $row"

printf '========= COMPUTE-SANITIZER\n========= Error: Device not supported. Please refer to the "Supported Devices" section.\n' >"$tmp/refused.log"
printf '[  PASSED  ] 12 tests.\n========= ERROR SUMMARY: 0 errors\n' >"$tmp/clean.log"
printf '========= Invalid __global__ write of size 4 bytes\n========= ERROR SUMMARY: 3 errors\n' >"$tmp/errors.log"
row=$(sanitizer_row "$tmp/refused.log" 1 60)
[[ "$row" == SKIP* && "$row" == *"Device not supported"* ]] || fail "a refused device: $row"
row=$(sanitizer_row "$tmp/clean.log" 0 60)
[[ "$row" == "PASS|0 errors, 12 tests" ]] || fail "a clean run: $row"
row=$(sanitizer_row "$tmp/errors.log" 97 60)
[[ "$row" == "FAIL|3 errors"* ]] || fail "errors: $row"
row=$(sanitizer_row "$tmp/clean.log" 124 60)
[[ "$row" == FAIL*"cap"* ]] || fail "a time-out: $row"
row=$(sanitizer_row /dev/null 1 60)
[[ "$row" == FAIL* ]] || fail "no summary at all: $row"

# ---- 3. the carry report ------------------------------------------------------------------
report() { WORKER_GPU_DEVICE_DIR=$1 bash "$script" --carry-report >"$tmp/report" 2>&1; }
mkdir -p "$scratch/device/bin"
head -c $((1024 * 1024)) /dev/zero >"$scratch/device/bin/one-mib"
report "$scratch/device" || fail "a 1 MiB carry was refused: $(cat "$tmp/report")"
rel=${scratch#"$root"/}/device
grep -qF "carry: [\"$rel\"]" "$tmp/report" || fail "the carry list does not name $rel"
grep -qE "carried folder .*: 1\.0 MiB" "$tmp/report" || fail "1 MiB carried is not reported as 1.0 MiB"
tree=$(awk '/^tracked/ { print $(NF - 3) }' "$tmp/report")
total=$(awk '/^total:/ { print $2 }' "$tmp/report")
awk -v t="$tree" -v s="$total" 'BEGIN { exit !(s - t > 0.95 && s - t < 1.05) }' ||
    fail "total $total MiB is not the tree's $tree MiB plus 1 MiB"
# Just under and just over 60 MiB in all (sparse files: their size is what travels).
for target in 59.5 60.5; do
    bytes=$(awk -v t="$target" -v tree="$tree" 'BEGIN { printf "%d", (t - tree - 1) * 1048576 }')
    truncate -s "$bytes" "$scratch/device/bin/filler"
    if report "$scratch/device"; then
        [ "$target" = 59.5 ] || fail "a carry of $target MiB in all passed the 60 MiB limit"
    else
        [ "$target" = 60.5 ] || fail "a carry of $target MiB in all was refused: $(tail -1 "$tmp/report")"
        grep -q "exceeds the 60 MiB budget" "$tmp/report" || fail "the limit is not named: $(tail -1 "$tmp/report")"
    fi
done
rm "$scratch/device/bin/filler"
ln -s one-mib "$scratch/device/bin/link"
report "$scratch/device" && fail "a carry with a symbolic link passed"
rm "$scratch/device/bin/link"
report "$tmp" && fail "a folder outside the repository passed"
mkdir -p "$root/tests/scripts/.gpu-check-not-ignored.$$"
report "$root/tests/scripts/.gpu-check-not-ignored.$$" && fail "a folder git does not ignore passed"
rmdir "$root/tests/scripts/.gpu-check-not-ignored.$$"

# ---- 4. the sanitizer filter ----------------------------------------------------------------
if [ -n "${2:-}" ]; then
    selected=$("$2" --gtest_filter="$sanitizer_filter_default" --gtest_list_tests | grep -c '^  ')
    [ "$selected" -ge 15 ] || fail "the sanitizer filter selects $selected tests of $2"
    for suite in GpuOps GpuAttention GpuEmbed GpuMatmul GpuSampling; do
        "$2" --gtest_filter="$sanitizer_filter_default" --gtest_list_tests | grep -q "$suite\." ||
            fail "the sanitizer filter selects nothing of $suite"
    done
fi

if [ "$failures" -gt 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "gpu-check: dry run, log verdicts and carry report as expected"
