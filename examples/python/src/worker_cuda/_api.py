"""Context, Model and Generation: the Pythonic layer over the C handles."""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import enum
import json
import os
import threading
import weakref
from ctypes import byref, c_char_p, c_int, c_int32
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

from ._info import FinishReason, InferenceInfo, ModelInfo, TokenLogprob
from ._library import (
    CPU_ISA,
    CPU_WEIGHTS,
    DEVICE_CPU,
    LoadProgress,
    LogCallback,
    WorkerChatMessage,
    WorkerChatParams,
    WorkerInferenceInfo,
    WorkerInferenceParams,
    WorkerLoadParams,
    WorkerModelInfo,
    WorkerTokenLogprob,
    check,
    context_params_init,
    last_error,
    library,
)
from .errors import ErrorCode, InvalidParameterError, WorkerError

PathLike = Union[str, "os.PathLike[str]"]
_Self = TypeVar("_Self", bound="_Owned")

# The first buffer a token's text is read into; when a piece does not fit,
# the library keeps it and says the size it needs
# (cuda_inference_next_token_size), and the buffer grows to that.
_PIECE_CAPACITY = 256
# The first buffer of text the 0.3 calls fill (detokenize, chat templates);
# they return the size needed when it is too small.
_TEXT_CAPACITY = 1024

