"""The sans-I/O half of embeddings (``POST /api/v1/embeddings``) and the embedding model list
(``GET /api/v1/embedding-models``): argument checks, the split of a large input into
requests, decoding (base64 vectors included) and the join of the parts. The namespaces that
move the bytes (``client.embeddings``) are in ``nanogpt._embeddings``.

NanoGPT takes at most 2048 inputs per request (``api-reference/endpoint/embeddings.mdx``; no
per-request token or byte limit is documented). A longer list is split into consecutive chunks
(:class:`EmbeddingJob`), which the shells send at once under the client's concurrency cap; the
answers are joined in input order, ``index`` renumbered over the whole input, tokens and cost
summed. A chunk holds 2048 inputs, or fewer when its answer could outgrow the client's
``max_response_bytes`` (:func:`inputs_per_request`): an answer too large to read is billed
and lost, so the split is sized from what an answer may weigh (JSON numbers weigh about five
times base64), not only from the documented count.

Money: every chunk is a billed POST, sent under chat's rules (never re-sent once it may have
reached the server). When one chunk fails, no further chunk is started; chunks already in
flight finish, and :class:`EmbeddingsIncompleteError` carries every embedding that came back
(billed) and which inputs have none, so the caller re-sends only those. No chunk is re-sent
by this package.

Wire format: by default the vectors travel base64-encoded (little-endian float32, about a
fifth of the bytes of JSON numbers) and are decoded here into lists of floats, as the
``openai`` SDK does; ``encoding_format="float"`` asks for JSON numbers. Either way
``Embedding.embedding`` is a ``list[float]``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import msgspec

from .errors import APIResponseValidationError, InvalidParameterError, NanoGPTError
from .params import add_extra_body
from .results import with_request_id
from .types import (
    DECODE_ERRORS,
    JSONObjectView,
    KeepsRaw,
    ModelPage,
    Pricing,
    _fitting_fields,
    _to_count,
    _to_decimal,
    _to_str,
    decoder,
    loads,
    unexpected_answer,
)

if TYPE_CHECKING:
    from .client import ClientCore, Request
    from .config import Timeout

__all__ = ["ASSUMED_DIMENSIONS", "MAX_INPUTS_PER_REQUEST", "CreateEmbeddingResponse",
           "Embedding", "EmbeddingJob", "EmbeddingModel", "EmbeddingModelList",
           "EmbeddingModelPricing", "EmbeddingUsage", "EmbeddingsCore",
           "EmbeddingsIncompleteError", "EncodingFormat", "inputs_per_request"]

MAX_INPUTS_PER_REQUEST = 2048  # documented: "array of up to 2048 strings"
EncodingFormat = Literal["float", "base64"]
_BIG_ENDIAN = sys.byteorder == "big"  # the wire's float32 is little-endian


# the answers ------------------------------------------------------------------------------

class Embedding(msgspec.Struct):
    """One input's vector: ``embedding`` (floats), ``index`` (its position in the input)."""

    embedding: list[float]
    index: int = 0
    object: str = "embedding"

    def __repr__(self) -> str:
        """Its size and first values, never thousands of floats (a list of them would print
        megabytes)."""
        head = ", ".join(f"{v:.6g}" for v in self.embedding[:3])
        more = ", ..." if len(self.embedding) > 3 else ""
        return (f"Embedding(index={self.index}, {len(self.embedding)} dimensions: "
                f"[{head}{more}])")


class EmbeddingUsage(JSONObjectView):
    """Token counts of an embeddings call (``prompt_tokens``, ``total_tokens``; other fields
    by attribute). A count in an odd form reads as ``None``."""

    __slots__ = ()

    @property
    def prompt_tokens(self) -> int | None:
        return _to_count(self._d.get("prompt_tokens", 0))

    @property
    def total_tokens(self) -> int | None:
        if self._d.get("total_tokens") is None:
            return self.prompt_tokens
        return _to_count(self._d["total_tokens"])


