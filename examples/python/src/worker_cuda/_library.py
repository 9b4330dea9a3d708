"""Finds and loads libworker_cuda, and declares the C prototypes of its
functions for ctypes."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from ctypes import CFUNCTYPE, POINTER, c_bool, c_char, c_char_p, c_float, c_int, c_int32, c_int64, c_uint32, c_uint64, c_void_p
from pathlib import Path
from typing import List, Optional

from .errors import LibraryLoadError, WorkerError, error_for_code

#: The major version of the C API this package is written against.
API_MAJOR = 0

#: ``WORKER_DEVICE_CPU``: the device id of the CPU reference device.
DEVICE_CPU = -1

#: The environment variable that names the library file to load.
LIBRARY_ENV = "WORKER_CUDA_LIBRARY"


class _CudaContext(ctypes.Structure):
    """Opaque ``CudaContext``."""


class _CudaModel(ctypes.Structure):
    """Opaque ``CudaModel``."""


class _InferenceResult(ctypes.Structure):
    """Opaque ``InferenceResult``."""


ContextHandle = POINTER(_CudaContext)
ModelHandle = POINTER(_CudaModel)
InferenceHandle = POINTER(_InferenceResult)


class WorkerInferenceParams(ctypes.Structure):
    """``WorkerInferenceParams`` of worker_types.h, field for field."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("max_tokens", c_int32),
        ("temperature", c_float),
        ("seed", c_uint64),
        ("top_k", c_int32),
        ("top_p", c_float),
        ("min_p", c_float),
        ("repetition_penalty", c_float),
        ("stop", POINTER(c_char_p)),
        ("n_stop", c_int32),
        ("parse_special", c_int32),
        # 0.3
        ("logprobs", c_int32),
        ("top_logprobs", c_int32),
    ]


# ---- context settings (cuda_init_ex, API 0.3) ----------------------------------

#: ``WorkerLogCallback``: ``void (*)(int level, const char* message, void* user_data)``.
LogCallback = CFUNCTYPE(None, c_int, c_char_p, c_void_p)


class WorkerContextParams(ctypes.Structure):
    """``WorkerContextParams`` of worker_types.h, field for field."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("cpu_threads", c_int32),
        ("cpu_isa", c_int32),
        ("cuda_graphs", c_int32),
        ("cuda_staging_bytes", c_uint64),
        ("health_timeout_ms", c_int32),
        ("cpu_weights", c_int32),
        ("log_callback", LogCallback),
        ("log_user_data", c_void_p),
        ("log_level", c_int32),
    ]


#: ``WORKER_CPU_ISA_*``: the values of ``WorkerContextParams.cpu_isa`` by name.
CPU_ISA = {"auto": 0, "scalar": 1, "avx2": 2, "avx512": 3}
#: ``WORKER_CPU_WEIGHTS_MAPPED``/``_PRIVATE``: ``WorkerContextParams.cpu_weights`` by name.
CPU_WEIGHTS = {"mapped": 1, "private": 2}
#: ``WORKER_LOG_DEFAULT``.
LOG_DEFAULT = -1


def context_params_init() -> WorkerContextParams:
    """``WORKER_CONTEXT_PARAMS_INIT``: every field at its default."""
    return WorkerContextParams(
        struct_size=ctypes.sizeof(WorkerContextParams),
        cpu_threads=0,
        cpu_isa=CPU_ISA["auto"],
        cuda_graphs=-1,
        cuda_staging_bytes=0,
        health_timeout_ms=0,
        cpu_weights=0,  # WORKER_CPU_WEIGHTS_DEFAULT
        log_callback=LogCallback(),
        log_user_data=None,
        log_level=LOG_DEFAULT,
    )


_ERR = POINTER(c_int)

# name: (restype, argtypes) for every function of worker_ffi.h.
_PROTOTYPES = {
    "cuda_init": (ContextHandle, [c_int, _ERR]),
    "cuda_destroy": (None, [ContextHandle]),
    "cuda_get_device_count": (c_int, []),
    "cuda_load_model": (ModelHandle, [ContextHandle, c_char_p, POINTER(c_uint64), _ERR]),
    "cuda_unload_model": (None, [ModelHandle]),
    "cuda_model_get_vram_usage": (c_uint64, [ModelHandle]),
    "cuda_inference_start": (
        InferenceHandle,
        [ModelHandle, c_char_p, c_int, c_float, c_uint64, _ERR],
    ),
    "cuda_inference_start_ex": (
        InferenceHandle,
        [ModelHandle, c_char_p, POINTER(WorkerInferenceParams), _ERR],
    ),
    "cuda_inference_next_token": (
        c_bool,
        [InferenceHandle, POINTER(c_char), c_int, POINTER(c_int), _ERR],
    ),
    "cuda_inference_free": (None, [InferenceHandle]),
    "cuda_check_vram_residency": (c_bool, [ModelHandle, _ERR]),
    "cuda_get_vram_usage": (c_uint64, [ModelHandle]),
    "cuda_get_process_vram_usage": (c_uint64, [ContextHandle]),
    "cuda_check_device_health": (c_bool, [ContextHandle, _ERR]),
    "cuda_error_message": (c_char_p, [c_int]),
    "cuda_last_error_detail": (c_char_p, []),
    "cuda_api_version": (c_uint32, []),
    "cuda_init_ex": (ContextHandle, [c_int, POINTER(WorkerContextParams), _ERR]),
}


# ---- ABI 0.3: inference details, tokens, model facts, chat templates ----------


class WorkerInferenceInfo(ctypes.Structure):
    """``WorkerInferenceInfo`` of worker_types.h, field for field."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("prompt_tokens", c_int32),
        ("generated_tokens", c_int32),
        ("finish_reason", c_int32),
        ("last_token_id", c_int32),
        ("error_code", c_int32),
    ]