#: A chat message: a mapping with a ``"role"`` and a ``"content"`` (a str, or
#: None for a message without content), as in Hugging Face transformers.
Message = Mapping[str, Any]

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

    def load_model(self, path: PathLike, progress: Optional[Callable[[float], bool]] = None) -> "Model":
        """Loads a GGUF model onto this context's device.

        Args:
            path: the GGUF file.
            progress: called on this thread with the fraction of the weights
                loaded so far (the last call 1.0); returning False cancels the
                load (ModelLoadError). An exception it raises cancels it too
                and is raised again here.

        Raises:
            ModelLoadError: the file is missing, malformed or unsupported, or
                the load was cancelled.
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
        if progress is None:
            handle = lib.cuda_load_model(self._live(), encoded, None, byref(err))
            check(err)
            return Model(self, handle, os.fsdecode(encoded))
        raised: List[BaseException] = []

        def report(fraction: float, _user: Any) -> bool:
            try:
                return bool(progress(float(fraction)))
            except BaseException as e:  # noqa: BLE001 - re-raised after the C call returns
                raised.append(e)
                return False

        params = WorkerLoadParams(ctypes.sizeof(WorkerLoadParams), LoadProgress(report), None)
        handle = lib.cuda_load_model_ex(self._live(), encoded, byref(params), None, byref(err))
        if raised:
            if handle:
                lib.cuda_unload_model(handle)
            raise raised[0]
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
        logprobs: bool = False,
        top_logprobs: int = 0,
    ) -> "Generation":
        """Starts generating from ``prompt`` and returns an iterator over the
        text of each generated token (``for`` or ``async for``).

        Arguments are checked and the prompt tokenized before this returns,
        so argument errors are raised here; the prompt is evaluated by the
        first step of the iteration, which :meth:`Generation.cancel` can
        interrupt. Sampling runs as: repetition penalty, temperature
        (0 is greedy), top-k (0 = off), top-p (1 = off), min-p (0 = off),
        then a draw seeded by ``seed``. Generation ends at the end-of-sequence
        token, after ``max_tokens`` tokens, or at one of the ``stop`` strings
        (a single string or several), which is not returned. With
        ``parse_special`` (the default) special-token text in the prompt such
        as ``<|im_start|>`` becomes those tokens; ``False`` passes the prompt
        as plain text (for untrusted user text). With ``logprobs`` the
        generation records each token's log-probability, and with
        ``top_logprobs`` (0 to 20, implies ``logprobs``) that many most likely
        alternatives per step: see :attr:`Generation.logprobs`.

        Raises:
            InvalidParameterError: a value out of range, a NUL character, a
                prompt too long for the model's context, or a closed model.
            OutOfMemoryError: the KV cache does not fit.
        """
        top_logprobs = _int_in("top_logprobs", top_logprobs, *_INT32)
        logprobs = bool(logprobs) or top_logprobs > 0
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
            logprobs=1 if logprobs else 0,
            top_logprobs=top_logprobs,
        )
        lib = library()
        err = c_int(-1)
        handle = lib.cuda_inference_start_ex(self._live(), encoded_prompt, byref(params), byref(err))
        check(err)
        return Generation(self, handle, top_logprobs if logprobs else None)

    # ---- 0.3: tokens, model facts, chat templates -----------------------------

    def tokenize(self, text: str, *, add_special: bool = True, parse_special: bool = True) -> List[int]:
        """The token ids of ``text``, as :meth:`generate` would tokenize it
        with the same ``parse_special``.

        Args:
            add_special: Add the BOS (and EOS) tokens the model's metadata
                asks for.
            parse_special: Special-token text such as ``<|im_start|>``
                becomes those tokens; ``False`` tokenizes it as plain text.

        Raises:
            InvalidParameterError: a NUL character, or a closed model.
        """
        encoded = _c_string("text", text)
        lib = library()
        capacity = len(encoded) + 4
        while True:
            ids = (c_int32 * capacity)()
            err = c_int(-1)
            n = lib.cuda_tokenize(self._live(), encoded, bool(add_special), bool(parse_special), ids, capacity,
                                  byref(err))
            if n > capacity:  # the buffer was too small; the call counted the tokens
                capacity = n
                continue
            check(err)
            return list(ids[:n])

    def detokenize(self, tokens: Iterable[int], *, render_special: bool = False) -> str:
        """The text of token ids (whole characters: an incomplete or invalid
        UTF-8 sequence becomes U+FFFD).

        Args:
            render_special: Control tokens (BOS, ``<|im_end|>``) give their
                text; ``False`` (the default) drops them, as generated text does.

        Raises:
            InvalidParameterError: an id outside the vocabulary, or a closed model.
        """
        ids = [_int_in("token id", token, *_INT32) for token in tokens]
        array = (c_int32 * len(ids))(*ids)
        lib = library()
        handle = self._live()
        return _sized_text(
            lambda out, capacity, err: lib.cuda_detokenize(handle, array, len(ids), bool(render_special), out,
                                                           capacity, err)
        )

    @property
    def info(self) -> ModelInfo:
        """What the model is: architecture, name, context length, vocabulary,
        special tokens, chat template, weight types and sizes (read once)."""
        cached: Optional[ModelInfo] = self.__dict__.get("_info")
        if cached is None:
            raw = WorkerModelInfo(struct_size=ctypes.sizeof(WorkerModelInfo))
            err = c_int(-1)
            library().cuda_model_get_info(self._live(), byref(raw), byref(err))
            check(err)
            cached = ModelInfo._from_c(raw)
            self.__dict__["_info"] = cached
        return cached

    def apply_chat_template(
        self,
        messages: Sequence[Message],
        add_generation_prompt: bool = True,
        *,
        template: Optional[str] = None,
        tools: Optional[Sequence[Mapping[str, Any]]] = None,
        **variables: Any,
    ) -> str:
        """Renders a conversation with the model's own chat template (the
        file's ``tokenizer.chat_template``) into a prompt for
        :meth:`generate` -- byte for byte what Hugging Face transformers'
        ``apply_chat_template(..., tokenize=False)`` gives.

        >>> model.apply_chat_template([{"role": "user", "content": "Hi"}])  # doctest: +SKIP
        '<|im_start|>system\n...<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n'

        Args:
            messages: Mappings with ``"role"`` and ``"content"`` (a str; None
                or no ``"content"`` gives a message without that key).
            add_generation_prompt: End with the opening of the assistant's turn.
            template: A Jinja template to use instead of the model's.
            tools: Tool schemas (JSON-serialisable) for templates that show them.
            variables: More template variables (JSON-serialisable), e.g.
                ``enable_thinking=False``.

        Raises:
            InvalidParameterError: a message without a role, a model without
                a template (and no ``template``), or a template that fails
                (the detail names the line and the cause).
            TypeError: a message that is not a mapping of strings.
        """
        entries = list(messages)
        array = (WorkerChatMessage * len(entries))()
        for i, message in enumerate(entries):
            if not isinstance(message, Mapping):
                raise TypeError(f"messages[{i}] must be a mapping, not {type(message).__name__}")
            content = message.get("content")
            array[i].role = _c_string(f"messages[{i}]['role']", message.get("role"))
            array[i].content = None if content is None else _c_string(f"messages[{i}]['content']", content)
        params = WorkerChatParams(
            struct_size=ctypes.sizeof(WorkerChatParams),
            add_generation_prompt=1 if add_generation_prompt else 0,
            template_text=None if template is None else _c_string("template", template),
            tools_json=None if tools is None else _c_string("tools", _to_json(list(tools))),
            extra_json=_c_string("variables", _to_json(variables)) if variables else None,
        )
        lib = library()
        handle = self._live()
        return _sized_text(
            lambda out, capacity, err: lib.cuda_chat_apply_template(handle, array, len(entries), byref(params), out,
                                                                    capacity, err)
        )

    def chat(
        self,
        messages: Sequence[Message],
        *,
        tools: Optional[Sequence[Mapping[str, Any]]] = None,
        template_variables: Optional[Mapping[str, Any]] = None,
        **generate_options: Any,
    ) -> "Generation":
        """Starts the assistant's reply to a conversation: renders it with
        the model's chat template (:meth:`apply_chat_template`, generation
        prompt added) and generates from that (:meth:`generate`, with
        ``generate_options`` such as ``max_tokens`` or ``temperature``).

        The rendered prompt's special-token text is parsed, as the template
        needs; special-token text inside message contents is parsed too, so
        filter untrusted text for it.

        >>> for piece in model.chat([{"role": "user", "content": "Hi!"}], max_tokens=32):  # doctest: +SKIP
        ...     print(piece, end="")
        """
        prompt = self.apply_chat_template(messages, True, tools=tools, **dict(template_variables or {}))
        return self.generate(prompt, parse_special=True, **generate_options)


def _to_json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"not JSON-serialisable: {e}") from None


def _sized_text(call: Callable[[Any, int, Any], int]) -> str:
    """Runs a call that fills a text buffer and returns the size it needs
    (text plus NUL), growing the buffer to that size when it was too small."""
    capacity = _TEXT_CAPACITY
    while True:
        out = ctypes.create_string_buffer(capacity)
        err = c_int(-1)
        needed = call(out, capacity, byref(err))
        if needed > capacity:
            capacity = needed
            continue
        check(err)
        return out.raw[: needed - 1].decode("utf-8")




class Generation(_Owned, Iterator[str], AsyncIterator[str]):
    """One running generation; iterate over it (``for`` or ``async for``) for
    the text of each token.

    Each piece is whole UTF-8 characters (a character split across tokens
    comes with the token that completes it, so a piece may be empty). The
    handle is freed when generation completes, on :meth:`close`, at the end
    of a ``with`` block, or when the object is garbage-collected.

    Threads: one thread at a time consumes it (concurrent calls are
    serialised), and it may move between threads. :meth:`cancel` and
    :meth:`close` may be called from any thread at any time: the consumer's
    iteration then ends cleanly (``StopIteration``) within one step, even
    during the prompt's evaluation, and :attr:`info` says
    :attr:`FinishReason.CANCELLED`.

    Attributes:
        model: The :class:`Model` it runs on.
        tokens: Tokens generated up to the last piece returned (a piece may
            cover several tokens).
    """

    _kind = "Generation"

    def __init__(self, model: Model, handle: Any, top_logprobs: Optional[int] = None) -> None:
        super().__init__(handle, library().cuda_inference_free)
        self.model = model
        self.tokens = 0
        # Held around every call that uses the handle, except cancel.
        self._call = threading.Lock()
        # Guards the handle's life (free, and cancel against free) and _closing.
        self._state = threading.Lock()
        self._closing = False
        self._done = False
        self._info: Optional[InferenceInfo] = None
        self._top_logprobs = top_logprobs
        self._logprobs: Optional[List[TokenLogprob]] = None if top_logprobs is None else []
        self._buffer = ctypes.create_string_buffer(_PIECE_CAPACITY)

    def __repr__(self) -> str:
        state = "done" if self._done else "closed" if self.closed else "running"
        return f"<worker_cuda.Generation tokens={self.tokens} {state}>"

    # ---- iteration ---------------------------------------------------------

    def __iter__(self) -> "Generation":
        return self

    def __next__(self) -> str:
        self._call.acquire()
        try:
            piece = self._step()
        finally:
            self._end_call()
        if piece is None:
            raise StopIteration
        return piece

    def __aiter__(self) -> "Generation":
        return self

    async def __anext__(self) -> str:
        """The next piece, computed in the event loop's default executor so
        that the loop keeps running. Cancelling the awaiting task cancels
        the generation."""
        loop = asyncio.get_running_loop()
        try:
            piece = await loop.run_in_executor(None, self._next_or_none)
        except asyncio.CancelledError:
            self.close()
            raise
        if piece is None:
            raise StopAsyncIteration
        return piece

    def _next_or_none(self) -> Optional[str]:
        return next(self, None)

    def text(self) -> str:
        """The rest of the generation, joined."""
        return "".join(self)

    async def atext(self) -> str:
        """The rest of the generation, joined, without blocking the event loop."""
        return "".join([piece async for piece in self])

    # ---- ending it ------------------------------------------------------------

    def cancel(self) -> None:
        """Stops generating, from any thread, without freeing: the consumer
        gets the pieces already made, then the iteration ends; :attr:`info`
        says :attr:`FinishReason.CANCELLED`. Takes effect within one step or
        one chunk of the prompt; never waits. Cancelling a generation that
        ended changes nothing."""
        with self._state:
            if not self.closed:
                library().cuda_inference_cancel(self._handle, None)

    def close(self) -> None:
        """Ends the generation and frees it, from any thread.

        It is cancelled first; when another thread is in the middle of a
        step, that thread frees it as soon as the step returns and its
        iteration ends cleanly. Later iteration ends at once
        (``StopIteration``); :attr:`info` keeps its last value. Closing twice
        is fine."""
        with self._state:
            if self.closed:
                return
            self._closing = True
            library().cuda_inference_cancel(self._handle, None)
            if self._call.acquire(blocking=False):
                try:
                    self._free()
                finally:
                    self._call.release()

    # ---- what it used ---------------------------------------------------------

    @property
    def info(self) -> InferenceInfo:
        """Tokens used so far and why generation ended
        (:attr:`InferenceInfo.finish_reason` is ``NONE`` until the last piece
        has been read). Waits for a step running in another thread. After the
        generation was freed, the last value read.

        Raises:
            InvalidParameterError: freed before anything was generated.
        """
        with self._call:
            if not self.closed:
                self._info = self._read_info()
            if self._info is None:
                raise _closed(self._kind)
            return self._info

    @property
    def logprobs(self) -> Optional[List[TokenLogprob]]:
        """The log-probability of each token generated so far, an
        end-of-generation token included (with its ``top_logprobs`` most likely
        alternatives), when :meth:`Model.generate` asked for ``logprobs``; else
        ``None``. Complete once the iteration has ended."""
        with self._call:
            return None if self._logprobs is None else list(self._logprobs)

    # ---- with self._call held -------------------------------------------------

    def _step(self) -> Optional[str]:
        """One piece, or None at the end (generation complete, cancelled, or
        closed)."""
        if self._done or self.closed or self._closing:
            return None
        lib = library()
        handle = self._handle
        index = c_int(-1)
        err = c_int(-1)
        while True:
            produced = lib.cuda_inference_next_token(handle, self._buffer, len(self._buffer), byref(index), byref(err))
            if produced:
                self.tokens = index.value + 1
                self._collect_logprobs(index.value + 1)
                return self._buffer.value.decode("utf-8")
            if err.value == ErrorCode.INVALID_PARAMETER:
                # The buffer was too small (the piece waits), unless the
                # size call says otherwise.
                error = last_error(err.value)
                needed = lib.cuda_inference_next_token_size(handle, byref(err))
                if needed > len(self._buffer):
                    self._buffer = ctypes.create_string_buffer(needed)
                    continue
                self._done = True
                raise error
            break
        if err.value != 0:
            error = last_error(err.value)
            self._done = True
            try:
                self._info = self._read_info()
            except WorkerError:
                pass  # the step's error is the one to report
            raise error
        self._done = True
        self._info = self._read_info()
        self._collect_logprobs(self._info.generated_tokens)
        return None

    def _read_info(self) -> InferenceInfo:
        raw = WorkerInferenceInfo(struct_size=ctypes.sizeof(WorkerInferenceInfo))
        err = c_int(-1)
        library().cuda_inference_get_info(self._handle, byref(raw), byref(err))
        check(err)
        return InferenceInfo._from_c(raw)

    def _collect_logprobs(self, count: int) -> None:
        """Reads the log-probabilities of the tokens before ``count`` not yet read."""
        if self._logprobs is None or self._top_logprobs is None:
            return
        lib = library()
        top = (WorkerTokenLogprob * max(self._top_logprobs, 1))()
        while len(self._logprobs) < count:
            index = len(self._logprobs)
            chosen = WorkerTokenLogprob()
            err = c_int(-1)
            n = lib.cuda_inference_get_logprobs(self._handle, index, byref(chosen), top, self._top_logprobs,
                                                byref(err))
            check(err)
            alternatives = tuple((int(top[i].token_id), float(top[i].logprob)) for i in range(min(n, self._top_logprobs)))
            self._logprobs.append(TokenLogprob(index, int(chosen.token_id), float(chosen.logprob), alternatives))

    def _free(self) -> None:
        """Frees the handle, keeping its last info (_call and _state held)."""
        if self.closed:
            return
        try:
            self._info = self._read_info()
        except InvalidParameterError:
            pass
        if self._info is not None and self._closing and self._info.finish_reason is FinishReason.NONE:
            # Closed before the library saw the cancel: ended by cancellation all the same.
            self._info = dataclasses.replace(self._info, finish_reason=FinishReason.CANCELLED)
        self._finalizer()

    def _end_call(self) -> None:
        """Releases _call; frees first when the generation is done or was
        closed meanwhile. Checking and releasing under _state means a
        close() either sees the call running (and leaves the free to it) or
        runs after it."""
        with self._state:
            try:
                if self._done or self._closing:
                    self._free()
            finally:
                self._call.release()