class CreateEmbeddingResponse(KeepsRaw):
    """The vectors (``data[i].embedding``, in input order, ``data[i].index == i``), the
    ``model``, ``usage`` and, when NanoGPT says, ``cost`` in USD. For an input split into
    several requests: the join of their answers (``request_ids`` has one id per request)."""

    data: list[Embedding] = msgspec.field(default_factory=list)
    model: str = ""
    object: str = "list"
    _usage: Any = msgspec.field(default=None, name="usage")
    _pricing: Any = msgspec.field(default=None, name="x_nanogpt_pricing")
    _cost: Any = msgspec.field(default=None, name="cost")
    _shown: ClassVar[tuple[str, ...]] = ("usage", "cost")

    @property
    def usage(self) -> EmbeddingUsage | None:
        return EmbeddingUsage(self._usage) if isinstance(self._usage, dict) else None

    @property
    def cost(self) -> Decimal | None:
        """What NanoGPT charged, in USD, when the answer says (``x_nanogpt_pricing`` as on
        chat, or a top-level ``cost``); the docs show neither, so usually ``None``."""
        if isinstance(self._pricing, dict):
            return Pricing(self._pricing).cost
        return _to_decimal(self._cost)

    @property
    def embeddings(self) -> list[list[float]]:
        """Just the vectors, in input order."""
        return [e.embedding for e in self.data]

    @property
    def request_ids(self) -> list[str | None]:
        """The ``X-Request-ID`` of every answer this was joined from (one per request)."""
        ids = self.__dict__.get("_request_ids")
        return list(ids) if ids is not None else [self.request_id]

    def __repr__(self) -> str:
        dims = len(self.data[0].embedding) if self.data else 0
        return (f"CreateEmbeddingResponse(model={self.model!r}, {len(self.data)} embeddings of "
                f"{dims} dimensions, usage={self.usage!r}, cost={self.cost!r})")


class EmbeddingModelPricing(msgspec.Struct):
    per_million_tokens: float | None = None
    currency: str = "USD"


class EmbeddingModel(KeepsRaw):
    """One entry of ``GET /api/v1/embedding-models``: ``dimensions`` (the default),
    ``max_dimensions``, ``supports_dimensions`` (may ``dimensions=`` reduce it),
    ``max_tokens`` (per input) and ``pricing.per_million_tokens`` (USD)."""

    id: str
    object: str = "model"
    created: int | float | None = None
    owned_by: str | None = None
    name: str | None = None
    description: str | None = None
    dimensions: int | None = None
    max_dimensions: int | None = None
    supports_dimensions: bool = False
    max_tokens: int | None = None
    pricing: EmbeddingModelPricing | None = None

    @property
    def price_per_million_tokens(self) -> Decimal | None:
        """``pricing.per_million_tokens`` as a ``Decimal`` (USD)."""
        return _to_decimal(self.pricing.per_million_tokens) if self.pricing else None


class EmbeddingModelList(ModelPage[EmbeddingModel]):
    """The embedding models (``client.embeddings.models()``): a :class:`ModelPage` of
    :class:`EmbeddingModel`; ``models["text-embedding-3-small"]`` finds one."""


class EmbeddingsIncompleteError(NanoGPTError):
    """An input split into several requests got only some answers: one request failed (its
    error is ``errors[0]`` and ``__cause__``), so no further one was started.

    ``partial`` is a :class:`CreateEmbeddingResponse` with every embedding that came back
    (those requests are billed), each ``index`` its place in the whole input; ``missing``
    lists the input indices without an embedding (failed or never sent): sending
    ``[inputs[i] for i in e.missing]`` again pays nothing twice for what came back. The
    failed request itself may have been billed (its error's ``answer_cut`` says whether its
    answer had started). Nothing was re-sent by this package."""

    def __init__(self, message: str, *, partial: CreateEmbeddingResponse, missing: list[int],
                 errors: list[BaseException]) -> None:
        super().__init__(message)
        self.partial = partial
        self.missing = missing
        self.errors = errors


# the wire ---------------------------------------------------------------------------------

class _WireItem(msgspec.Struct):
    embedding: list[float] | str
    index: int = 0
    object: str = "embedding"


class _Wire(msgspec.Struct):
    data: list[_WireItem]
    model: str = ""
    object: str = "list"
    usage: Any = None
    x_nanogpt_pricing: Any = None
    cost: Any = None


_decode_wire = decoder(_Wire)


class _ModelsWire(msgspec.Struct):
    data: list[Any]
    object: str = "list"


_decode_models_wire = decoder(_ModelsWire)


