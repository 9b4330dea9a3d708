"""The ABI 0.3 calls through the package, with SmolLM2-135M-Instruct on the
CPU device: tokens (against llama.cpp's ids), model facts (against the gguf
package's reading of the file), chat templates (against jinja2), finish
reasons and usage, log-probabilities, cancel and close from other threads,
asyncio iteration."""

from __future__ import annotations

import asyncio
import collections
import json
import math
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

import worker_cuda
from worker_cuda import FinishReason, _api

from conftest import REPO_ROOT

pytestmark = pytest.mark.generation

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
PROMPT = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"

CONVERSATIONS: List[List[Dict[str, Any]]] = [
    [],
    QUESTION,
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}],
    [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3? Answer in «French», with ümlauts and 😀."},
    ],
    [{"role": "user", "content": "line one\nline two\n\n  indented {{ not jinja }} {% raw %}"}],
]


# ---- independent oracles ---------------------------------------------------


@pytest.fixture(scope="module")
def gguf_file(model_path: Path) -> Any:
    gguf = pytest.importorskip("gguf", reason="the gguf package reads the file independently")
    return gguf.GGUFReader(str(model_path))


def gguf_value(reader: Any, key: str) -> Any:
    return reader.fields[key].contents()


def jinja2_render(template: str, messages: List[Dict[str, Any]], add_generation_prompt: bool, bos: str, eos: str,
                  **variables: Any) -> str:
    """Renders as Hugging Face transformers' apply_chat_template does."""
    jinja2 = pytest.importorskip("jinja2")
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(value: Any, indent: Optional[int] = None) -> str:
        return json.dumps(value, ensure_ascii=False, indent=indent)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.globals["raise_exception"] = raise_exception
    env.filters["tojson"] = tojson
    return env.from_string(template).render(
        messages=messages, add_generation_prompt=add_generation_prompt, bos_token=bos, eos_token=eos, **variables
    )


def greedy(model: worker_cuda.Model, prompt: str = PROMPT, max_tokens: int = 12, **options: Any
           ) -> worker_cuda.Generation:
    return model.generate(prompt, max_tokens=max_tokens, temperature=0.0, **options)


# ---- tokens ----------------------------------------------------------------


def llama_cpp_cases() -> List[Dict[str, Any]]:
    data = json.loads((REPO_ROOT / "tests/data/tokenizer/model-smollm2.json").read_text())
    # Cases given as hex are invalid UTF-8, which a str cannot hold.
    return [case for case in data["cases"] if "text" in case]


def test_token_ids_are_llama_cpps(model: worker_cuda.Model) -> None:
    cases = llama_cpp_cases()
    assert len(cases) > 300
    for case in cases:
        ids = model.tokenize(case["text"], add_special=case["add_special"], parse_special=case["parse_special"])
        assert ids == case["ids"], case


def test_detokenize_gives_back_the_text(model: worker_cuda.Model) -> None:
    for case in llama_cpp_cases():
        # Special-token text comes back only when rendered.
        text = model.detokenize(case["ids"], render_special=case["parse_special"])
        assert text == case["text"], case


def test_special_tokens_are_parsed_only_when_asked(model: worker_cuda.Model) -> None:
    im_start = model.tokenize("<|im_start|>", add_special=False, parse_special=True)
    assert len(im_start) == 1
    assert len(model.tokenize("<|im_start|>", add_special=False, parse_special=False)) > 1
    assert model.detokenize(im_start) == ""
    assert model.detokenize(im_start, render_special=True) == "<|im_start|>"


def test_a_prompts_token_count_is_the_generations(model: worker_cuda.Model) -> None:
    generation = greedy(model, max_tokens=2)
    generation.text()
    assert generation.info.prompt_tokens == len(model.tokenize(PROMPT))


def test_token_misuse_is_refused(model: worker_cuda.Model) -> None:
    with pytest.raises(worker_cuda.InvalidParameterError) as raised:
        model.detokenize([1, model.info.vocab_size])
    assert "vocabulary" in raised.value.detail
    with pytest.raises(worker_cuda.InvalidParameterError):
        model.detokenize([-1])
    with pytest.raises(worker_cuda.InvalidParameterError):
        model.tokenize("a\0b")
    with pytest.raises(TypeError):
        model.tokenize(b"bytes")  # type: ignore[arg-type]
    assert model.tokenize("") == []
    assert model.detokenize([]) == ""


def test_incomplete_utf8_becomes_a_replacement_character(model: worker_cuda.Model) -> None:
    ids = model.tokenize("😀", add_special=False)
    assert len(ids) > 1  # byte tokens
    assert model.detokenize(ids) == "😀"
    assert model.detokenize(ids[:1]) == "\ufffd"