class WorkerTokenLogprob(ctypes.Structure):
    """``WorkerTokenLogprob`` of worker_types.h."""

    _fields_ = [("token_id", c_int32), ("logprob", c_float)]


class WorkerModelInfo(ctypes.Structure):
    """``WorkerModelInfo`` of worker_types.h, field for field."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("architecture", c_char_p),
        ("name", c_char_p),
        ("chat_template", c_char_p),
        ("weight_types", c_char_p),
        ("context_length", c_uint32),
        ("vocab_size", c_int32),
        ("bos_token_id", c_int32),
        ("eos_token_id", c_int32),
        ("eog_token_ids", POINTER(c_int32)),
        ("n_eog_token_ids", c_int32),
        ("n_layers", c_int32),
        ("n_embd", c_int32),
        ("n_heads", c_int32),
        ("n_kv_heads", c_int32),
        ("n_params", c_uint64),
        ("weight_bytes", c_uint64),
    ]


class WorkerChatMessage(ctypes.Structure):
    """``WorkerChatMessage`` of worker_types.h."""

    _fields_ = [("role", c_char_p), ("content", c_char_p)]


class WorkerChatParams(ctypes.Structure):
    """``WorkerChatParams`` of worker_types.h, field for field."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("add_generation_prompt", c_int32),
        ("template_text", c_char_p),
        ("tools_json", c_char_p),
        ("extra_json", c_char_p),
    ]


#: ``WorkerLoadProgress``: ``bool (*)(float fraction, void* user_data)``.
LoadProgress = CFUNCTYPE(c_bool, c_float, c_void_p)


