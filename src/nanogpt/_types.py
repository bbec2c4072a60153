"""Typed response objects, decoded straight from JSON bytes by msgspec.

NanoGPT adds fields often, so nothing is lost: every top-level object keeps the bytes it was
decoded from, ``obj.raw`` returns them as a dict, and reading an attribute the class does not
declare falls back to that dict (``completion.some_new_field``). ``usage`` and
``x_nanogpt_pricing`` are kept whole as dicts and read through small wrappers, since they carry
many provider-specific extras.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

__all__ = [
    "Balance",
    "ChatCompletion",
    "ChatCompletionChunk",
    "Choice",
    "ChunkChoice",
    "Delta",
    "FunctionCall",
    "Message",
    "Model",
    "ModelCapabilities",
    "ModelPricing",
    "Pricing",
    "ToolCall",
    "Usage",
]


# what decoding untrusted JSON may raise: bad syntax or shape, invalid UTF-8, deep nesting
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError,
                 RecursionError)


def _to_decimal(v: Any) -> Decimal | None:
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, float):
        return Decimal(repr(v))
    try:
        return Decimal(str(v))
    except ArithmeticError:
        return None


class _Extras:
    """A read-only view of a JSON object: declared properties, and the rest by attribute."""

    __slots__ = ("_d",)

    def __init__(self, d: dict[str, Any]) -> None:
        self._d = d

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._d[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}") from None

    def __getitem__(self, key: str) -> Any:
        return self._d[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._d.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return dict(self._d)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Extras):
            return self._d == other._d
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._d!r})"


class Usage(_Extras):
    """Token counts. Extra provider fields (cached tokens, search queries, ...) by attribute."""

    __slots__ = ()

    @property
    def prompt_tokens(self) -> int:
        return int(self._d.get("prompt_tokens") or 0)

    @property
    def completion_tokens(self) -> int:
        return int(self._d.get("completion_tokens") or 0)

    @property
    def total_tokens(self) -> int:
        t = self._d.get("total_tokens")
        return int(t) if t is not None else self.prompt_tokens + self.completion_tokens

    @property
    def reasoning_tokens(self) -> int | None:
        v = self._d.get("reasoning_tokens")
        if v is None:
            details = self._d.get("completion_tokens_details")
            if isinstance(details, dict):
                v = details.get("reasoning_tokens")
        return int(v) if v is not None else None

    @property
    def cached_tokens(self) -> int | None:
        v = self._d.get("cached_tokens")
        if v is None:
            details = self._d.get("prompt_tokens_details")
            if isinstance(details, dict):
                v = details.get("cached_tokens")
        if v is None:
            v = self._d.get("cache_read_input_tokens")
        return int(v) if v is not None else None


class Pricing(_Extras):
    """NanoGPT's ``x_nanogpt_pricing``: what this request was really charged."""

    __slots__ = ()

    @property
    def amount(self) -> Decimal | None:
        return _to_decimal(self._d.get("amount"))

    @property
    def currency(self) -> str | None:
        return self._d.get("currency")

    @property
    def cost(self) -> Decimal | None:
        """The charge in USD: ``costUsd``, else ``cost``, else ``amount`` when in USD."""
        for key in ("costUsd", "cost"):
            if self._d.get(key) is not None:
                return _to_decimal(self._d[key])
        if self._d.get("currency") in (None, "USD"):
            return self.amount
        return None

    @property
    def input_tokens(self) -> int | None:
        return self._d.get("inputTokens")

    @property
    def output_tokens(self) -> int | None:
        return self._d.get("outputTokens")

    @property
    def payment_source(self) -> str | None:
        return self._d.get("paymentSource")


class _Top(msgspec.Struct, dict=True):
    """A top-level response object that keeps its source for fields we do not declare."""

    @property
    def raw(self) -> dict[str, Any]:
        """The whole JSON object as received, unknown fields included."""
        d = self.__dict__
        cached = d.get("_raw_dict")
        if cached is None:
            src = d.get("_raw_json")
            cached = msgspec.json.decode(src) if src is not None else msgspec.to_builtins(self)
            d["_raw_dict"] = cached
        return cached  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raw = self.raw
        if name in raw:
            return raw[name]
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)


