#!/usr/bin/env bash
# Runs the generate example, optionally under a wrapper such as valgrind:
#
#   test_generate.sh errors     GENERATE [WRAPPER...]   failure paths
#   test_generate.sh generation GENERATE [WRAPPER...]   real text from SmolLM2
#
# The model comes from $WORKER_MODEL_CACHE (else ~/.cache/worker_cuda/models);
# when it is missing the test is skipped (exit 77), or fails when
# WORKER_TEST_REQUIRE_MODELS=1 as in CI.
set -euo pipefail
mode=$1 generate=$2
shift 2
wrapper=("$@")
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

fail() { echo "FAIL: $*" >&2; echo "--- stdout" >&2; cat "$out" >&2; echo "--- stderr" >&2; cat "$err" >&2; exit 1; }

run() { # expected-status args...
  local expected=$1 status=0
  shift
  "${wrapper[@]}" "$generate" "$@" >"$out" 2>"$err" || status=$?
  [ "$status" -eq "$expected" ] || fail "generate $* exited with $status, expected $expected"
  # valgrind's --error-exitcode cannot be told from an expected failure status.
  if grep -q '^==[0-9]*== ' "$err"; then fail "valgrind reported errors"; fi
}

case "$mode" in
  errors)
    run 2
    grep -q '^usage: ' "$err" || fail "no usage line"
    run 2 model.gguf prompt zero
    grep -q 'MAX_TOKENS must be an integer' "$err" || fail "bad MAX_TOKENS not reported"
    run 1 /nonexistent/model.gguf
    grep -q 'cuda_load_model failed: model load failed (code 3): .*/nonexistent/model.gguf' "$err" \
      || fail "missing model not reported with code and detail"
    run 1 "$(dirname "$0")/generate.c"
    grep -q 'cuda_load_model failed: model load failed (code 3): ' "$err" \
      || fail "malformed model not reported with code and detail"
    ;;
  generation)
    model="${WORKER_MODEL_CACHE:-$HOME/.cache/worker_cuda/models}/SmolLM2-135M-Instruct.Q4_1.gguf"
    if [ ! -f "$model" ]; then
      [ "${WORKER_TEST_REQUIRE_MODELS:-}" = 1 ] && { echo "FAIL: $model is missing" >&2; exit 1; }
      echo "skipped: $model not fetched (run scripts/fetch-models.sh)"
      exit 77
    fi
    prompt="The capital of France is"
    run 0 "$model" "$prompt" 8
    cat "$out"
    completion=$(tail -c +$((${#prompt} + 1)) "$out" | tr -d '[:space:]')
    [ -n "$completion" ] || fail "no text was generated"
    tokens=$(grep -c '^\[token ' "$err" || true)
    [ "$tokens" -ge 1 ] && [ "$tokens" -le 8 ] || fail "$tokens timing lines for at most 8 tokens"
    ;;
  *)
    echo "usage: $0 errors|generation GENERATE [WRAPPER...]" >&2
    exit 2
    ;;
esac
echo "OK: generate $mode${wrapper[*]:+ under ${wrapper[*]}}"
