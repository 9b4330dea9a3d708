#!/usr/bin/env bash
# Runs the generate example, optionally under a wrapper such as valgrind:
#
#   test_generate.sh errors     GENERATE [WRAPPER...]   failure paths
#   test_generate.sh generation GENERATE [WRAPPER...]   real text from SmolLM2:
#       completion, model info, finish reasons, chat through the file's
#       template (checked against the prompt the template gives, rendered by
#       hand), and cancel from the --timeout thread
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
    run 2 --timeout soon model.gguf
    grep -q -- '--timeout must be an integer' "$err" || fail "bad --timeout not reported"
    run 2 --unknown model.gguf
    grep -q '^usage: ' "$err" || fail "no usage line for an unknown option"
    run 2 --chat
    grep -q '^usage: ' "$err" || fail "no usage line without a model"
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
    # Model info (values as the gguf package reads the file) and usage.
    grep -q "architecture llama, 30 layers, 9 heads (3 key/value), width 576" "$err" || fail "no model info"
    grep -q "context length 8192, vocabulary 49152, BOS 1, EOS 2, 134515008 parameters" "$err" \
      || fail "no context length, vocabulary or special tokens"
    grep -q "chat template: in the file" "$err" || fail "the chat template is not seen"
    grep -q "finish reason max_tokens; prompt [0-9]* tokens, generated 8 tokens" "$err" \
      || fail "no finish reason max_tokens with 8 tokens"

    # Chat: the reply equals the completion of the prompt SmolLM2's template
    # gives, written out by hand (its default system message, then the turn).
    # (With a timeout that does not expire: it changes nothing.)
    question="What is the capital of France?"
    run 0 --timeout 600000 --chat "$model" "$question" 12
    chat_reply=$(cat "$out")
    grep -q "the chat template gave a prompt of" "$err" || fail "no chat prompt"
    grep -q "cancelled after" "$err" && fail "a 10-minute timeout cancelled"
    grep -q "finish reason max_tokens; prompt [0-9]* tokens, generated 12 tokens" "$err" \
      || fail "no finish reason max_tokens for the chat with a timeout set"
    [ -n "$chat_reply" ] || fail "no chat reply"
    echo "chat: $chat_reply"
    # The comparisons with the plain path, and --system, run paths again: not
    # under a wrapper (valgrind), which checks each path once.
    if [ ${#wrapper[@]} -eq 0 ]; then
      by_hand=$(printf '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n' "$question"; printf x)
      by_hand=${by_hand%x}
      run 0 "$model" "$by_hand" 12
      raw_reply=$(tail -c +$((${#by_hand} + 1)) "$out")
      [ "$chat_reply" = "$raw_reply" ] || fail "chat reply '$chat_reply' is not the hand-rendered prompt's '$raw_reply'"
    fi

    if [ ${#wrapper[@]} -eq 0 ]; then
      run 0 --system "You are terse." "$model" "Hi" 6
      chat_reply=$(cat "$out")
      by_hand=$(printf '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n'; printf x)
      by_hand=${by_hand%x}
      run 0 "$model" "$by_hand" 6
      raw_reply=$(tail -c +$((${#by_hand} + 1)) "$out")
      [ "$chat_reply" = "$raw_reply" ] || fail "--system reply '$chat_reply' is not '$raw_reply'"
    fi

    # Cancel: a 1 ms timeout fires while the prompt is evaluated, from the
    # watchdog thread; the generation ends cleanly with nothing generated.
    # Under valgrind, which runs one thread at a time, the watchdog may only
    # get its turn some tokens later: there the end must still be a clean
    # cancel before max_tokens.
    run 0 --timeout 1 --chat "$model" "$question" 32
    grep -q "cancelled after 1 ms" "$err" || fail "the timeout did not cancel"
    if [ ${#wrapper[@]} -eq 0 ]; then
      grep -q "finish reason cancelled; prompt [0-9]* tokens, generated 0 tokens, last token -1" "$err" \
        || fail "no finish reason cancelled before the first token"
    else
      grep -Eq "finish reason cancelled; prompt [0-9]+ tokens, generated ([0-9]|[12][0-9]|3[01]) tokens" "$err" \
        || fail "no finish reason cancelled before max_tokens"
    fi
    ;;
  *)
    echo "usage: $0 errors|generation GENERATE [WRAPPER...]" >&2
    exit 2
    ;;
esac
echo "OK: generate $mode${wrapper[*]:+ under ${wrapper[*]}}"
