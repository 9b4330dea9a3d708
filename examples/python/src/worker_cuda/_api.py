"""Context, Model and Generation: the Pythonic layer over the C handles."""

from __future__ import annotations

import ctypes
import enum
import os
import threading
import weakref
from ctypes import byref, c_char_p, c_int
from typing import Any, Callable, Iterable, Iterator, Optional, Tuple, TypeVar, Union

from ._library import (
    CPU_ISA,
    CPU_WEIGHTS,
    DEVICE_CPU,
    LogCallback,
    WorkerInferenceParams,
    check,
    context_params_init,
    last_error,
    library,
)
from .errors import ErrorCode, InvalidParameterError

PathLike = Union[str, "os.PathLike[str]"]
_Self = TypeVar("_Self", bound="_Owned")

# The first buffer a token's text is read into; it doubles when a piece does
# not fit (the library keeps the piece for the retry), up to the maximum.
_PIECE_CAPACITY = 256
_MAX_PIECE_CAPACITY = 1 << 24

_INT32 = (-(2**31), 2**31 - 1)


def device_count() -> int:
    """Number of CUDA devices visible to this process (0 without a GPU)."""
    return int(library().cuda_get_device_count())


def api_version() -> Tuple[int, int, int]:
    """Version of the loaded library as ``(major, minor, patch)``."""
    version = library().cuda_api_version()
    return (version >> 16, (version >> 8) & 0xFF, version & 0xFF)


def _closed(kind: str) -> InvalidParameterError:
    return InvalidParameterError(ErrorCode.INVALID_PARAMETER, f"{kind} is closed", "invalid parameter")


