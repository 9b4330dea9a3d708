#!/usr/bin/env bash
# Runs a command that must fail and print a given sanitizer report:
#
#   expect_report.sh 'runtime error: signed integer overflow' COMMAND...
#
# Passes when COMMAND exits non-zero and its output holds the text; fails when
# it exits 0 (a report that does not stop the run) or fails for another reason.
set -uo pipefail
expected=$1
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" >"$out" 2>&1
status=$?
if [ "$status" -eq 0 ]; then
  echo "FAIL: '$*' exited 0; a sanitizer report must fail the run" >&2
  cat "$out" >&2
  exit 1
fi
if ! grep -qF -- "$expected" "$out"; then
  echo "FAIL: '$*' exited $status without '$expected'" >&2
  cat "$out" >&2
  exit 1
fi
echo "as required: exit status $status with: $(grep -m1 -F -- "$expected" "$out")"
