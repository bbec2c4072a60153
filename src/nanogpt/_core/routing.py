"""Provider routing: the ``provider=`` argument of chat (a provider id, or the documented
routing object, checked before anything is sent) and the provider list of one model
(``GET /api/models/{id}/providers``: request and typed answer). No I/O.

Facts from NanoGPT's docs, ``api-reference/miscellaneous/provider-selection.mdx`` (recorded in
``docs/nanogpt-api.md``). Choosing or constraining a provider, by id or by a routing object, is
always billed pay-as-you-go at that provider's price (plus a 5% markup), even on a subscription:
the request is not covered by the subscription.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypedDict
from urllib.parse import quote

import msgspec

from .errors import InvalidParameterError
from .types import KeepsRaw, json_object, tolerant

if TYPE_CHECKING:
    from .client import ClientCore, Request

__all__ = ["DistillationPolicy", "MaxPrice", "ModelProvider", "ModelProviders",
           "ProviderPrice", "ProviderRouting", "ProviderSort", "Quantization",
           "check_provider", "decode_providers", "providers_request"]

ProviderSort = Literal["speed", "throughput", "latency", "price", "auto", "none", "default"]
Quantization = Literal["int4", "fp4", "fp6", "int8", "fp8", "fp16", "bf16", "fp32", "unknown"]

# bit width of each comparable quantization: formats of one width are equivalent for
# ``min_quantization`` (the docs); "unknown" has none and is only valid in ``quantizations``
_WIDTH = {"int4": 4, "fp4": 4, "fp6": 6, "int8": 8, "fp8": 8, "fp16": 16, "bf16": 16,
          "fp32": 32}
_QUANTIZATIONS = (*_WIDTH, "unknown")
_SORTS = ("speed", "throughput", "latency", "price", "auto", "none", "default")


class MaxPrice(TypedDict, total=False):
    """Price caps of a routing object, in USD per million tokens (either or both)."""

    prompt: float
    completion: float


class ProviderRouting(TypedDict, total=False):
    """The routing object of chat's ``provider=`` (NanoGPT's documented keys, all optional).

    ``order``: providers to try first (soft; unknown ids ignored). ``only``: the providers
    allowed (hard; an unknown id is a 400 ``provider_unknown_provider``). ``ignore``:
    providers never used. ``sort``: what to prefer. ``quantizations``: weight precisions
    allowed; ``min_quantization``: the lowest allowed. ``max_price``: caps in USD per million
    tokens. ``allow_fallbacks=False``: no fallback to another provider.
    ``require_parameters=True``: only providers that support every parameter sent.

    Any routing object makes the request pay-as-you-go at the chosen provider's price (plus
    5%), even for subscribers."""

    order: list[str]
    only: list[str]
    ignore: list[str]
    sort: ProviderSort
    quantizations: list[Quantization]
    min_quantization: Quantization
    max_price: MaxPrice
    allow_fallbacks: bool
    require_parameters: bool


# the routing object's checks ------------------------------------------------------------------

def _fail(name: str, message: str) -> InvalidParameterError:
    return InvalidParameterError(name, message)


def _unknown_key(name: str, key: Any, known: tuple[str, ...]) -> InvalidParameterError:
    import difflib  # here: only a mistyped key needs it

    shown = repr(key[:40]) if isinstance(key, str) else repr(key)
    near = difflib.get_close_matches(key, known, n=1, cutoff=0.5) if isinstance(key, str) \
        else []
    hint = f"did you mean {near[0]!r}? " if near else ""
    return _fail(name, f"has no key {shown}; {hint}(documented keys: {', '.join(known)})")


def _ids(name: str, v: Any) -> None:
    if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)) \
            or not all(isinstance(p, str) and p for p in v):
        raise _fail(name, "must be a list of provider ids (non-empty strings)")


def _one_of(name: str, v: Any, allowed: tuple[str, ...]) -> None:
    if not isinstance(v, str) or v not in allowed:
        raise _fail(name, f"must be one of {', '.join(allowed)}; got {v!r}")


def _quantizations(name: str, v: Any) -> None:
    if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)) or not v:
        raise _fail(name, "must be a non-empty list of quantizations")
    for q in v:
        _one_of(name, q, _QUANTIZATIONS)


def _bool(name: str, v: Any) -> None:
    if not isinstance(v, bool):
        raise _fail(name, f"must be true or false, got {type(v).__name__}")


def _max_price(name: str, v: Any) -> None:
    if not isinstance(v, Mapping):
        raise _fail(name, "must be an object with 'prompt' and/or 'completion' (USD per "
                          "million tokens)")
    for key, price in v.items():
        if key not in ("prompt", "completion"):
            raise _unknown_key(name, key, ("prompt", "completion"))
        if isinstance(price, bool) or not isinstance(price, (int, float)) \
                or not 0 <= price < float("inf"):
            raise _fail(f"{name}.{key}", f"must be a non-negative number, got {price!r}")


_KEYS: dict[str, Any] = {
    "order": _ids,
    "only": _ids,
    "ignore": _ids,
    "sort": lambda n, v: _one_of(n, v, _SORTS),
    "quantizations": _quantizations,
    "min_quantization": lambda n, v: _one_of(n, v, tuple(_WIDTH)),
    "max_price": _max_price,
    "allow_fallbacks": _bool,
    "require_parameters": _bool,
}


def check_provider(name: str, value: Any) -> None:
    """Chat's ``provider=``: a provider id, or a routing object with NanoGPT's documented keys
    and types (an unknown key is named with the closest documented one). Raises
    ``InvalidParameterError`` before anything is sent."""
    if isinstance(value, str):
        if not value.strip():
            raise _fail(name, "must be a provider id (see client.models.providers(model)) "
                              "or a routing object")
        return
    if not isinstance(value, Mapping):
        raise _fail(name, f"must be a provider id or a routing object, got "
                          f"{type(value).__name__}")
    for key, v in value.items():
        check = _KEYS.get(key)
        if check is None:
            raise _unknown_key(name, key, tuple(_KEYS))
        check(f"{name}.{key}", v)
    _check_overlap(name, value)


def _check_overlap(name: str, value: Mapping[str, Any]) -> None:
    """``quantizations`` and ``min_quantization`` together must leave some precision: NanoGPT
    refuses a pair with no overlap."""
    floor, allowed = value.get("min_quantization"), value.get("quantizations")
    if floor is None or allowed is None:
        return
    if not any(_WIDTH.get(q, 0) >= _WIDTH[floor] for q in allowed):
        raise _fail(name, f"quantizations {list(allowed)!r} has nothing at or above "
                          f"min_quantization {floor!r}")


# the provider list of a model -----------------------------------------------------------------

class ProviderPrice(msgspec.Struct):
    """A price in USD per thousand tokens, as the providers endpoint gives it."""

    input_per_1k_tokens: float | None = msgspec.field(default=None, name="inputPer1kTokens")
    output_per_1k_tokens: float | None = msgspec.field(default=None, name="outputPer1kTokens")

    @property
    def prompt_per_million(self) -> float | None:
        """The input price per million tokens (the unit of ``max_price`` and the catalog)."""
        p = self.input_per_1k_tokens
        return None if p is None else p * 1000

    @property
    def completion_per_million(self) -> float | None:
        p = self.output_per_1k_tokens
        return None if p is None else p * 1000


class DistillationPolicy(msgspec.Struct):
    """Whether this provider's outputs may be used to train or distill models (``status``:
    ``allowed``, ``disallowed`` or ``unknown``)."""

    status: str | None = None
    label: str | None = None
    basis: str | None = None
    source_url: str | None = msgspec.field(default=None, name="sourceUrl")
    note: str | None = None


class ModelProvider(msgspec.Struct):
    """One provider of a model: its id (what ``provider=`` takes), whether it is available,
    and the price you pay when you choose it (markup included; None when not given)."""

    provider: str
    available: bool = False
    pricing: ProviderPrice | None = None
    distillation_policy: DistillationPolicy | None = msgspec.field(
        default=None, name="distillationPolicy")


class ModelProviders(KeepsRaw):
    """``client.models.providers(model)``: the providers a model can be routed to. When
    ``supports_provider_selection`` is False, the service ignores ``provider=`` for it.
    ``default_price`` is what a request pays when it chooses no provider."""

    canonical_id: str | None = msgspec.field(default=None, name="canonicalId")
    display_name: str | None = msgspec.field(default=None, name="displayName")
    supports_provider_selection: bool = msgspec.field(default=False,
                                                      name="supportsProviderSelection")
    default_price: ProviderPrice | None = msgspec.field(default=None, name="defaultPrice")
    providers: list[ModelProvider] = msgspec.field(default_factory=list)

    @property
    def available(self) -> list[str]:
        """The ids of the providers available now."""
        return [p.provider for p in self.providers if p.available]


def providers_request(core: ClientCore, model: Any) -> Request:
    """``GET /api/models/{id}/providers`` (under the API root, not ``/api/v1``); the id is
    percent-encoded whole, its ``/`` too, as the docs require. Free, so retried like any
    read."""
    if not isinstance(model, str) or not model.strip():
        raise _fail("model", "must be a non-empty model id such as 'deepseek/deepseek-v3.2'")
    return core.request("GET", f"/models/{quote(model, safe='')}/providers", api_root=True)


def decode_providers(status: int, headers: Mapping[str, str], body: bytes) -> ModelProviders:
    raw = json_object("a providers", status, headers, body)
    items = raw.get("providers")
    fields = {k: v for k, v in raw.items() if k != "providers"}
    result = tolerant(fields, ModelProviders)
    result.providers = [tolerant(p, ModelProvider) for p in items if isinstance(p, dict)
                        and isinstance(p.get("provider"), str)] \
        if isinstance(items, list) else []
    result.__dict__["_raw_dict"] = raw
    return result
