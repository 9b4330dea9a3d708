"""Real generation with SmolLM2-135M-Instruct on the CPU device."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import List

import pytest

import worker_cuda
from worker_cuda import _api

pytestmark = pytest.mark.generation

PROMPT = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"


def greedy(model: worker_cuda.Model, max_tokens: int = 24, prompt: str = PROMPT) -> List[str]:
    return list(model.generate(prompt, max_tokens=max_tokens, temperature=0.0))


def test_the_model_is_loaded_and_resident(model: worker_cuda.Model) -> None:
    assert model.vram_bytes > 50_000_000
    assert model.vram_usage >= model.vram_bytes
    assert model.check_vram_residency() is True


def test_greedy_generation_answers_and_is_deterministic(model: worker_cuda.Model) -> None:
    pieces = greedy(model)
    assert 0 < len(pieces) <= 24
    assert all(isinstance(piece, str) for piece in pieces)
    assert "Paris" in "".join(pieces)
    assert greedy(model) == pieces


def test_a_generation_counts_its_tokens_and_frees_itself_when_done(model: worker_cuda.Model) -> None:
    with model.generate(PROMPT, max_tokens=3, temperature=0.0) as generation:
        pieces = list(generation)
        assert 1 <= len(pieces) <= 3
        assert generation.tokens == len(pieces)
        assert generation.closed
        assert next(generation, None) is None


def test_sampling_is_reproducible_by_seed(model: worker_cuda.Model) -> None:
    def run(seed: int) -> str:
        return model.generate(PROMPT, max_tokens=16, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0,
                              seed=seed).text()

    first = run(7)
    assert run(7) == first
    assert any(run(seed) != first for seed in range(8, 12))


def test_every_sampling_parameter_is_accepted(model: worker_cuda.Model) -> None:
    text = model.generate(PROMPT, max_tokens=8, temperature=0.7, seed=3, top_k=20, top_p=0.9, min_p=0.1,
                          repetition_penalty=1.3).text()
    assert text


def test_a_stop_string_ends_generation_and_is_not_returned(model: worker_cuda.Model) -> None:
    free = "".join(greedy(model))
    assert "Paris" in free
    stopped = model.generate(PROMPT, max_tokens=24, temperature=0.0, stop=["Paris", "London"]).text()
    assert stopped == free[: free.index("Paris")]
    assert model.generate(PROMPT, max_tokens=24, temperature=0.0, stop="Paris").text() == stopped


@pytest.mark.parametrize(
    "arguments",
    [
        {"max_tokens": 0},
        {"max_tokens": 2**31},
        {"temperature": -1.0},
        {"top_k": -1},
        {"top_p": 0.0},
        {"min_p": 1.0},
        {"repetition_penalty": 0.0},
        {"seed": -1},
        {"stop": [""]},
        {"stop": ["a\0b"]},
    ],
)
def test_bad_arguments_are_invalid_parameters(model: worker_cuda.Model, arguments: dict) -> None:
    with pytest.raises(worker_cuda.InvalidParameterError) as raised:
        model.generate(PROMPT, **arguments)
    assert raised.value.detail


def test_bad_prompts_are_refused(model: worker_cuda.Model) -> None:
    with pytest.raises(worker_cuda.InvalidParameterError):
        model.generate("Hello\0world")
    with pytest.raises(TypeError):
        model.generate(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        model.generate(PROMPT, max_tokens=2.5)  # type: ignore[arg-type]
    assert greedy(model, 2)  # the model stays usable


def test_streaming_keeps_utf8_intact(model: worker_cuda.Model, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each emoji is four bytes that the model produces as several byte tokens.
    prompt = "Emojis: 😀😃😄😁😆😅😂🤣"
    generation = model.generate(prompt, max_tokens=30, temperature=0.0)
    pieces = list(generation)
    text = "".join(pieces)
    assert any(ord(ch) > 0xFFFF for ch in text), text
    assert "\ufffd" not in text
    # Pieces are whole characters: more tokens than characters came out.
    assert generation.tokens > len(text)
    for piece in pieces:
        assert piece.encode("utf-8").decode("utf-8") == piece
    # With a one-byte buffer every non-empty piece is first refused; none is lost.
    monkeypatch.setattr(_api, "_PIECE_CAPACITY", 1)
    assert list(model.generate(prompt, max_tokens=30, temperature=0.0)) == pieces


def test_a_closed_generation_ends_its_iteration(model: worker_cuda.Model) -> None:
    generation = model.generate(PROMPT, max_tokens=8, temperature=0.0)
    next(generation)
    generation.close()
    assert generation.closed
    assert next(generation, None) is None
    assert generation.info.finish_reason is worker_cuda.FinishReason.CANCELLED
    generation.close()  # closing twice is fine


def test_handles_may_be_closed_in_any_order(model_path: Path) -> None:
    context = worker_cuda.Context()
    model = context.load_model(model_path)
    generation = model.generate(PROMPT, max_tokens=6, temperature=0.0)
    first = next(generation)
    context.close()
    model.close()
    with pytest.raises(worker_cuda.InvalidParameterError):
        model.generate(PROMPT)
    rest = generation.text()
    assert first + rest


def test_unclosed_objects_are_freed_by_the_garbage_collector(model_path: Path) -> None:
    for _ in range(3):
        context = worker_cuda.Context()
        model = context.load_model(model_path)
        generation = model.generate(PROMPT, max_tokens=4, temperature=0.0)
        next(generation)
        del context, model, generation
        gc.collect()
    with worker_cuda.Context() as context, context.load_model(model_path) as model:
        assert greedy(model, 2)


def test_threads_each_with_their_own_generation(model: worker_cuda.Model) -> None:
    expected = greedy(model, 12)
    results: List[List[str]] = [[] for _ in range(4)]
    errors: List[BaseException] = []

    def work(slot: int) -> None:
        try:
            results[slot] = greedy(model, 12)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == [expected] * 4


def test_a_generation_moves_between_threads(model: worker_cuda.Model) -> None:
    expected = greedy(model, 6)
    generation = model.generate(PROMPT, max_tokens=6, temperature=0.0)
    pieces = [next(generation)]
    worker = threading.Thread(target=lambda: pieces.extend(generation))
    worker.start()
    worker.join()
    assert pieces == expected