def test_long_texts_need_no_size_from_the_caller(model: worker_cuda.Model, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Paris, the capital of France. " * 300
    ids = model.tokenize(text, add_special=False)
    monkeypatch.setattr(_api, "_TEXT_CAPACITY", 1)
    assert model.detokenize(ids) == text
    assert len(model.apply_chat_template([{"role": "user", "content": text}])) > len(text)


# ---- model facts -------------------------------------------------------------


def test_model_info_is_what_the_file_says(model: worker_cuda.Model, gguf_file: Any) -> None:
    info = model.info
    assert isinstance(info, worker_cuda.ModelInfo)
    arch = gguf_value(gguf_file, "general.architecture")
    assert info.architecture == arch == "llama"
    assert info.name == gguf_value(gguf_file, "general.name")
    assert info.chat_template == gguf_value(gguf_file, "tokenizer.chat_template")
    assert info.context_length == gguf_value(gguf_file, f"{arch}.context_length")
    assert info.n_layers == gguf_value(gguf_file, f"{arch}.block_count")
    assert info.n_embd == gguf_value(gguf_file, f"{arch}.embedding_length")
    assert info.n_heads == gguf_value(gguf_file, f"{arch}.attention.head_count")
    assert info.n_kv_heads == gguf_value(gguf_file, f"{arch}.attention.head_count_kv")
    assert info.vocab_size == len(gguf_value(gguf_file, "tokenizer.ggml.tokens"))
    assert info.bos_token_id == gguf_value(gguf_file, "tokenizer.ggml.bos_token_id")
    assert info.eos_token_id == gguf_value(gguf_file, "tokenizer.ggml.eos_token_id")
    assert info.eos_token_id in info.eog_token_ids
    types = collections.Counter(tensor.tensor_type.name for tensor in gguf_file.tensors)
    assert info.weight_types == dict(types)
    assert list(info.weight_types.values()) == sorted(info.weight_types.values(), reverse=True)
    assert info.n_params == sum(int(tensor.n_elements) for tensor in gguf_file.tensors)
    assert info.weight_bytes == model.vram_bytes
    assert model.info is info  # read once


# ---- chat templates ----------------------------------------------------------


@pytest.mark.parametrize("add_generation_prompt", [True, False])
@pytest.mark.parametrize("conversation", range(len(CONVERSATIONS)))
def test_the_files_chat_template_renders_as_jinja2_does(
    model: worker_cuda.Model, gguf_file: Any, conversation: int, add_generation_prompt: bool
) -> None:
    messages = CONVERSATIONS[conversation]
    tokens = gguf_value(gguf_file, "tokenizer.ggml.tokens")
    expected = jinja2_render(
        gguf_value(gguf_file, "tokenizer.chat_template"), messages, add_generation_prompt,
        tokens[gguf_value(gguf_file, "tokenizer.ggml.bos_token_id")],
        tokens[gguf_value(gguf_file, "tokenizer.ggml.eos_token_id")],
    )
    assert model.apply_chat_template(messages, add_generation_prompt) == expected
    assert model.apply_chat_template(messages, add_generation_prompt=add_generation_prompt) == expected


def test_a_template_of_ones_own_with_tools_and_variables(model: worker_cuda.Model) -> None:
    template = (
        "{{ bos_token }}{% if tools %}[{% for t in tools %}{{ t['name'] }}{% if not loop.last %},{% endif %}"
        "{% endfor %}]{% endif %}{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}{% if shout %}!{% endif %}"
    )
    tools = [{"name": "search", "parameters": {}}, {"name": "calc"}]
    messages = [{"role": "user", "content": "hi"}, {"role": "tool", "content": "42"}]
    bos = model.detokenize([model.info.bos_token_id], render_special=True)
    for add in (True, False):
        rendered = model.apply_chat_template(messages, add, template=template, tools=tools, shout=True)
        assert rendered == jinja2_render(template, messages, add, bos, "", tools=tools, shout=True)
    assert model.apply_chat_template(messages, template=template) == jinja2_render(template, messages, True, bos, "")


def test_a_message_without_content(model: worker_cuda.Model) -> None:
    """None or no "content" both give a message without a content key."""
    template = "{% for m in messages %}{{ m['role'] }}:{{ m['content'] is defined }};{% endfor %}"
    rendered = model.apply_chat_template([{"role": "assistant", "content": None}, {"role": "user"}], template=template)
    assert rendered == "assistant:False;user:False;"
    assert rendered == jinja2_render(template, [{"role": "assistant"}, {"role": "user"}], True, "", "")


def test_chat_template_errors(model: worker_cuda.Model) -> None:
    with pytest.raises(worker_cuda.InvalidParameterError) as raised:
        model.apply_chat_template([], template="{{ raise_exception('roles must alternate') }}")
    assert "roles must alternate" in raised.value.detail
    with pytest.raises(TypeError):
        model.apply_chat_template([{"content": "no role"}])
    with pytest.raises(TypeError):
        model.apply_chat_template(["not a mapping"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        model.apply_chat_template([{"role": "user", "content": ["parts"]}])
    with pytest.raises(TypeError):
        model.apply_chat_template(QUESTION, variables_are_json=object())
    with pytest.raises(worker_cuda.InvalidParameterError):
        model.apply_chat_template([{"role": "", "content": "x"}])


def test_chat_is_generation_from_the_rendered_template(model: worker_cuda.Model) -> None:
    chat = model.chat(QUESTION, max_tokens=12, temperature=0.0)
    expected = greedy(model, model.apply_chat_template(QUESTION)).text()
    assert chat.text() == expected
    assert chat.info.prompt_tokens == len(model.tokenize(model.apply_chat_template(QUESTION)))


# ---- finish reasons and usage ------------------------------------------------


def test_max_tokens(model: worker_cuda.Model) -> None:
    generation = greedy(model, max_tokens=5, logprobs=True)
    first = next(generation)
    early = generation.info
    assert early.finish_reason is FinishReason.NONE
    assert early.generated_tokens >= 1 and early.last_token_id is not None
    text = first + generation.text()
    info = generation.info
    assert generation.closed  # freed at the end; info keeps its last value
    assert info.finish_reason is FinishReason.MAX_TOKENS
    assert info.finish_reason == "max_tokens"
    assert info.generated_tokens == 5
    assert info.error_code is None
    chosen = [entry.token_id for entry in generation.logprobs or []]
    assert info.last_token_id == chosen[-1]
    assert model.detokenize(chosen) == text


def test_end_of_sequence(model: worker_cuda.Model) -> None:
    generation = model.chat([{"role": "user", "content": "Say hi."}], max_tokens=200, temperature=0.0)
    generation.text()
    info = generation.info
    assert info.finish_reason is FinishReason.EOS
    assert info.last_token_id in model.info.eog_token_ids
    assert info.generated_tokens < 200


def test_stop_string(model: worker_cuda.Model) -> None:
    free = greedy(model, max_tokens=12).text()
    word = free.split()[1]
    generation = greedy(model, max_tokens=12, stop=word)
    assert generation.text() == free[: free.index(word)]
    assert generation.info.finish_reason is FinishReason.STOP


def test_info_before_the_first_piece(model: worker_cuda.Model) -> None:
    generation = greedy(model)
    info = generation.info
    assert info == worker_cuda.InferenceInfo(len(model.tokenize(PROMPT)), 0, FinishReason.NONE, None, None)
    generation.close()


# ---- log-probabilities -------------------------------------------------------


def test_logprobs_of_greedy_generation(model: worker_cuda.Model) -> None:
    generation = greedy(model, max_tokens=8, top_logprobs=5)
    pieces = list(generation)
    entries = generation.logprobs
    assert entries is not None
    assert [entry.index for entry in entries] == list(range(generation.info.generated_tokens))
    assert len(entries) >= len(pieces)
    for entry in entries:
        assert len(entry.top) == 5
        ids = [token for token, _ in entry.top]
        values = [value for _, value in entry.top]
        assert len(set(ids)) == 5
        assert values == sorted(values, reverse=True)
        assert all(value <= 0.0 for value in values)
        assert sum(math.exp(value) for value in values) <= 1.0 + 1e-5
        # Greedy takes the most likely token (ties to the lower id, as top does).
        assert entry.token_id == ids[0]
        assert entry.logprob == values[0]


def test_logprobs_are_those_of_the_model_not_of_sampling(model: worker_cuda.Model) -> None:
    """Log-probabilities come before temperature: a sampled run reports, for
    the tokens it shares with the greedy run, the same values."""
    reference = greedy(model, max_tokens=1, top_logprobs=3)
    reference.text()
    hot = model.generate(PROMPT, max_tokens=1, temperature=1.5, seed=1, top_k=0, top_p=1.0, min_p=0.0,
                         top_logprobs=3)
    hot.text()
    assert reference.logprobs is not None and hot.logprobs is not None
    assert hot.logprobs[0].top == reference.logprobs[0].top


def test_logprobs_only_when_asked(model: worker_cuda.Model) -> None:
    generation = greedy(model, max_tokens=2)
    generation.text()
    assert generation.logprobs is None
    chosen_only = greedy(model, max_tokens=2, logprobs=True)
    chosen_only.text()
    assert chosen_only.logprobs and all(entry.top == () for entry in chosen_only.logprobs)
    with pytest.raises(worker_cuda.InvalidParameterError):
        greedy(model, top_logprobs=21)


# ---- cancel and close from other threads -----------------------------------------


def test_cancel_from_another_thread_ends_the_iteration(model: worker_cuda.Model) -> None:
    generation = greedy(model, max_tokens=300)
    pieces: List[str] = []
    errors: List[BaseException] = []
    started = threading.Event()

    def consume() -> None:
        try:
            for piece in generation:
                pieces.append(piece)
                started.set()
        except BaseException as e:  # reported by the main thread
            errors.append(e)
        started.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert started.wait(60)
    generation.cancel()
    consumer.join(60)
    assert not consumer.is_alive()
    assert not errors
    info = generation.info
    assert info.finish_reason is FinishReason.CANCELLED
    assert 1 <= info.generated_tokens < 300
    generation.cancel()  # after the end: nothing changes


def test_cancel_interrupts_the_prompts_evaluation(model: worker_cuda.Model) -> None:
    # About 7,000 tokens: fourteen prefill chunks, over a second even on a
    # fast CPU; the cancel comes 50 ms after the evaluation began.
    prompt = "The quick brown fox jumps over the lazy dog. " * 700
    generation = greedy(model, prompt, max_tokens=4)
    entered = threading.Event()
    outcome: List[Any] = []

    def consume() -> None:
        entered.set()
        outcome.append(next(generation, None))

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert entered.wait(60)
    time.sleep(0.05)
    generation.cancel()
    consumer.join(120)
    assert outcome[0] is None  # not one token generated
    info = generation.info
    assert info.finish_reason is FinishReason.CANCELLED
    assert info.generated_tokens == 0
    assert info.prompt_tokens > 6000


def test_close_from_another_thread_ends_the_consumer_cleanly(model: worker_cuda.Model) -> None:
    generation = greedy(model, max_tokens=300)
    errors: List[BaseException] = []
    count = [0]
    first = threading.Event()

    def consume() -> None:
        try:
            for _ in generation:
                count[0] += 1
                first.set()
        except BaseException as e:
            errors.append(e)
        first.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert first.wait(60)
    generation.close()
    consumer.join(60)
    assert not consumer.is_alive()
    assert not errors, errors
    assert generation.closed
    assert 1 <= count[0] < 300
    assert generation.info.finish_reason is FinishReason.CANCELLED
    assert next(generation, None) is None


def test_cancel_before_the_first_piece(model: worker_cuda.Model) -> None:
    generation = greedy(model)
    generation.cancel()
    assert list(generation) == []
    assert generation.info.finish_reason is FinishReason.CANCELLED
    assert generation.info.generated_tokens == 0


# ---- asyncio ------------------------------------------------------------------


def test_async_iteration_gives_the_same_pieces(model: worker_cuda.Model) -> None:
    expected = list(greedy(model))

    async def main() -> List[str]:
        ticks = 0
        done = False

        async def ticker() -> None:
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.ensure_future(ticker())
        pieces = [piece async for piece in greedy(model)]
        done = True
        await task
        assert ticks > len(pieces)  # the loop ran while the steps did
        return pieces

    assert asyncio.run(main()) == expected
    assert asyncio.run(greedy(model).atext()) == "".join(expected)


def test_cancelling_the_awaiting_task_closes_the_generation(model: worker_cuda.Model) -> None:
    generation = greedy(model, max_tokens=300)

    async def consume(first: asyncio.Event) -> None:
        async for _ in generation:
            first.set()

    async def main() -> None:
        first = asyncio.Event()
        task = asyncio.ensure_future(consume(first))
        await asyncio.wait_for(first.wait(), 60)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    deadline = time.monotonic() + 60
    while not generation.closed and time.monotonic() < deadline:
        time.sleep(0.05)  # the executor's step frees it when it returns
    assert generation.closed
    assert generation.info.finish_reason is FinishReason.CANCELLED
    assert generation.info.generated_tokens < 300


# ---- load progress ------------------------------------------------------------


def test_load_progress_rises_to_one_and_can_cancel(model_path: Path) -> None:
    with worker_cuda.Context(worker_cuda.DEVICE_CPU) as ctx:
        seen: List[float] = []
        with ctx.load_model(model_path, progress=lambda f: seen.append(f) or True):
            pass
        assert len(seen) >= 30 and seen[-1] == 1.0
        assert all(a <= b for a, b in zip(seen, seen[1:]))

        with pytest.raises(worker_cuda.ModelLoadError, match="cancelled by its progress callback"):
            ctx.load_model(model_path, progress=lambda f: f < 0.5)

        def boom(fraction: float) -> bool:
            raise KeyError("from the callback")

        with pytest.raises(KeyError, match="from the callback"):
            ctx.load_model(model_path, progress=boom)
        # The context is still usable.
        with ctx.load_model(model_path) as model:
            assert model.info.architecture == "llama"
