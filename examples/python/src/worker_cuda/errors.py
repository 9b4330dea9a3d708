"""Exceptions raised by worker_cuda, one class per error code of the C ABI."""

from __future__ import annotations

import enum
from typing import Dict, Optional, Type


class ErrorCode(enum.IntEnum):
    """The C ABI's ``CudaErrorCode``, with the same fixed values."""

    SUCCESS = 0
    INVALID_DEVICE = 1
    OUT_OF_MEMORY = 2
    MODEL_LOAD_FAILED = 3
    INFERENCE_FAILED = 4
    INVALID_PARAMETER = 5
    KERNEL_LAUNCH_FAILED = 6
    VRAM_RESIDENCY_FAILED = 7
    DEVICE_NOT_FOUND = 8
    UNKNOWN = 99


class LibraryLoadError(ImportError):
    """libworker_cuda could not be found or loaded, or its major version is
    not the one this package was written for."""


class WorkerError(Exception):
    """A failed call into libworker_cuda.

    Attributes:
        code: The :class:`ErrorCode` of the failure.
        detail: The library's detail message (``cuda_last_error_detail``),
            naming what exactly went wrong.
    """

    code: ErrorCode
    detail: str

    def __init__(self, code: int, detail: str, message: Optional[str] = None) -> None:
        self.code = _as_code(code)
        self.detail = detail
        self._message = message or self.code.name.lower().replace("_", " ")
        super().__init__(self.code, detail)

    def __str__(self) -> str:
        return f"{self._message}: {self.detail}" if self.detail else self._message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code.name}, detail={self.detail!r})"


class InvalidDeviceError(WorkerError):
    """The device id is out of range or the device is unusable."""


class OutOfMemoryError(WorkerError):
    """Host or device memory is exhausted."""


class ModelLoadError(WorkerError):
    """The model file is missing, unreadable, malformed or unsupported."""


class InferenceError(WorkerError):
    """Generation failed after it was started."""


class InvalidParameterError(WorkerError, ValueError):
    """A bad argument: a value out of range, a NUL byte in a string, or an
    object that was already closed."""


class KernelLaunchError(WorkerError):
    """A GPU kernel could not be launched or faulted."""


class VramResidencyError(WorkerError):
    """A weight allocation is not plain device memory."""


class DeviceNotFoundError(WorkerError):
    """No CUDA device exists (or the library has no CUDA backend)."""


class UnknownError(WorkerError):
    """An unexpected internal failure, or a code this package does not know."""


_CLASSES: Dict[ErrorCode, Type[WorkerError]] = {
    ErrorCode.INVALID_DEVICE: InvalidDeviceError,
    ErrorCode.OUT_OF_MEMORY: OutOfMemoryError,
    ErrorCode.MODEL_LOAD_FAILED: ModelLoadError,
    ErrorCode.INFERENCE_FAILED: InferenceError,
    ErrorCode.INVALID_PARAMETER: InvalidParameterError,
    ErrorCode.KERNEL_LAUNCH_FAILED: KernelLaunchError,
    ErrorCode.VRAM_RESIDENCY_FAILED: VramResidencyError,
    ErrorCode.DEVICE_NOT_FOUND: DeviceNotFoundError,
    ErrorCode.UNKNOWN: UnknownError,
}


def _as_code(code: int) -> ErrorCode:
    try:
        return ErrorCode(code)
    except ValueError:
        return ErrorCode.UNKNOWN


def error_for_code(code: int, detail: str, message: Optional[str] = None) -> WorkerError:
    """The exception for an error code: an instance of the subclass of
    :class:`WorkerError` for ``code``. Values that are not failure codes
    (including ``SUCCESS``) give :class:`UnknownError`."""
    known = _as_code(code)
    if known is ErrorCode.SUCCESS or (known is ErrorCode.UNKNOWN and code != ErrorCode.UNKNOWN):
        return UnknownError(ErrorCode.UNKNOWN, detail or f"error code {code} is not a failure code")
    return _CLASSES[known](known, detail, message)
