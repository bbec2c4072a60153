"""Typed response objects, decoded straight from JSON bytes by msgspec.

NanoGPT adds fields often, so nothing is lost: every top-level object keeps the bytes it was
decoded from, and ``obj.raw`` (or ``obj.to_dict()``) returns them as a dict. ``usage`` and
``x_nanogpt_pricing`` are kept whole as dicts and read through small wrappers, since they carry
many provider-specific extras.

At run time, reading an attribute a class does not declare falls back to that dict
(``completion.some_new_field``). Type checkers do not see that fallback (its ``__getattr__`` is
defined under ``if not TYPE_CHECKING``): to them ``completion.choises`` is the typo it is, and a
field the class does not declare is read from ``.raw``. The public home of these classes is
:mod:`nanogpt.types`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, SupportsIndex, TypeVar, overload

import msgspec

from .errors import APIResponseValidationError

__all__ = [
    "Balance",
    "Catalog",
    "ChatCompletion",
    "ChatCompletionChunk",
    "Choice",
    "ChunkChoice",
    "Delta",
    "FunctionCall",
    "Message",
    "Model",
    "ModelCapabilities",
    "ModelList",
    "ModelPage",
    "ModelPricing",
    "Pricing",
    "ToolCall",
    "Usage",
]


# what decoding untrusted JSON may raise: bad syntax or shape, invalid UTF-8, deep nesting
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError,
                 RecursionError)

T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)
_EXCERPT = 200  # characters of a malformed answer shown in its error


def loads(data: bytes) -> Any:
    """Untrusted JSON to builtins. A number msgspec cannot hold (an integer of more than 4300
    digits, a float beyond 1.8e308) becomes ``None`` instead of failing the whole document.
    Raises ``msgspec.DecodeError`` (or another of ``DECODE_ERRORS``) for what is not JSON."""
    try:
        return msgspec.json.decode(data)
    except msgspec.ValidationError:  # only a number out of range gets here
        return _loads_odd_numbers(data)


def decoder(type_: type[T]) -> Callable[[bytes], T]:
    """A decoder of untrusted JSON into ``type_`` (fields it does not declare are kept, for
    ``.raw``). A number out of range (in a field we do not declare, or in ``usage``) becomes
    ``None`` rather than failing the whole answer. Raises one of ``DECODE_ERRORS``."""
    decode = msgspec.json.Decoder(type_, strict=False).decode

    def decode_or_salvage(data: bytes) -> T:
        try:
            return decode(data)
        except DECODE_ERRORS as e:
            return _salvage(data, type_, e)

    return decode_or_salvage


def unexpected_answer(what: str, status: int, headers: Mapping[str, str], body: bytes,
                      why: object = None) -> APIResponseValidationError:
    """The error for a 2xx answer that is not ``what`` (every decoder makes it here): an
    excerpt of the body, with any credential a server echoed masked *before* it is cut (a key
    cut in half would not be recognised), and the status, body and request id."""
    from .redact import scrub  # (here: redact imports config, which imports errors)

    excerpt = scrub(body[:_EXCERPT + 512].decode("utf-8", "replace"))[:_EXCERPT]
    reason = f" ({why})" if why else ""
    return APIResponseValidationError(f"expected {what}{reason}, got {excerpt!r}",
                                      status_code=status, body=body,
                                      request_id=headers.get("x-request-id"))


def json_object(what: str, status: int, headers: Mapping[str, str],
                body: bytes) -> dict[str, Any]:
    """``body`` as a JSON object (builtins), else :func:`unexpected_answer`."""
    try:
        raw = loads(body)
    except DECODE_ERRORS as e:
        raise unexpected_answer(f"{what} JSON object", status, headers, body, e) from None
    if not isinstance(raw, dict):
        raise unexpected_answer(f"{what} JSON object", status, headers, body)
    return raw


def tolerant(raw: dict[str, Any], type_: type[S]) -> S:
    """``raw`` as ``type_``; a field in a form the class cannot take keeps its default (the
    caller keeps ``raw`` for ``.raw``). Raises ``msgspec.ValidationError`` only when a field
    the class cannot do without is missing or unusable."""
    try:
        return msgspec.convert(raw, type_, strict=False)
    except (msgspec.ValidationError, TypeError):
        return msgspec.convert(_fitting_fields(raw, type_), type_, strict=False)


def typed_object(raw: dict[str, Any], type_: type[S], status: int, headers: Mapping[str, str],
                 body: bytes) -> S:
    """``raw`` as ``type_`` (:func:`tolerant`), keeping ``raw`` for ``.raw``; a field the
    class cannot do without, missing or unusable, is :func:`unexpected_answer`."""
    try:
        obj = tolerant(raw, type_)
    except (msgspec.ValidationError, TypeError) as e:
        raise unexpected_answer(f"a {type_.__name__} object", status, headers, body,
                                e) from None
    obj.__dict__["_raw_dict"] = raw
    return obj


def _salvage(data: bytes, type_: type[T], error: Exception) -> T:
    """A second try after a typed decode of ``data`` failed with ``error``: when what failed
    was a number out of range, decode with such numbers as ``None``. Raises ``error`` when
    that does not help."""
    if not isinstance(error, msgspec.ValidationError):
        raise error
    try:
        return msgspec.convert(_loads_odd_numbers(data), type_, strict=False)
    except (*DECODE_ERRORS, TypeError, UnicodeError):  # UnicodeEncodeError: a lone surrogate
        raise error from None


def _loads_odd_numbers(data: bytes) -> Any:
    import json

    try:
        # strict UTF-8, as msgspec reads it (json.loads would let surrogates through)
        return json.loads(data.decode("utf-8"), parse_int=_int_or_none,
                          parse_float=_float_or_none, parse_constant=_none)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError
        raise msgspec.DecodeError(f"not JSON: {e}") from None


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts
        return None


def _float_or_none(text: str) -> float | None:
    v = float(text)
    return v if math.isfinite(v) else None


def _none(text: str) -> None:
    return None


def _to_decimal(v: Any) -> Decimal | None:
    """A finite ``Decimal`` from a JSON number or numeric string; ``None`` for anything else."""
    if v is None or isinstance(v, bool):
        return None
    try:
        if isinstance(v, float):
            d = Decimal(repr(v))
        elif isinstance(v, (int, Decimal)):
            d = Decimal(v)
        elif isinstance(v, str) and len(v) <= 100:
            d = Decimal(v.strip())
        else:
            return None
    except (ArithmeticError, ValueError):
        return None
    return d if d.is_finite() else None


def _to_count(v: Any) -> int | None:
    """A token count from a JSON value: a whole number >= 0 (also as ``12.0`` or ``"12"``);
    ``None`` for anything else (``"n/a"``, ``[1]``, negative, fractional, out of range)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v if v >= 0 else None
    if isinstance(v, float):
        return int(v) if math.isfinite(v) and v >= 0 and v.is_integer() else None
    if isinstance(v, str) and 0 < len(v) <= 30 and v.isascii() and v.isdigit():
        return int(v)
    return None


