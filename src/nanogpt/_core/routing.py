"""Provider routing: the ``provider=`` argument of chat (a provider id, or the documented
routing object), checked before anything is sent. No I/O.

Chat's parameter table (``params``) loads this module with every client, so it holds only the
check and its types; the provider list of one model (typed msgspec answers, loaded when
``models.providers()`` is first called) is in ``providers``.

Facts from NanoGPT's docs, ``api-reference/miscellaneous/provider-selection.mdx`` (recorded in
``docs/nanogpt-api.md``). Choosing or constraining a provider, by id or by a routing object, is
always billed pay-as-you-go at that provider's price (plus a 5% markup), even on a subscription:
the request is not covered by the subscription.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypedDict

from .errors import InvalidParameterError

__all__ = ["MaxPrice", "ProviderRouting", "ProviderSort", "Quantization", "check_provider"]

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
