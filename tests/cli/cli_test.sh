#!/usr/bin/env bash
# worker-cli as its users meet it: --help on every command (stdout, exit 0),
# --version, range-checked integers, one error format naming the code, -f for
# prompts, and --chat through the model file's own template: the greedy text
# of `--chat --system S -p Q` must equal that of `-p P`, P the conversation
# rendered by Python's jinja2 (the oracle) from the GGUF's
# tokenizer.chat_template, read with the gguf package.
# Usage: cli_test.sh WORKER_CLI  (models from $WORKER_MODEL_CACHE, else ~/.cache/worker_cuda/models)
set -euo pipefail
cli=$1
cache=${WORKER_MODEL_CACHE:-$HOME/.cache/worker_cuda/models}
model="$cache/SmolLM2-135M-Instruct.Q4_1.gguf"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}

# ---- help and version --------------------------------------------------------------
"$cli" --help >"$tmp/help" 2>"$tmp/help.err"
check "--help exits 0 on stdout" test -s "$tmp/help" -a ! -s "$tmp/help.err"
commands=$(awk '/^commands:/ {on = 1; next} on && NF {print $1}' "$tmp/help")
check "--help lists commands" test -n "$commands"
for c in $commands; do
  for flag in --help -h; do
    set +e; "$cli" "$c" $flag >"$tmp/out" 2>"$tmp/err"; rc=$?; set -e
    check "$c $flag: exit 0" test "$rc" -eq 0
    check "$c $flag: usage on stdout" grep -q "^usage: worker-cli $c" "$tmp/out"
    check "$c $flag: nothing on stderr" test ! -s "$tmp/err"
  done
done
check "generate --help gives defaults" grep -q "(default 128)" <("$cli" generate --help)
"$cli" --version >"$tmp/version"
check "--version" grep -Eq '^worker_cuda [0-9]+\.[0-9]+\.[0-9]+ ' "$tmp/version"

# ---- usage errors (exit 2) and library errors (exit 1) -------------------------------
expect_fail() {  # expect_fail NAME RC PATTERN ARGS...
  local name=$1 want=$2 pattern=$3; shift 3
  set +e; "$cli" "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?; set -e
  check "$name: exit $want" test "$rc" -eq "$want"
  check "$name: says '$pattern'" grep -qF -- "$pattern" "$tmp/err"
}
expect_fail "-n that would wrap" 2 "-n must be in [1, 2147483647], got 4294967298" \
  generate -m "$model" -p x -n 4294967298 --device cpu
expect_fail "-n not an integer" 2 "-n needs an integer in [1, 2147483647], got '1.5'" \
  generate -m "$model" -p x -n 1.5 --device cpu
expect_fail "negative seed" 2 "--seed needs an unsigned integer, got '-1'" generate -p x --seed -1 --device cpu
expect_fail "bench -r 0" 2 "-r must be in [1, 1000], got 0" bench -m "$model" -r 0 --device cpu
expect_fail "unknown option" 2 "worker-cli info: usage: unknown option '--bogus'" info --bogus
expect_fail "usage points at --help" 2 "run 'worker-cli generate --help'" generate --bogus
expect_fail "missing model file" 1 "worker-cli generate: CUDA_ERROR_MODEL_LOAD_FAILED: cannot open model file '$tmp/none.gguf'" \
  generate -m "$tmp/none.gguf" -p x --device cpu
expect_fail "out-of-range temperature" 1 "worker-cli generate: CUDA_ERROR_INVALID_PARAMETER: temperature must be in [0, 2]" \
  generate -m "$model" -p x --temp 3 --device cpu
expect_fail "unreadable prompt file" 2 "-f: cannot read '$tmp/missing.txt'" \
  generate -m "$model" -f "$tmp/missing.txt" --device cpu
expect_fail "--system without --chat" 2 "--system needs --chat" generate -m "$model" -p x --system s --device cpu
expect_fail "unknown command" 2 "unknown command 'nope'" nope
check "errors carry no placeholder text" bash -c "! grep -rq 'see cuda_error_message' '$tmp'"

# ---- prompts from a file, chat through the file's template ---------------------------
if [ ! -f "$model" ]; then
  echo "SKIP the generation checks: $model missing (scripts/fetch-models.sh)"
  [ "${WORKER_TEST_REQUIRE_MODELS:-0}" = 1 ] && failures=$((failures + 1))
  [ "$failures" -eq 0 ] && exit 77 || exit 1
fi
greedy=(--temp 0 -n 12 --device cpu -m "$model")
printf 'The capital of France is' >"$tmp/prompt.txt"
"$cli" generate "${greedy[@]}" -p "The capital of France is" >"$tmp/p.out" 2>/dev/null
"$cli" generate "${greedy[@]}" -f "$tmp/prompt.txt" >"$tmp/f.out" 2>/dev/null
check "-f FILE gives what -p gives" cmp -s "$tmp/p.out" "$tmp/f.out"
check "-p generates text" test -s "$tmp/p.out"

python3 - "$model" >"$tmp/rendered.txt" <<'PY'
import sys
import gguf, jinja2
reader = gguf.GGUFReader(sys.argv[1])
field = reader.fields["tokenizer.chat_template"]
template = bytes(field.parts[field.data[0]]).decode("utf-8")
env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
text = env.from_string(template).render(
    messages=[{"role": "system", "content": "Answer in one word."},
              {"role": "user", "content": "What is the capital of France?"}],
    add_generation_prompt=True, bos_token="<|im_start|>", eos_token="<|im_end|>")
sys.stdout.write(text)
PY
check "jinja2 rendered the conversation" grep -q "Answer in one word." "$tmp/rendered.txt"
"$cli" generate "${greedy[@]}" --chat --system "Answer in one word." -p "What is the capital of France?" \
  >"$tmp/chat.out" 2>"$tmp/chat.err"
rendered=$(cat "$tmp/rendered.txt"; printf x); rendered=${rendered%x}
"$cli" generate "${greedy[@]}" -p "$rendered" >"$tmp/direct.out" 2>"$tmp/direct.err"
check "--chat --system = the jinja2 rendering" cmp -s "$tmp/chat.out" "$tmp/direct.out"
check "--chat: same prompt size" test "$(grep -o 'prompt [0-9]* tokens' "$tmp/chat.err")" = \
  "$(grep -o 'prompt [0-9]* tokens' "$tmp/direct.err")"
check "summary names why it stopped" grep -q "stopped: " "$tmp/chat.err"

# ---- info: what the engine makes of a file ---------------------------------------------
"$cli" info -m "$model" >"$tmp/info.out"
check "info: supported" grep -q "^supported:       yes" "$tmp/info.out"
check "info: the engine's reading" grep -q "^engine reads:    llama, 30 blocks, 9 heads (3 for keys/values) of 64" "$tmp/info.out"
vocab_only="$(dirname "$0")/../../../shared/testdata/vocab/ggml-vocab-phi-3.gguf"
if [ -f "$vocab_only" ]; then
  "$cli" info -m "$vocab_only" >"$tmp/info.out"
  check "info: a vocabulary-only file is not supported, and why" \
    grep -q "^supported:       no: .*required tensor 'token_embd.weight' is missing" "$tmp/info.out"
fi

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