def _to_str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


class JSONObjectView:
    """A read-only view of a JSON object: declared properties, the rest by key (and at run
    time by attribute)."""

    __slots__ = ("_d",)

    def __init__(self, d: dict[str, Any]) -> None:
        self._d = d

    if not TYPE_CHECKING:  # unknown fields by attribute, unseen by type checkers (see above)
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
        if isinstance(other, JSONObjectView):
            return self._d == other._d
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._d!r})"


class Usage(JSONObjectView):
    """Token counts. Extra provider fields (cached tokens, search queries, ...) by attribute.

    A count the server sent in a form that is not a whole number >= 0 (``"n/a"``, ``[1]``,
    ``1e999``, ``null``) reads as ``None``: a finished, paid-for answer is never lost to its
    usage. An absent ``prompt_tokens`` or ``completion_tokens`` reads as 0.
    """

    __slots__ = ()

    def _count(self, key: str) -> int | None:
        return _to_count(self._d[key]) if key in self._d else 0

    @property
    def prompt_tokens(self) -> int | None:
        return self._count("prompt_tokens")

    @property
    def completion_tokens(self) -> int | None:
        return self._count("completion_tokens")

    @property
    def total_tokens(self) -> int | None:
        if self._d.get("total_tokens") is not None:
            return _to_count(self._d["total_tokens"])
        p, c = self.prompt_tokens, self.completion_tokens
        return p + c if p is not None and c is not None else None

    @property
    def reasoning_tokens(self) -> int | None:
        v = self._d.get("reasoning_tokens")
        if v is None:
            details = self._d.get("completion_tokens_details")
            if isinstance(details, dict):
                v = details.get("reasoning_tokens")
        return _to_count(v)

    @property
    def cached_tokens(self) -> int | None:
        v = self._d.get("cached_tokens")
        if v is None:
            details = self._d.get("prompt_tokens_details")
            if isinstance(details, dict):
                v = details.get("cached_tokens")
        if v is None:
            v = self._d.get("cache_read_input_tokens")
        return _to_count(v)


class Pricing(JSONObjectView):
    """NanoGPT's ``x_nanogpt_pricing``: what this request was really charged. A value in an
    unexpected form (not a finite number, not a string) reads as ``None``."""

    __slots__ = ()

    @property
    def amount(self) -> Decimal | None:
        return _to_decimal(self._d.get("amount"))

    @property
    def currency(self) -> str | None:
        return _to_str(self._d.get("currency"))

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
        return _to_count(self._d.get("inputTokens"))

    @property
    def output_tokens(self) -> int | None:
        return _to_count(self._d.get("outputTokens"))

    @property
    def payment_source(self) -> str | None:
        return _to_str(self._d.get("paymentSource"))


