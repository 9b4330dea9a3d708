"""Python bindings for libworker_cuda: run GGUF language models on a CUDA GPU
or on the CPU reference device, and stream the generated text.

>>> import worker_cuda
>>> with worker_cuda.Context(worker_cuda.DEVICE_CPU) as ctx:      # doctest: +SKIP
...     with ctx.load_model("SmolLM2-135M-Instruct.Q4_1.gguf") as model:
...         for piece in model.generate("The capital of France is", max_tokens=16):
...             print(piece, end="", flush=True)

The library is found through ``$WORKER_CUDA_LIBRARY`` (a path), else the
copy a wheel carries inside this package, else the installed
``libworker_cuda.so.0`` through the dynamic loader, else
``ctypes.util.find_library("worker_cuda")``. It is loaded on first use;
:class:`LibraryLoadError` says why when that fails.
"""

from ._api import Context, Generation, LogLevel, Message, Model, api_version, device_count
from ._info import FinishReason, InferenceInfo, ModelInfo, TokenLogprob
from ._library import API_MAJOR, DEVICE_CPU, bundled_library, library
from .errors import (
    DeviceNotFoundError,
    ErrorCode,
    InferenceError,
    InvalidDeviceError,
    InvalidParameterError,
    KernelLaunchError,
    LibraryLoadError,
    ModelLoadError,
    OutOfMemoryError,
    UnknownError,
    VramResidencyError,
    WorkerError,
    error_for_code,
)

__version__ = "0.1.0"

__all__ = [
    "API_MAJOR",
    "DEVICE_CPU",
    "Context",
    "DeviceNotFoundError",
    "ErrorCode",
    "FinishReason",
    "Generation",
    "InferenceInfo",
    "InferenceError",
    "InvalidDeviceError",
    "InvalidParameterError",
    "KernelLaunchError",
    "LibraryLoadError",
    "LogLevel",
    "Message",
    "Model",
    "ModelInfo",
    "ModelLoadError",
    "OutOfMemoryError",
    "TokenLogprob",
    "UnknownError",
    "VramResidencyError",
    "WorkerError",
    "api_version",
    "bundled_library",
    "device_count",
    "error_for_code",
    "library",
]