class FunctionCall(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class ToolCall(msgspec.Struct):
    id: str | None = None
    type: str | None = None
    function: FunctionCall | None = None
    index: int | None = None


class Message(msgspec.Struct):
    role: str = "assistant"
    content: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None
    annotations: list[Any] | None = None
    images: list[Any] | None = None

    def __post_init__(self) -> None:
        if self.reasoning is None and self.reasoning_content is not None:
            self.reasoning = self.reasoning_content


class Choice(msgspec.Struct):
    index: int = 0
    message: Message = msgspec.field(default_factory=Message)
    finish_reason: str | None = None
    logprobs: Any = None


class _Reply(_Top):
    """What completions and chunks share: ids, usage, and NanoGPT's pricing."""

    id: str = ""
    created: int | float = 0
    model: str = ""
    system_fingerprint: str | None = None
    error: Any = None
    _usage: dict[str, Any] | None = msgspec.field(default=None, name="usage")
    _pricing: dict[str, Any] | None = msgspec.field(default=None, name="x_nanogpt_pricing")

    @property
    def usage(self) -> Usage | None:
        return Usage(self._usage) if self._usage is not None else None

    @property
    def pricing(self) -> Pricing | None:
        return Pricing(self._pricing) if self._pricing is not None else None

    @property
    def cost(self) -> Decimal | None:
        """What NanoGPT charged for this call, in USD, when it said."""
        return Pricing(self._pricing).cost if self._pricing is not None else None


class ChatCompletion(_Reply):
    """A whole (non-streamed) chat completion."""

    object: str = "chat.completion"
    choices: list[Choice] = msgspec.field(default_factory=list)

    @property
    def text(self) -> str:
        """The first choice's content, or ``""``."""
        return (self.choices[0].message.content or "") if self.choices else ""

    @property
    def finish_reason(self) -> str | None:
        return self.choices[0].finish_reason if self.choices else None


class Delta(msgspec.Struct):
    role: str | None = None
    content: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None

    def __post_init__(self) -> None:
        if self.reasoning is None and self.reasoning_content is not None:
            self.reasoning = self.reasoning_content


class ChunkChoice(msgspec.Struct):
    index: int = 0
    delta: Delta = msgspec.field(default_factory=Delta)
    finish_reason: str | None = None
    logprobs: Any = None


class ChatCompletionChunk(_Reply):
    """One streamed chunk. The final one may have empty ``choices`` and carry ``usage``."""

    object: str = "chat.completion.chunk"
    choices: list[ChunkChoice] = msgspec.field(default_factory=list)


class ModelCapabilities(msgspec.Struct):
    vision: bool = False
    reasoning: bool = False
    tool_calling: bool = False
    parallel_tool_calls: bool = False
    structured_output: bool = False
    pdf_upload: bool = False
    video_input: bool = False


class ModelPricing(msgspec.Struct):
    """Prices in USD per million tokens (``unit`` says so)."""

    prompt: float | None = None
    completion: float | None = None
    currency: str = "USD"
    unit: str = "per_million_tokens"


class Model(_Top):
    """A model from the catalog."""

    id: str
    object: str = "model"
    created: int | float | None = None
    owned_by: str | None = None
    name: str | None = None
    description: str | None = None
    context_length: int | None = None
    max_output_tokens: int | None = None
    capabilities: ModelCapabilities = msgspec.field(default_factory=ModelCapabilities)
    pricing: ModelPricing = msgspec.field(default_factory=ModelPricing)
    category: str | None = None
    icon_url: str | None = None


class Balance(Decimal):
    """The USD balance, as a ``Decimal``; ``nano_balance`` and ``nano_deposit_address`` too."""

    nano_balance: Decimal | None
    nano_deposit_address: str | None
    raw: dict[str, Any]

    def __new__(cls, raw: dict[str, Any]) -> Balance:
        usd = _to_decimal(raw.get("usd_balance"))
        if usd is None or not usd.is_finite():
            raise ValueError(f"usd_balance is not a number: {raw.get('usd_balance')!r}")
        self = super().__new__(cls, usd)
        self.nano_balance = _to_decimal(raw.get("nano_balance"))
        self.nano_deposit_address = raw.get("nanoDepositAddress")
        self.raw = raw
        return self

    @property
    def usd_balance(self) -> Decimal:
        return Decimal(self)

    def __reduce__(self) -> tuple[type[Balance], tuple[dict[str, Any]]]:  # type: ignore[override]
        return (Balance, (self.raw,))

    def __repr__(self) -> str:
        return (f"Balance(usd_balance={str(Decimal(self))!r}, "
                f"nano_balance={str(self.nano_balance)!r})")