class KeepsRaw(msgspec.Struct, dict=True):
    """A top-level response object: it keeps the JSON it came from (``.raw``), for the fields
    its class does not declare."""

    @property
    def raw(self) -> dict[str, Any]:
        """The whole JSON object as received, unknown fields included."""
        d = self.__dict__
        cached = d.get("_raw_dict")
        if cached is None:
            src = d.get("_raw_json")
            cached = None
            if src is not None:
                with contextlib.suppress(*DECODE_ERRORS):  # the same bytes decoded before
                    cached = loads(src)
            if not isinstance(cached, dict):
                cached = msgspec.to_builtins(self)
            d["_raw_dict"] = cached
        return cached

    if not TYPE_CHECKING:  # unknown fields by attribute, unseen by type checkers (see above)
        def __getattr__(self, name: str) -> Any:
            if name.startswith("_"):
                raise AttributeError(name)
            raw = self.raw
            if name in raw:
                return raw[name]
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object as received (a copy), unknown fields included."""
        return dict(self.raw)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled, copied and deep-copied with what lives beside the fields (the JSON it came
        from, its request id): a msgspec struct's own pickling keeps only the fields."""
        base = msgspec.Struct.__reduce__(self)
        return (*base[:2], dict(self.__dict__))

    def __copy__(self) -> Any:
        """A shallow copy with what lives beside the fields (msgspec's copies only some)."""
        make, args, state = self.__reduce__()
        new = make(*args)
        new.__dict__.update(state)
        return new

    def to_json(self, *, indent: int = 2) -> str:
        """:meth:`to_dict` as JSON text (``indent=0``: on one line)."""
        return to_json(self.to_dict(), indent)

    @property
    def request_id(self) -> str | None:
        """The ``X-Request-ID`` of the answer this came from (quote it to NanoGPT's support).
        A streamed chunk has none of its own: the stream's ``.request_id`` holds it."""
        return self.__dict__.get("_request_id")

    def __repr__(self) -> str:
        """The public fields, and the properties named in ``_shown``; never the private
        fields that hold what is sent as ``usage`` or ``x_nanogpt_pricing``."""
        names = [*(f for f in self.__struct_fields__ if not f.startswith("_")), *self._shown]
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{type(self).__name__}({shown})"

    _shown: ClassVar[tuple[str, ...]] = ()


def to_json(data: Any, indent: int = 2) -> str:
    """JSON text for a result's ``to_json``: compact with ``indent=0``."""
    encoded = msgspec.json.encode(data)
    return (msgspec.json.format(encoded, indent=indent) if indent else encoded).decode()


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


class ReplyFields(KeepsRaw):
    """What completions and chunks share: ids, usage, and NanoGPT's pricing."""

    id: str = ""
    created: int | float = 0
    model: str = ""
    system_fingerprint: str | None = None
    error: Any = None
    # kept as sent (any JSON value); read as dicts only: a server that sends something else
    # there must not cost the caller a finished answer
    _usage: Any = msgspec.field(default=None, name="usage")
    _pricing: Any = msgspec.field(default=None, name="x_nanogpt_pricing")
    _shown: ClassVar[tuple[str, ...]] = ("usage", "cost")

    @property
    def usage(self) -> Usage | None:
        return Usage(self._usage) if isinstance(self._usage, dict) else None

    @property
    def pricing(self) -> Pricing | None:
        return Pricing(self._pricing) if isinstance(self._pricing, dict) else None

    @property
    def cost(self) -> Decimal | None:
        """What NanoGPT charged for this call, in USD, when it said."""
        return Pricing(self._pricing).cost if isinstance(self._pricing, dict) else None


class ChatCompletion(ReplyFields):
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


class ChatCompletionChunk(ReplyFields):
    """One streamed chunk. The final one may have empty ``choices`` and carry ``usage``."""

    object: str = "chat.completion.chunk"
    choices: list[ChunkChoice] = msgspec.field(default_factory=list)


Catalog = Literal["all", "subscription", "paid", "personalized"]  # the model lists


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


class Model(KeepsRaw):
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


