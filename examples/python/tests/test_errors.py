"""Error mapping and misuse: none of these needs a model that generates."""

from __future__ import annotations

import ctypes
import gc
import struct
from ctypes import byref, c_int
from pathlib import Path

import pytest

import worker_cuda
from worker_cuda import ErrorCode

from conftest import REPO_ROOT

CLASSES = {
    ErrorCode.INVALID_DEVICE: worker_cuda.InvalidDeviceError,
    ErrorCode.OUT_OF_MEMORY: worker_cuda.OutOfMemoryError,
    ErrorCode.MODEL_LOAD_FAILED: worker_cuda.ModelLoadError,
    ErrorCode.INFERENCE_FAILED: worker_cuda.InferenceError,
    ErrorCode.INVALID_PARAMETER: worker_cuda.InvalidParameterError,
    ErrorCode.KERNEL_LAUNCH_FAILED: worker_cuda.KernelLaunchError,
    ErrorCode.VRAM_RESIDENCY_FAILED: worker_cuda.VramResidencyError,
    ErrorCode.DEVICE_NOT_FOUND: worker_cuda.DeviceNotFoundError,
    ErrorCode.UNKNOWN: worker_cuda.UnknownError,
}


def test_codes_have_the_c_values() -> None:
    assert [int(c) for c in ErrorCode] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 99]


@pytest.mark.parametrize("code", list(CLASSES))
def test_each_code_maps_to_its_exception(code: ErrorCode) -> None:
    error = worker_cuda.error_for_code(int(code), "the detail")
    assert type(error) is CLASSES[code]
    assert isinstance(error, worker_cuda.WorkerError)
    assert error.code is code
    assert error.detail == "the detail"
    assert "the detail" in str(error)


@pytest.mark.parametrize("code", [0, 9, -1, 1000])
def test_values_that_are_not_failure_codes_are_unknown(code: int) -> None:
    error = worker_cuda.error_for_code(code, "")
    assert type(error) is worker_cuda.UnknownError
    assert str(code) in error.detail


def test_invalid_parameters_are_also_value_errors() -> None:
    assert issubclass(worker_cuda.InvalidParameterError, ValueError)


def test_no_gpu_or_a_bad_id_is_reported() -> None:
    devices = worker_cuda.device_count()
    assert devices >= 0
    # Without a GPU any id is a missing device; with one, an id past the end.
    expected = worker_cuda.DeviceNotFoundError if devices == 0 else worker_cuda.InvalidDeviceError
    with pytest.raises(expected) as raised:
        worker_cuda.Context(devices)
    assert raised.value.detail
    with pytest.raises(worker_cuda.InvalidDeviceError) as below:
        worker_cuda.Context(-2)
    assert str(below.value).startswith("invalid device: ")


def test_device_ids_are_checked_before_reaching_c() -> None:
    with pytest.raises(TypeError):
        worker_cuda.Context("0")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        worker_cuda.Context(True)
    with pytest.raises(worker_cuda.InvalidParameterError):
        worker_cuda.Context(2**40)


def test_the_cpu_context_works(ctx: worker_cuda.Context) -> None:
    assert ctx.check_device_health() is True
    assert ctx.process_vram_usage > 0
    assert ctx.device == worker_cuda.DEVICE_CPU


def test_missing_and_malformed_models_fail_to_load(ctx: worker_cuda.Context, tmp_path: Path) -> None:
    with pytest.raises(worker_cuda.ModelLoadError) as missing:
        ctx.load_model(tmp_path / "missing.gguf")
    assert "missing.gguf" in missing.value.detail

    with pytest.raises(worker_cuda.ModelLoadError):
        ctx.load_model(tmp_path)

    with pytest.raises(worker_cuda.ModelLoadError):
        ctx.load_model(REPO_ROOT / "README.md")

    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 10**6, 10**6))
    with pytest.raises(worker_cuda.ModelLoadError) as malformed:
        ctx.load_model(truncated)
    assert malformed.value.detail

    # Failures leave the context usable.
    assert ctx.check_device_health()


def test_a_nul_in_the_path_is_an_invalid_parameter(ctx: worker_cuda.Context) -> None:
    with pytest.raises(worker_cuda.InvalidParameterError):
        ctx.load_model("model\0.gguf")
    with pytest.raises(TypeError):
        ctx.load_model(None)  # type: ignore[arg-type]


def test_null_handles_give_invalid_parameter_not_a_crash() -> None:
    lib = worker_cuda.library()
    err = c_int(-1)
    assert not lib.cuda_load_model(None, b"x.gguf", None, byref(err))
    assert err.value == ErrorCode.INVALID_PARAMETER
    assert lib.cuda_last_error_detail()

    err.value = -1
    assert not lib.cuda_inference_start(None, b"hi", 4, 0.0, 0, byref(err))
    assert err.value == ErrorCode.INVALID_PARAMETER

    err.value = -1
    piece = ctypes.create_string_buffer(16)
    assert not lib.cuda_inference_next_token(None, piece, 16, None, byref(err))
    assert err.value == ErrorCode.INVALID_PARAMETER

    assert lib.cuda_model_get_vram_usage(None) == 0
    assert lib.cuda_get_process_vram_usage(None) == 0
    lib.cuda_destroy(None)
    lib.cuda_unload_model(None)
    lib.cuda_inference_free(None)


def test_handles_of_the_wrong_kind_are_refused_by_ctypes(ctx: worker_cuda.Context) -> None:
    lib = worker_cuda.library()
    with pytest.raises(ctypes.ArgumentError):
        lib.cuda_unload_model(ctx._handle)


def test_a_closed_context_raises(ctx: worker_cuda.Context) -> None:
    ctx.close()
    assert ctx.closed
    for use in (lambda: ctx.load_model("x.gguf"), lambda: ctx.process_vram_usage, ctx.check_device_health):
        with pytest.raises(worker_cuda.InvalidParameterError) as raised:
            use()
        assert "closed" in raised.value.detail
    ctx.close()  # closing twice is fine


def test_with_closes_the_context() -> None:
    with worker_cuda.Context() as context:
        assert not context.closed
    assert context.closed
    with pytest.raises(worker_cuda.InvalidParameterError):
        context.check_device_health()


def test_unclosed_contexts_are_freed_by_the_garbage_collector() -> None:
    for _ in range(50):
        worker_cuda.Context()
    cycle = [worker_cuda.Context()]
    cycle.append(cycle)  # type: ignore[arg-type]
    del cycle
    gc.collect()
    assert worker_cuda.Context().check_device_health()