class WorkerLoadParams(ctypes.Structure):
    """``WorkerLoadParams`` of worker_types.h, field for field."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("progress", LoadProgress),
        ("progress_user_data", c_void_p),
    ]


_PROTOTYPES.update(
    {
        "cuda_load_model_ex": (
            ModelHandle,
            [ContextHandle, c_char_p, POINTER(WorkerLoadParams), POINTER(c_uint64), _ERR],
        ),
        "cuda_inference_cancel": (c_bool, [InferenceHandle, _ERR]),
        "cuda_inference_get_info": (c_bool, [InferenceHandle, POINTER(WorkerInferenceInfo), _ERR]),
        "cuda_inference_next_token_size": (c_int32, [InferenceHandle, _ERR]),
        "cuda_inference_get_logprobs": (
            c_int32,
            [InferenceHandle, c_int32, POINTER(WorkerTokenLogprob), POINTER(WorkerTokenLogprob), c_int32, _ERR],
        ),
        "cuda_tokenize": (c_int32, [ModelHandle, c_char_p, c_bool, c_bool, POINTER(c_int32), c_int32, _ERR]),
        "cuda_detokenize": (
            c_int64,
            [ModelHandle, POINTER(c_int32), c_int32, c_bool, POINTER(c_char), c_int64, _ERR],
        ),
        "cuda_model_get_info": (c_bool, [ModelHandle, POINTER(WorkerModelInfo), _ERR]),
        "cuda_chat_apply_template": (
            c_int64,
            [ModelHandle, POINTER(WorkerChatMessage), c_int32, POINTER(WorkerChatParams), POINTER(c_char), c_int64, _ERR],
        ),
    }
)


#: The file name of the library a wheel carries inside this package.
BUNDLED_NAME = f"libworker_cuda.so.{API_MAJOR}"


def bundled_library() -> Optional[Path]:
    """The library a wheel installed next to this package's modules, or
    ``None`` (a source checkout, or a wheel built without one)."""
    path = Path(__file__).resolve().with_name(BUNDLED_NAME)
    return path if path.is_file() else None


def _candidates() -> List[str]:
    """Where to look, in order: ``$WORKER_CUDA_LIBRARY`` (an explicit
    choice, so it wins); the copy a wheel carries inside this package; the
    installed library by its SONAME through the dynamic loader (system
    library folders, ``LD_LIBRARY_PATH``); then ``ctypes.util.find_library``."""
    explicit = os.environ.get(LIBRARY_ENV)
    if explicit:
        return [explicit]
    candidates = []
    bundled = bundled_library()
    if bundled is not None:
        candidates.append(str(bundled))
    candidates.append(BUNDLED_NAME)
    found = ctypes.util.find_library("worker_cuda")
    if found:
        candidates.append(found)
    return candidates


def _open() -> ctypes.CDLL:
    failures = []
    for candidate in _candidates():
        try:
            lib = ctypes.CDLL(candidate)
            break
        except OSError as e:
            failures.append(f"{candidate}: {e}")
    else:
        raise LibraryLoadError(
            "libworker_cuda not found; set "
            f"{LIBRARY_ENV} to the path of libworker_cuda.so or install the library "
            "(tried " + "; ".join(failures) + ")"
        )
    for name, (restype, argtypes) in _PROTOTYPES.items():
        try:
            function = getattr(lib, name)
        except AttributeError:
            raise LibraryLoadError(f"{lib._name} does not export {name}") from None
        function.restype = restype
        function.argtypes = argtypes
    version = lib.cuda_api_version()
    major = version >> 16
    if major != API_MAJOR:
        raise LibraryLoadError(
            f"{lib._name} has API version {major}.{(version >> 8) & 0xFF}.{version & 0xFF}; "
            f"this package needs major version {API_MAJOR}"
        )
    return lib


_lib: Optional[ctypes.CDLL] = None
_lib_lock = threading.Lock()


def library() -> ctypes.CDLL:
    """The loaded library, loading it on first use.

    Raises:
        LibraryLoadError: when it cannot be found or loaded, or its major API
            version differs from :data:`API_MAJOR`.
    """
    global _lib
    if _lib is None:
        with _lib_lock:
            if _lib is None:
                _lib = _open()
    return _lib


def last_error(code: int) -> WorkerError:
    """The exception for ``code``, as the failed call just before reported
    it, with the calling thread's detail message."""
    lib = library()
    detail = lib.cuda_last_error_detail().decode("utf-8", errors="replace")
    message = lib.cuda_error_message(code).decode("utf-8", errors="replace")
    return error_for_code(code, detail, message)


def check(code: c_int) -> None:
    """Raises the error a call reported through its ``error_code``."""
    if code.value != 0:
        raise last_error(code.value)
