"""Context settings (cuda_init_ex): keyword arguments of Context, their
checks, the environment as their defaults, and the log callback."""

from __future__ import annotations

import ctypes
import gc
from pathlib import Path
from typing import List, Tuple

import pytest

import worker_cuda
from worker_cuda import LogLevel, _library

VARIABLES = [
    "WORKER_CPU_THREADS",
    "WORKER_CPU_ISA",
    "WORKER_CPU_WEIGHTS",
    "WORKER_CUDA_GRAPHS",
    "WORKER_CUDA_STAGING_BYTES",
    "WORKER_HEALTH_TIMEOUT_MS",
    "WORKER_LOG",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_the_struct_matches_the_c_layout() -> None:
    # uint32 + 3 int32, uint64 at 16, 2 int32, two pointers at 32 and 40,
    # int32 at 48, padded to 56 on a 64-bit ABI.
    params = _library.context_params_init()
    assert params.struct_size == ctypes.sizeof(_library.WorkerContextParams)
    assert _library.WorkerContextParams.cuda_staging_bytes.offset == 16
    assert _library.WorkerContextParams.log_callback.offset == 32
    assert _library.WorkerContextParams.log_level.offset == 48
    assert ctypes.sizeof(_library.WorkerContextParams) == 56
    assert (params.cpu_threads, params.cpu_isa, params.cuda_graphs, params.log_level) == (0, 0, -1, -1)


def test_the_library_speaks_api_0_3_or_later() -> None:
    major, minor, _ = worker_cuda.api_version()
    assert (major, minor) >= (0, 3)


def test_every_setting_is_accepted() -> None:
    with worker_cuda.Context(
        worker_cuda.DEVICE_CPU,
        cpu_threads=2,
        cpu_isa="scalar",
        cuda_graphs=False,
        cuda_staging_bytes=1 << 16,
        health_timeout_ms=500,
        cpu_weights="private",
        log=lambda level, text: None,
        log_level=LogLevel.DEBUG,
    ) as ctx:
        assert ctx.check_device_health() is True


@pytest.mark.parametrize(
    "settings, field",
    [
        ({"cpu_threads": -1}, "params->cpu_threads is -1"),
        ({"cpu_threads": 1025}, "params->cpu_threads is 1025"),
        ({"cuda_staging_bytes": 1000}, "params->cuda_staging_bytes is 1000"),
        ({"health_timeout_ms": -3}, "params->health_timeout_ms is -3"),
        ({"log_level": 9}, "params->log_level is 9"),
    ],
)
def test_an_invalid_value_is_refused_by_the_library_naming_it(settings: dict, field: str) -> None:
    with pytest.raises(worker_cuda.InvalidParameterError) as raised:
        worker_cuda.Context(worker_cuda.DEVICE_CPU, **settings)
    assert raised.value.code is worker_cuda.ErrorCode.INVALID_PARAMETER
    assert field in raised.value.detail


@pytest.mark.parametrize("settings", [{"cpu_isa": "avx3"}, {"cpu_weights": "sometimes"}])
def test_an_unknown_name_is_refused(settings: dict) -> None:
    with pytest.raises(worker_cuda.InvalidParameterError) as raised:
        worker_cuda.Context(worker_cuda.DEVICE_CPU, **settings)
    assert next(iter(settings.values())) in raised.value.detail


@pytest.mark.parametrize(
    "settings",
    [
        {"cpu_threads": "4"},
        {"cpu_threads": True},
        {"cpu_isa": 2},
        {"cuda_graphs": 1},
        {"cpu_weights": None, "log": "stderr"},
    ],
)
def test_a_wrong_type_is_a_type_error(settings: dict) -> None:
    with pytest.raises(TypeError):
        worker_cuda.Context(worker_cuda.DEVICE_CPU, **settings)


def test_the_environment_supplies_the_defaults_and_an_argument_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_CPU_THREADS", "zero")
    with pytest.raises(worker_cuda.InvalidParameterError) as raised:
        worker_cuda.Context(worker_cuda.DEVICE_CPU)
    assert "WORKER_CPU_THREADS is 'zero'" in raised.value.detail
    # The argument replaces the variable, which is then not read.
    worker_cuda.Context(worker_cuda.DEVICE_CPU, cpu_threads=2).close()


def _load_missing(ctx: worker_cuda.Context, tmp_path: Path) -> Path:
    missing = tmp_path / "missing.gguf"
    with pytest.raises(worker_cuda.ModelLoadError):
        ctx.load_model(missing)
    return missing


def test_a_log_callable_receives_the_messages(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    received: List[Tuple[LogLevel, str]] = []
    ctx = worker_cuda.Context(worker_cuda.DEVICE_CPU, log=lambda level, text: received.append((level, text)))
    gc.collect()  # the callback must not depend on the lambda being referenced elsewhere
    missing = _load_missing(ctx, tmp_path)
    ctx.close()
    assert received, "no message reached the callback"
    level, text = received[0]
    assert level is LogLevel.INFO
    assert f"load '{missing}'" in text
    assert capfd.readouterr().err == ""


def test_the_log_level_filters_and_stderr_is_used_without_a_callable(
    tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    received: List[Tuple[LogLevel, str]] = []
    with worker_cuda.Context(
        worker_cuda.DEVICE_CPU, log=lambda level, text: received.append((level, text)), log_level=LogLevel.WARN
    ) as ctx:
        _load_missing(ctx, tmp_path)
    assert received == []
    with worker_cuda.Context(worker_cuda.DEVICE_CPU, log_level=LogLevel.INFO) as ctx:
        missing = _load_missing(ctx, tmp_path)
    assert f"[worker_cuda] load '{missing}'" in capfd.readouterr().err


def test_an_exception_in_the_log_callable_does_not_break_the_call(tmp_path: Path) -> None:
    def broken(level: LogLevel, text: str) -> None:
        raise RuntimeError("the callback failed")

    with worker_cuda.Context(worker_cuda.DEVICE_CPU, log=broken) as ctx:
        _load_missing(ctx, tmp_path)  # still the load's own error, nothing else


@pytest.mark.generation
def test_contexts_at_every_cpu_level_generate_the_same_text(model_path: Path) -> None:
    prompt = "<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n"
    outputs = []
    for level in ("scalar", "avx2", "avx512"):
        with worker_cuda.Context(worker_cuda.DEVICE_CPU, cpu_isa=level, cpu_threads=2) as ctx:
            with ctx.load_model(model_path) as model:
                outputs.append(list(model.generate(prompt, max_tokens=8, temperature=0.0)))
    assert outputs[0]
    assert outputs[1] == outputs[0]
    assert outputs[2] == outputs[0]

