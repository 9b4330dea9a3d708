"""The value types of the ABI 0.3 calls: why a generation ended, what it used,
log-probabilities, and what a model is."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from ._library import WorkerInferenceInfo, WorkerModelInfo
from .errors import ErrorCode, _as_code


class FinishReason(str, enum.Enum):
    """Why a generation ended (the C ABI's ``WorkerFinishReason``).

    A ``str`` enum: ``info.finish_reason == "stop"`` works, and
    ``FinishReason.MAX_TOKENS.value`` is ``"max_tokens"``.
    """

    #: Still generating, or text is still to be read.
    NONE = "none"
    #: The model generated an end-of-generation token.
    EOS = "eos"
    #: ``max_tokens`` tokens were generated.
    MAX_TOKENS = "max_tokens"
    #: A stop string was generated (it is not returned).
    STOP = "stop"
    #: :meth:`Generation.cancel` (or :meth:`Generation.close`) ended it.
    CANCELLED = "cancelled"
    #: A step failed; :attr:`InferenceInfo.error_code` says how.
    ERROR = "error"

    @property
    def code(self) -> int:
        """The C value (``WORKER_FINISH_*``)."""
        return _CODES[self]

    @classmethod
    def from_code(cls, code: int) -> "FinishReason":
        """The reason for a C value; values this package does not know are
        :attr:`ERROR`."""
        return _BY_CODE.get(code, cls.ERROR)


_CODES: Dict[FinishReason, int] = {
    FinishReason.NONE: 0,
    FinishReason.EOS: 1,
    FinishReason.MAX_TOKENS: 2,
    FinishReason.STOP: 3,
    FinishReason.CANCELLED: 4,
    FinishReason.ERROR: 5,
}
_BY_CODE: Dict[int, FinishReason] = {code: reason for reason, code in _CODES.items()}


@dataclass(frozen=True)
class InferenceInfo:
    """What a generation used and why it ended (``cuda_inference_get_info``).

    Attributes:
        prompt_tokens: Tokens of the prompt as tokenized (BOS included).
        generated_tokens: Tokens generated so far, an end-of-generation token
            included.
        finish_reason: Why it ended; :attr:`FinishReason.NONE` while text is
            still to be read.
        last_token_id: The last generated token's id; ``None`` before the first.
        error_code: With :attr:`FinishReason.ERROR`, the failed step's code;
            else ``None``.
    """

    prompt_tokens: int
    generated_tokens: int
    finish_reason: FinishReason
    last_token_id: Optional[int]
    error_code: Optional[ErrorCode] = None

    @classmethod
    def _from_c(cls, raw: WorkerInferenceInfo) -> "InferenceInfo":
        return cls(
            prompt_tokens=int(raw.prompt_tokens),
            generated_tokens=int(raw.generated_tokens),
            finish_reason=FinishReason.from_code(int(raw.finish_reason)),
            last_token_id=None if raw.last_token_id < 0 else int(raw.last_token_id),
            error_code=_as_code(int(raw.error_code)) if raw.error_code else None,
        )


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token's log-probability (natural log) under the model's
    own distribution at its step (before repetition penalty, temperature and
    truncation), and the most likely tokens of that step.

    Attributes:
        index: The generated token's 0-based index.
        token_id: The token chosen.
        logprob: ``log p(token_id)``.
        top: ``(token_id, logprob)`` of the ``top_logprobs`` most likely
            tokens, most likely first (ties to the lower id).
    """

    index: int
    token_id: int
    logprob: float
    top: Tuple[Tuple[int, float], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ModelInfo:
    """What a loaded model is (``cuda_model_get_info``).

    Attributes:
        architecture: ``general.architecture``, e.g. ``"llama"``.
        name: ``general.name``, or ``""``.
        chat_template: The file's Jinja chat template
            (``tokenizer.chat_template``), or ``None``.
        weight_types: Tensor count per weight type, most first, e.g.
            ``{"Q4_1": 120, "F32": 61}``.
        context_length: Positions the model was trained for.
        vocab_size: Tokens in the vocabulary.
        bos_token_id: Beginning of sequence, or ``None``.
        eos_token_id: End of sequence, or ``None``.
        eog_token_ids: Every token that ends generation.
        n_layers, n_embd, n_heads, n_kv_heads: The transformer's shape.
        n_params: Elements of all weight tensors.
        weight_bytes: Bytes of weights held on the model's device.
    """

    architecture: str
    name: str
    chat_template: Optional[str]
    weight_types: Dict[str, int]
    context_length: int
    vocab_size: int
    bos_token_id: Optional[int]
    eos_token_id: Optional[int]
    eog_token_ids: Tuple[int, ...]
    n_layers: int
    n_embd: int
    n_heads: int
    n_kv_heads: int
    n_params: int
    weight_bytes: int

    @classmethod
    def _from_c(cls, raw: WorkerModelInfo) -> "ModelInfo":
        def text(value: Optional[bytes]) -> str:
            return (value or b"").decode("utf-8", errors="replace")

        weight_types: Dict[str, int] = {}
        for entry in text(raw.weight_types).split(","):
            if entry:
                kind, _, count = entry.rpartition(":")
                weight_types[kind] = int(count)
        return cls(
            architecture=text(raw.architecture),
            name=text(raw.name),
            chat_template=None if raw.chat_template is None else text(raw.chat_template),
            weight_types=weight_types,
            context_length=int(raw.context_length),
            vocab_size=int(raw.vocab_size),
            bos_token_id=None if raw.bos_token_id < 0 else int(raw.bos_token_id),
            eos_token_id=None if raw.eos_token_id < 0 else int(raw.eos_token_id),
            eog_token_ids=tuple(int(raw.eog_token_ids[i]) for i in range(raw.n_eog_token_ids)),
            n_layers=int(raw.n_layers),
            n_embd=int(raw.n_embd),
            n_heads=int(raw.n_heads),
            n_kv_heads=int(raw.n_kv_heads),
            n_params=int(raw.n_params),
            weight_bytes=int(raw.weight_bytes),
        )