def _int_in(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidParameterError(
            ErrorCode.INVALID_PARAMETER, f"{name} {value} is outside [{low}, {high}]", "invalid parameter"
        )
    return value


def _float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, not {type(value).__name__}")
    return float(value)


def _c_string(name: str, text: Any) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, not {type(text).__name__}")
    encoded = text.encode("utf-8")
    if b"\0" in encoded:
        raise InvalidParameterError(
            ErrorCode.INVALID_PARAMETER,
            f"{name} has a NUL character at offset {text.index(chr(0))}",
            "invalid parameter",
        )
    return encoded


class _Owned:
    """Owns one C handle and frees it exactly once: on :meth:`close`, at the
    end of a ``with`` block, or when the object is garbage-collected."""

    _kind = "object"

    def __init__(self, handle: Any, free: Callable[[Any], None]) -> None:
        self._handle = handle
        self._finalizer = weakref.finalize(self, free, handle)

    def _live(self) -> Any:
        if not self._finalizer.alive:
            raise _closed(self._kind)
        return self._handle

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has freed the handle."""
        return not self._finalizer.alive

    def close(self) -> None:
        """Frees the handle now. Further use raises
        :class:`~worker_cuda.InvalidParameterError`; closing twice is fine."""
        self._finalizer()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class LogLevel(enum.IntEnum):
    """Levels of the library's messages, ``WORKER_LOG_*`` of worker_types.h."""

    NONE = 0
    ERROR = 1
    WARN = 2
    INFO = 3
    DEBUG = 4


#: ``log`` of :class:`Context`: called with each message's level and text.
LogFunction = Callable[[LogLevel, str], None]


def _choice(name: str, value: Any, choices: "dict[str, int]") -> int:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if value not in choices:
        raise InvalidParameterError(
            ErrorCode.INVALID_PARAMETER,
            f"{name} {value!r} is not one of {', '.join(map(repr, choices))}",
            "invalid parameter",
        )
    return choices[value]


def _log_trampoline(log: LogFunction) -> Any:
    """The C callback that hands each message to ``log``. An exception
    raised by ``log`` cannot cross into C: Python reports it as unraisable
    and the library carries on."""

    def deliver(level: int, message: bytes, _user_data: Any) -> None:
        log(LogLevel(level), message.decode("utf-8", errors="replace"))

    return LogCallback(deliver)


class Context(_Owned):
    """A context on one device: a CUDA GPU, or the CPU reference device.

    >>> with Context(DEVICE_CPU) as ctx:          # doctest: +SKIP
    ...     model = ctx.load_model("model.gguf")
    >>> ctx = Context(DEVICE_CPU, cpu_threads=4, cpu_isa="avx2",  # doctest: +SKIP
    ...               log=lambda level, text: print(level.name, text))

    Every setting left at ``None`` takes its default: the environment
    variable named below when it is set, else the built-in value (as
    ``cuda_init_ex`` with ``WORKER_CONTEXT_PARAMS_INIT``). As in C, 0 is the
    default too for ``cpu_threads``, ``cuda_staging_bytes`` and
    ``health_timeout_ms``. The settings are
    fixed for the life of the context.

    Args:
        device: A CUDA device id in ``range(device_count())``, or
            :data:`DEVICE_CPU` (the default).
        cpu_threads: Worker threads of the CPU device, 1..1024
            (``WORKER_CPU_THREADS``, else all cores).
        cpu_isa: Highest instruction-set level of this context's CPU kernels:
            ``"scalar"``, ``"avx2"``, ``"avx512"``, or ``"auto"``
            (``WORKER_CPU_ISA``, else the highest the CPU has). Every level
            gives the same results.
        cuda_graphs: GPU: capture decode steps in CUDA graphs
            (``WORKER_CUDA_GRAPHS``, else True).
        cuda_staging_bytes: GPU: bytes of each upload staging buffer,
            65536..268435456 (``WORKER_CUDA_STAGING_BYTES``, else 1 MiB).
        health_timeout_ms: GPU: how long :meth:`check_device_health` waits,
            1..3600000 (``WORKER_HEALTH_TIMEOUT_MS``, else 10000).
        cpu_weights: CPU device: ``"mapped"`` (read from the file's mapping)
            or ``"private"`` (read into private memory at load)
            (``WORKER_CPU_WEIGHTS``, else mapped).
        log: Called as ``log(level, text)`` for each message instead of
            printing it to stderr, on the thread of the call that produced
            it. Kept alive as long as the context or a model of it.
        log_level: The most detailed :class:`LogLevel` reported
            (``WORKER_LOG``, else INFO with ``log`` and NONE without).

    Raises:
        DeviceNotFoundError: a GPU was asked for and there is none.
        InvalidDeviceError: the id is out of range.
        InvalidParameterError: a setting (or the environment variable that
            supplies its default) is invalid; the detail names it.
        TypeError: a setting of the wrong type.
    """

    _kind = "Context"

    def __init__(
        self,
        device: int = DEVICE_CPU,
        *,
        cpu_threads: Optional[int] = None,
        cpu_isa: Optional[str] = None,
        cuda_graphs: Optional[bool] = None,
        cuda_staging_bytes: Optional[int] = None,
        health_timeout_ms: Optional[int] = None,
        cpu_weights: Optional[str] = None,
        log: Optional[LogFunction] = None,
        log_level: Optional[int] = None,
    ) -> None:
        device = _int_in("device", device, *_INT32)
        params = context_params_init()
        if cpu_threads is not None:
            params.cpu_threads = _int_in("cpu_threads", cpu_threads, *_INT32)
        if cpu_isa is not None:
            params.cpu_isa = _choice("cpu_isa", cpu_isa, CPU_ISA)
        if cuda_graphs is not None:
            if not isinstance(cuda_graphs, bool):
                raise TypeError(f"cuda_graphs must be a bool, not {type(cuda_graphs).__name__}")
            params.cuda_graphs = int(cuda_graphs)
        if cuda_staging_bytes is not None:
            params.cuda_staging_bytes = _int_in("cuda_staging_bytes", cuda_staging_bytes, 0, 2**64 - 1)
        if health_timeout_ms is not None:
            params.health_timeout_ms = _int_in("health_timeout_ms", health_timeout_ms, *_INT32)
        if cpu_weights is not None:
            params.cpu_weights = _choice("cpu_weights", cpu_weights, CPU_WEIGHTS)
        if log_level is not None:
            params.log_level = _int_in("log_level", int(log_level) if isinstance(log_level, LogLevel) else log_level,
                                       *_INT32)
        # The C callback must outlive every use the library makes of it: the
        # context and every model loaded on it (models keep this object alive).
        self._log_callback: Any = None
        if log is not None:
            if not callable(log):
                raise TypeError(f"log must be callable, not {type(log).__name__}")
            self._log_callback = _log_trampoline(log)
            params.log_callback = self._log_callback
        lib = library()
        err = c_int(-1)
        handle = lib.cuda_init_ex(device, byref(params), byref(err))
        check(err)
        super().__init__(handle, lib.cuda_destroy)
        self.device = device

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<worker_cuda.Context device={self.device} {state}>"

    def load_model(self, path: PathLike) -> "Model":
        """Loads a GGUF model onto this context's device.

        Raises:
            ModelLoadError: the file is missing, malformed or unsupported.
            OutOfMemoryError: the model does not fit.
            InvalidParameterError: the context is closed.
        """
        encoded = os.fsencode(path)
        if b"\0" in encoded:
            raise InvalidParameterError(
                ErrorCode.INVALID_PARAMETER, "model path has a NUL character", "invalid parameter"
            )
        lib = library()
        err = c_int(-1)
        handle = lib.cuda_load_model(self._live(), encoded, None, byref(err))
        check(err)
        return Model(self, handle, os.fsdecode(encoded))

    @property
    def process_vram_usage(self) -> int:
        """Device memory this process holds on the device through the
        library (every model and inference on it), in bytes; the resident
        set size on the CPU device."""
        return int(library().cuda_get_process_vram_usage(self._live()))

    def check_device_health(self) -> bool:
        """Whether the device still works (always true on the CPU).

        Raises:
            KernelLaunchError, UnknownError: the device is in an error state.
        """
        err = c_int(-1)
        healthy = library().cuda_check_device_health(self._live(), byref(err))
        check(err)
        return bool(healthy)


class Model(_Owned):
    """A model loaded on a :class:`Context`'s device; made by
    :meth:`Context.load_model`."""

    _kind = "Model"

    def __init__(self, context: Context, handle: Any, path: str) -> None:
        super().__init__(handle, library().cuda_unload_model)
        self.context = context
        self.path = path

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<worker_cuda.Model {self.path!r} {state}>"

    @property
    def vram_bytes(self) -> int:
        """Bytes the weights hold on the device (on the CPU device, the bytes
        of weight data used from the mapped file)."""
        return int(library().cuda_model_get_vram_usage(self._live()))

    @property
    def vram_usage(self) -> int:
        """Bytes the model and its live generations hold on the device
        (weights, KV caches, scratch)."""
        return int(library().cuda_get_vram_usage(self._live()))

    def check_vram_residency(self) -> bool:
        """Whether every weight is resident in device memory (on the CPU
        device: mapped and readable).

        Raises:
            VramResidencyError: an allocation is not plain device memory.
        """
        err = c_int(-1)
        resident = library().cuda_check_vram_residency(self._live(), byref(err))
        check(err)
        return bool(resident)

    def generate(
        self,
        prompt: str,
        *,
        max_tokens: int = 128,
        temperature: float = 0.8,
        seed: int = 0,
        top_k: int = 40,
        top_p: float = 0.95,
        min_p: float = 0.05,
        repetition_penalty: float = 1.0,
        stop: Union[str, Iterable[str], None] = None,
        parse_special: bool = True,
    ) -> "Generation":
        """Starts generating from ``prompt`` and returns an iterator over the
        text of each generated token.

        The prompt is evaluated before this returns, so argument errors are
        raised here. Sampling runs as: repetition penalty, temperature
        (0 is greedy), top-k (0 = off), top-p (1 = off), min-p (0 = off),
        then a draw seeded by ``seed``. Generation ends at the end-of-sequence
        token, after ``max_tokens`` tokens, or at one of the ``stop`` strings
        (a single string or several), which is not returned. With
        ``parse_special`` (the default) special-token text in the prompt such
        as ``<|im_start|>`` becomes those tokens; ``False`` passes the prompt
        as plain text (for untrusted user text).

        Raises:
            InvalidParameterError: a value out of range, a NUL character, a
                prompt too long for the model's context, or a closed model.
            OutOfMemoryError: the KV cache does not fit.
            InferenceError: the prompt could not be evaluated.
        """
        encoded_prompt = _c_string("prompt", prompt)
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        encoded_stops = [_c_string("stop string", s) for s in stops]
        stop_array = (c_char_p * len(encoded_stops))(*encoded_stops)
        params = WorkerInferenceParams(
            struct_size=ctypes.sizeof(WorkerInferenceParams),
            max_tokens=_int_in("max_tokens", max_tokens, *_INT32),
            temperature=_float("temperature", temperature),
            seed=_int_in("seed", seed, 0, 2**64 - 1),
            top_k=_int_in("top_k", top_k, *_INT32),
            top_p=_float("top_p", top_p),
            min_p=_float("min_p", min_p),
            repetition_penalty=_float("repetition_penalty", repetition_penalty),
            stop=stop_array if encoded_stops else None,
            n_stop=len(encoded_stops),
            parse_special=1 if parse_special else 0,
        )
        lib = library()
        err = c_int(-1)
        handle = lib.cuda_inference_start_ex(self._live(), encoded_prompt, byref(params), byref(err))
        check(err)
        return Generation(self, handle)


class Generation(_Owned, Iterator[str]):
    """One running generation; iterate over it for the text of each token.

    Each piece is whole UTF-8 characters (a character split across tokens
    comes with the token that completes it, so a piece may be empty). The
    handle is freed when generation completes, on :meth:`close` or at the
    end of a ``with`` block. One generation may be used from any thread;
    concurrent calls on it are serialised.

    Attributes:
        model: The :class:`Model` it runs on.
        tokens: Tokens generated so far (a piece may cover several tokens).
    """

    _kind = "Generation"

    def __init__(self, model: Model, handle: Any) -> None:
        super().__init__(handle, library().cuda_inference_free)
        self.model = model
        self.tokens = 0
        self._lock = threading.RLock()
        self._done = False
        self._buffer = ctypes.create_string_buffer(_PIECE_CAPACITY)

    def __repr__(self) -> str:
        state = "done" if self._done else "closed" if self.closed else "running"
        return f"<worker_cuda.Generation tokens={self.tokens} {state}>"

    def __iter__(self) -> "Generation":
        return self

    def __next__(self) -> str:
        with self._lock:
            if self._done:
                raise StopIteration
            handle = self._live()
            lib = library()
            index = c_int(-1)
            err = c_int(-1)
            while True:
                produced = lib.cuda_inference_next_token(
                    handle, self._buffer, len(self._buffer), byref(index), byref(err)
                )
                if produced:
                    self.tokens = index.value + 1
                    return self._buffer.value.decode("utf-8")
                if err.value == ErrorCode.INVALID_PARAMETER and len(self._buffer) < _MAX_PIECE_CAPACITY:
                    # Only the buffer size can be wrong here; the piece waits.
                    self._buffer = ctypes.create_string_buffer(2 * len(self._buffer))
                    continue
                break
            error = last_error(err.value) if err.value != 0 else None
            self._done = True
            self.close()  # nothing more will come: release the KV cache now
            if error is not None:
                raise error
            raise StopIteration

    def close(self) -> None:
        """Frees the generation now (waiting for a call in another thread to
        finish). Further iteration raises
        :class:`~worker_cuda.InvalidParameterError` unless it had completed."""
        with self._lock:
            super().close()

    def text(self) -> str:
        """The rest of the generation, joined."""
        return "".join(self)