class _Listed(Protocol):
    """What a model of a ``ModelPage`` has: an id, and its JSON form."""

    @property
    def id(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


M = TypeVar("M", bound=_Listed)


class ModelPage(list[M]):
    """The one shape of every model list (the catalog, and the embedding, image and audio
    models): a list of typed models that also reads as ``openai``'s page (``.data``,
    ``.object``), finds a model by id (``page["openai/gpt-5-mini"]``, ``page.get(id)``), names
    its ``.ids``, carries the ``request_id`` of its answer, and keeps that answer's top-level
    object in ``.raw`` (fields the service adds beside ``data``)."""

    object = "list"
    request_id: str | None = None

    @property
    def data(self) -> list[M]:
        """The models (this list itself, as ``openai``'s ``SyncPage.data``)."""
        return self

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self]

    def get(self, model_id: str) -> M | None:
        """The model whose id is ``model_id``, or None."""
        return next((m for m in self if m.id == model_id), None)

    @overload
    def __getitem__(self, key: SupportsIndex) -> M: ...
    @overload
    def __getitem__(self, key: slice) -> list[M]: ...
    @overload
    def __getitem__(self, key: str) -> M: ...

    def __getitem__(self, key: SupportsIndex | slice | str) -> M | list[M]:
        if isinstance(key, str):
            found = self.get(key)
            if found is None:
                raise KeyError(key)
            return found
        return super().__getitem__(key)

    @property
    def raw(self) -> dict[str, Any]:
        """The answer's top-level object as received (``{"object": "list", "data": [...]}``
        when it was only a list)."""
        kept = self.__dict__.get("_raw")
        return kept if isinstance(kept, dict) else self.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """``{"object": "list", "data": [...]}``, each model as received."""
        return {"object": "list", "data": [m.to_dict() for m in self]}

    def to_json(self, *, indent: int = 2) -> str:
        return to_json(self.to_dict(), indent)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list.__repr__(self)})"


class ModelList(ModelPage[Model]):
    """The model catalog (``client.models.list()``): a :class:`ModelPage` of :class:`Model`."""


def model_from_dict(item: dict[str, Any]) -> Model:
    """A catalog entry as a :class:`Model`. A field in a form the class cannot take
    (``context_length: "n/a"``, a price of ``[1]``) is left at its default rather than losing
    the entry; the entry as sent stays in ``.raw``."""
    try:
        m = msgspec.convert(item, Model, strict=False)
    except (msgspec.ValidationError, TypeError):
        try:
            m = msgspec.convert(_fitting_fields(item, Model), Model, strict=False)
        except (msgspec.ValidationError, TypeError):  # pragma: no cover - fields fit one by one
            m = Model(id=str(item.get("id") or "?")[:200])
    m.__dict__["_raw_dict"] = item
    return m


def _fitting_fields(item: dict[str, Any], type_: type[msgspec.Struct]) -> dict[str, Any]:
    """The fields of ``item`` that convert to ``type_`` one by one (nested structs field by
    field too); an ``id`` that is not a string becomes one."""
    out: dict[str, Any] = {}
    for f in msgspec.structs.fields(type_):
        if f.encode_name not in item:
            continue
        value = item[f.encode_name]
        nested = f.type if isinstance(f.type, type) and issubclass(f.type, msgspec.Struct) \
            else None
        if nested is not None:
            out[f.encode_name] = _fitting_fields(value, nested) if isinstance(value, dict) \
                else {}
            continue
        try:
            msgspec.convert(value, f.type, strict=False)
        except (msgspec.ValidationError, TypeError):
            continue
        out[f.encode_name] = value
    if type_ is Model and not isinstance(out.get("id"), str):
        out["id"] = str(item.get("id") or "?")[:200]
    return out


class Balance(Decimal):
    """The USD balance, as a ``Decimal``; ``nano_balance`` and ``nano_deposit_address`` too."""

    nano_balance: Decimal | None
    nano_deposit_address: str | None
    raw: dict[str, Any]
    request_id: str | None
    """The ``X-Request-ID`` of the answer it came from."""

    def __new__(cls, raw: dict[str, Any]) -> Balance:
        usd = _to_decimal(raw.get("usd_balance"))
        if usd is None or not usd.is_finite():
            raise ValueError("usd_balance is not a finite number")
        self = super().__new__(cls, usd)
        self.nano_balance = _to_decimal(raw.get("nano_balance"))
        self.nano_deposit_address = _to_str(raw.get("nanoDepositAddress"))
        self.raw = raw
        self.request_id = None
        return self

    @property
    def usd_balance(self) -> Decimal:
        return Decimal(self)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object as received (a copy)."""
        return dict(self.raw)

    def to_json(self, *, indent: int = 2) -> str:
        return to_json(self.to_dict(), indent)

    def __reduce__(self) -> tuple[type[Balance], tuple[dict[str, Any]]]:  # type: ignore[override]
        return (Balance, (self.raw,))

    def __repr__(self) -> str:
        return (f"Balance(usd_balance={str(Decimal(self))!r}, "
                f"nano_balance={str(self.nano_balance)!r})")