def floats_from_base64(text: str) -> list[float]:
    """A base64 vector (little-endian float32, as OpenAI sends it) as floats. ``ValueError``
    when it is not that: the decoding is strict, since a lenient one skips what is not base64
    and hands back a shorter vector, silently."""
    vector = array("f", base64.b64decode(text, validate=True))
    if _BIG_ENDIAN:
        vector.byteswap()
    return vector.tolist()


# the arguments ----------------------------------------------------------------------------

def check_inputs(value: Any) -> list[str]:
    """``input`` as a list of non-empty strings (a lone string is a list of one)."""
    if isinstance(value, str):
        inputs = [value]
    elif isinstance(value, (bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise InvalidParameterError("input", "must be a string or a list of strings")
    else:
        inputs = value if isinstance(value, list) else list(value)
    if not inputs:
        raise InvalidParameterError("input", "must not be empty")
    for i, text in enumerate(inputs):
        if not isinstance(text, str):
            raise InvalidParameterError(
                "input", f"item {i} is a {type(text).__name__}, not a string (NanoGPT "
                "documents strings only, no token arrays)")
        if not text:
            raise InvalidParameterError("input", f"item {i} is an empty string")
    return inputs


def _check_body_fields(model: Any, dimensions: Any, encoding_format: Any, user: Any,
                       extra_body: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every field of the body but ``input``, checked."""
    if not isinstance(model, str) or not model.strip():
        raise InvalidParameterError("model", "must be a non-empty model id such as "
                                             "'text-embedding-3-small'")
    body: dict[str, Any] = {"model": model}
    if dimensions is not None:
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
            raise InvalidParameterError("dimensions", "must be an integer >= 1")
        body["dimensions"] = dimensions
    if encoding_format not in (None, "float", "base64"):
        raise InvalidParameterError("encoding_format", "must be 'float' or 'base64'")
    # by default base64 on the wire (decoded here): the same floats in a fifth of the bytes
    body["encoding_format"] = encoding_format or "base64"
    if user is not None:
        if not isinstance(user, str):
            raise InvalidParameterError("user", "must be a string")
        body["user"] = user
    return add_extra_body(body, extra_body, reserved=("input", "pass input="))


ASSUMED_DIMENSIONS = 4096
"""The vector size planned for when ``dimensions`` is not given: above every model NanoGPT
documents (3072 at most), so that an unknown model's answer still fits."""
_WIRE_BYTES_PER_NUMBER = {"base64": 16 / 3, "float": 32}  # float: 24 digits, signs and spacing
_WIRE_BYTES_PER_ITEM = 256  # the item's keys, index and punctuation, generously
_HEADROOM = 0.85  # of max_response_bytes; room for usage, model and the unexpected


def inputs_per_request(max_response_bytes: int, dimensions: Any, encoding_format: Any) -> int:
    """How many inputs one request may carry so that its answer fits ``max_response_bytes``
    (at most the documented 2048, at least one). Values ``extra_body`` put in the body are
    taken as they are: anything but base64 is planned as JSON numbers."""
    ok = isinstance(dimensions, int) and not isinstance(dimensions, bool) and dimensions > 0
    numbers = dimensions if ok else ASSUMED_DIMENSIONS
    wire = "base64" if encoding_format == "base64" else "float"
    per_input = numbers * _WIRE_BYTES_PER_NUMBER[wire] + _WIRE_BYTES_PER_ITEM
    fitting = int(max_response_bytes * _HEADROOM // per_input)
    return max(1, min(MAX_INPUTS_PER_REQUEST, fitting))


def spans(count: int, size: int = MAX_INPUTS_PER_REQUEST) -> list[tuple[int, int]]:
    """The ``[start, stop)`` input ranges of the requests for ``count`` inputs."""
    return [(start, min(start + size, count)) for start in range(0, count, size)]


# the plan of one create() -----------------------------------------------------------------

_NOT_SENT = object()


@dataclass
class EmbeddingJob:
    """One ``embeddings.create`` call: its requests (one per span of inputs), what came back
    for each, and the join. The shells run ``workers`` loops of ``take`` / send /
    ``succeeded`` or ``failed``; then ``result()``. Shared by the loops of one call (threads
    or tasks): each step is a single list or attribute write."""

    requests: list[Request]
    spans: list[tuple[int, int]]
    workers: int
    outcomes: list[Any] = field(default_factory=list)
    _next: Iterator[int] = field(default_factory=lambda: iter(()))
    stopped: bool = False

    def __post_init__(self) -> None:
        self.outcomes = [_NOT_SENT] * len(self.requests)
        self._next = iter(range(len(self.requests)))

    @property
    def single(self) -> bool:
        """One request: the shells make it as any plain call (errors raised as they are)."""
        return len(self.requests) == 1

    def take(self) -> int | None:
        """The next request to send, or None: all taken, or one failed (then no more are
        started, since the call will raise anyway and each request is billed)."""
        if self.stopped:
            return None
        return next(self._next, None)

    def decoder(self, i: int) -> Callable[[int, Mapping[str, str], bytes],
                                          CreateEmbeddingResponse]:
        """The decoder of request ``i``'s answer."""
        count = self.spans[i][1] - self.spans[i][0]
        return functools.partial(decode_embeddings, count=count)

    def succeeded(self, i: int, response: CreateEmbeddingResponse) -> None:
        self.outcomes[i] = response

    def failed(self, i: int, error: BaseException) -> None:
        self.outcomes[i] = error
        self.stopped = True

    def stop(self) -> None:
        """No further request (the caller was interrupted)."""
        self.stopped = True

    def result(self) -> CreateEmbeddingResponse:
        """The joined answer; raises :class:`EmbeddingsIncompleteError` (or, when nothing
        came back, the first error as it is) when any request failed."""
        done = [o for o in self.outcomes if isinstance(o, CreateEmbeddingResponse)]
        if len(done) == len(self.outcomes):
            return join(done, self.spans)
        errors = [o for o in self.outcomes if isinstance(o, BaseException)]
        if not done:
            raise errors[0]
        raise self._incomplete(errors) from errors[0]

    def _incomplete(self, errors: list[BaseException]) -> EmbeddingsIncompleteError:
        got = [(o, s) for o, s in zip(self.outcomes, self.spans, strict=True)
               if isinstance(o, CreateEmbeddingResponse)]
        partial = join([o for o, _ in got], [s for _, s in got])
        missing = [i for o, (a, b) in zip(self.outcomes, self.spans, strict=True)
                   if not isinstance(o, CreateEmbeddingResponse) for i in range(a, b)]
        total = self.spans[-1][1]
        unsent = sum(1 for o in self.outcomes if o is _NOT_SENT)
        return EmbeddingsIncompleteError(
            f"embedded {len(partial.data)} of {total} inputs in {len(got)} of "
            f"{len(self.outcomes)} requests (those are billed; e.partial holds them); "
            f"{len(errors)} request(s) failed ({errors[0]}), {unsent} not sent; e.missing "
            f"lists the {len(missing)} inputs to send again. Nothing was re-sent.",
            partial=partial, missing=missing, errors=errors)


def join(parts: list[CreateEmbeddingResponse],
         where: list[tuple[int, int]]) -> CreateEmbeddingResponse:
    """The answers of consecutive requests as one: ``index`` made global (part k starts at
    ``where[k][0]``), usage and cost summed (each only when every part has it: otherwise
    ``None``, never the sum of some parts passed for the whole)."""
    if len(parts) == 1 and where[0][0] == 0:
        return parts[0]
    data: list[Embedding] = []
    tokens: dict[str, int | None] = {"prompt_tokens": 0, "total_tokens": 0}
    costs: list[Decimal | None] = []
    for part, (start, _) in zip(parts, where, strict=True):
        for e in part.data:
            e.index += start
        data.extend(part.data)
        usage = part.usage
        for key, so_far in tokens.items():
            n = getattr(usage, key) if usage is not None else None
            # a part that did not say makes the sum unknown, not smaller
            tokens[key] = so_far + n if so_far is not None and n is not None else None
        costs.append(part.cost)
    known = [c for c in costs if c is not None]
    cost = sum(known, Decimal(0)) if known and len(known) == len(costs) else None
    joined = CreateEmbeddingResponse(data=data, model=parts[0].model if parts else "",
                                     _usage=tokens if parts else None,
                                     _cost=str(cost) if cost is not None else None)
    joined.__dict__["_request_ids"] = [p.request_id for p in parts]
    joined.__dict__["_request_id"] = parts[0].request_id if parts else None
    return joined


def _invalid(why: str, status: int, headers: Mapping[str, str],
             body: bytes) -> APIResponseValidationError:
    return unexpected_answer("an embeddings answer", status, headers, body, why)


def decode_embeddings(status: int, headers: Mapping[str, str], body: bytes,
                      count: int) -> CreateEmbeddingResponse:
    """An answer for ``count`` inputs: vectors as floats (base64 decoded), in input order;
    exactly one per input (indices 0 to count-1), else ``APIResponseValidationError``."""
    try:
        wire = _decode_wire(body)
    except DECODE_ERRORS as e:
        raise _invalid(str(e), status, headers, body) from None
    data: list[Embedding] = []
    for item in wire.data:
        vector = item.embedding
        if isinstance(vector, str):
            try:
                vector = floats_from_base64(vector)
            except (ValueError, binascii.Error) as e:
                raise _invalid(f"a base64 vector that is not float32 ({e})", status, headers,
                               body) from None
        data.append(Embedding(vector, item.index, item.object))
    data.sort(key=lambda e: e.index)
    if [e.index for e in data] != list(range(count)):
        raise _invalid(f"{len(data)} embeddings for {count} inputs, or their indices are not "
                       f"0 to {count - 1}", status, headers, body)
    if len({len(e.embedding) for e in data}) > 1 or not data[0].embedding:
        raise _invalid("vectors of different lengths, or empty ones", status, headers, body)
    response = CreateEmbeddingResponse(data=data, model=wire.model, object=wire.object,
                                       _usage=wire.usage, _pricing=wire.x_nanogpt_pricing,
                                       _cost=wire.cost)
    response.__dict__["_raw_json"] = body
    return response


# the calls --------------------------------------------------------------------------------

DEFAULT_WORKERS = 50  # requests at once for one create() when max_concurrency is None


class EmbeddingsCore:
    """The sans-I/O half of ``client.embeddings``."""

    def __init__(self, core: ClientCore) -> None:
        self.core = core

    def job(self, *, model: Any, input: Any, dimensions: Any = None,
            encoding_format: Any = None, user: Any = None,
            extra_body: Mapping[str, Any] | None = None,
            extra_headers: Mapping[str, str] | None = None,
            timeout: Timeout | float | None = None, raw: bool = False) -> EmbeddingJob:
        """Check every argument (before anything is sent) and plan the requests."""
        inputs = check_inputs(input)
        fields = _check_body_fields(model, dimensions, encoding_format, user, extra_body)
        size = inputs_per_request(self.core.max_response_bytes, fields.get("dimensions"),
                                  fields["encoding_format"])
        where = spans(len(inputs), size)
        if raw and len(where) > 1:
            raise InvalidParameterError(
                "input", f"with_raw_response returns one answer: at most {size} inputs "
                f"(one request, whose answer fits max_response_bytes), got {len(inputs)}")
        requests = []
        for start, stop in where:
            body = {**fields, "input": input if isinstance(input, str) else inputs[start:stop]}
            # billed: never re-sent once it may have reached the server (chat's rules)
            requests.append(self.core.request("POST", "/embeddings", body=body,
                                              idempotent=False, extra_headers=extra_headers,
                                              timeout=timeout))
        workers = min(len(requests), self.core.max_concurrency or DEFAULT_WORKERS)
        return EmbeddingJob(requests, where, workers)

    def models_request(self) -> Request:
        # documented as usable without a key; sent with one when the client has it
        return self.core.request("GET", "/embedding-models", auth="bearer-if-set")

    @staticmethod
    def decode_models(status: int, headers: Mapping[str, str],
                      body: bytes) -> EmbeddingModelList:
        """The model list; an entry in an odd form keeps what fits (``.raw`` has the rest),
        one that is not an object or has no id is skipped."""
        try:
            wire = _decode_models_wire(body)
        except DECODE_ERRORS as e:
            raise _invalid(f"a model list ({e})", status, headers, body) from None
        models = [m for m in map(_model, wire.data) if m is not None]
        result = EmbeddingModelList(models)
        result.__dict__["_raw"] = loads(body)
        return with_request_id(result, headers)


def _model(item: Any) -> EmbeddingModel | None:
    if not isinstance(item, dict) or _to_str(item.get("id")) is None:
        return None
    try:
        model = msgspec.convert(item, EmbeddingModel, strict=False)
    except msgspec.ValidationError:
        model = msgspec.convert(_fitting_fields(item, EmbeddingModel), EmbeddingModel,
                                strict=False)
    model.__dict__["_raw_dict"] = item
    return model
