"""Provider routing: the provider list of a model (``GET /api/models/{id}/providers``), and
what chat makes of ``X-Provider``, a body ``provider`` (id or routing object), routing suffixes
and ``:online`` (which provider serves it, and at what price).

As documented (``provider-selection.mdx``, ``model-suffixes.mdx``): only models that support
provider selection have providers (the open-weight ones here); for the others a provider choice
is ignored. A chosen provider bills at its price, markup included (the list's ``pricing``). An
unknown id in ``only`` is a 400 ``provider_unknown_provider``; unknown ids in ``order`` and
``ignore`` are ignored. ``:online`` adds the web search's price to the answer's cost. The
providers, their prices and quantizations are illustrative, derived from the model id so that
they are the same on every run.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import _catalog
from ._auth import unauthorized
from ._errors import json_error
from ._exchange import RequestKeys as K

if TYPE_CHECKING:
    from ._routes import Site

__all__ = ["Refused", "model_providers", "providers", "served_model"]

MARKUP = 1.05  # the provider-selection markup, included in each provider's price
_POOL = ("novita", "deepinfra", "together", "fireworks", "baseten", "cloudflare", "parasail")
_QUANTS = ("fp8", "fp16", "bf16", "int4", "fp8")
_WIDTH = {"int4": 4, "fp4": 4, "fp6": 6, "int8": 8, "fp8": 8, "fp16": 16, "bf16": 16, "fp32": 32}
_SELECTABLE_OWNERS = ("deepseek", "meta-llama", "moonshotai")  # open weights: several hosts
_ROUTE_SUFFIXES = ("speed", "fast", "throughput", "latency", "price", "cheap", "floor")
# the web search a ``:online[/engine]`` suffix adds, USD per call (chat-completion.mdx,
# "Pricing by provider"; Exa's per-page part and Valyu's per-result price left out)
SEARCH_PRICES = {"linkup": 0.006, "linkup-deep": 0.06, "tavily": 0.008, "tavily-deep": 0.016,
                 "brave": 0.005, "brave-deep": 0.005, "sofya": 0.01575, "kagi": 0.002,
                 "kagi-web": 0.002, "kagi-news": 0.002, "kagi-search": 0.025,
                 "perplexity": 0.005, "perplexity-deep": 0.005, "valyu": 0.0015,
                 "valyu-deep": 0.0015, "valyu-web": 0.0015, "valyu-web-deep": 0.0015}
EXA_PRICE = 0.005


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _rows(model: dict[str, Any]) -> list[dict[str, Any]]:
    """The providers of a model that supports provider selection: 3 or 4 of the pool, each
    with a price around the model's (markup included) and a quantization; the last of four
    is unavailable."""
    seed = _digest(model["id"])
    count = 3 + seed % 2
    start = seed % len(_POOL)
    p = model["pricing"]
    rows = []
    for i in range(count):
        name = _POOL[(start + i * 2) % len(_POOL)]
        factor = 0.8 + (_digest(f"{model['id']}/{name}") % 60) / 100  # 0.80 to 1.39
        rows.append({
            "provider": name,
            "available": not (count == 4 and i == 3),
            "pricing": {"inputPer1kTokens": round(p["prompt"] * factor * MARKUP / 1000, 8),
                        "outputPer1kTokens": round(p["completion"] * factor * MARKUP / 1000,
                                                   8)},
            "_quantization": _QUANTS[(seed >> 8 + i) % len(_QUANTS)],
        })
    rows[0]["distillationPolicy"] = {"status": "allowed", "label": "License permits "
                                     "distillation", "basis": "permissive-open-weights"}
    return rows


def model_providers(model: dict[str, Any]) -> dict[str, Any]:
    """The providers endpoint's answer for ``model`` (the emulator's own fields, whose names
    start with ``_``, left out)."""
    p = model["pricing"]
    selectable = model["id"].split("/")[0] in _SELECTABLE_OWNERS
    rows = _rows(model) if selectable else []
    return {"canonicalId": model["id"], "displayName": model["name"],
            "supportsProviderSelection": selectable,
            "defaultPrice": {"inputPer1kTokens": round(p["prompt"] / 1000, 10),
                             "outputPer1kTokens": round(p["completion"] / 1000, 10)},
            "providers": [{k: v for k, v in r.items() if not k.startswith("_")}
                          for r in rows]}


async def providers(site: Site, request: web.Request) -> web.Response:
    """``GET /api/models/{id}/providers``: the id percent-encoded (an unencoded ``/`` is a
    path separator: that path is not routed, a 404, as on the service)."""
    refused = unauthorized(request)
    if refused is not None:
        return refused
    model_id = request.match_info["model_id"]
    model = _catalog.lookup(model_id)
    if model is None:
        return json_error(request[K.rid], 400, f"Invalid model ID: {model_id!r}",
                          code="invalid_model_id", param="canonicalId")
    return web.json_response(model_providers(model), headers={"X-Request-ID": request[K.rid]})


# chat -----------------------------------------------------------------------------------------

class Refused(Exception):
    """A provider choice the service refuses: a 400 with this message, code and param."""

    def __init__(self, message: str, code: str, param: str | None) -> None:
        super().__init__(message)
        self.message, self.code, self.param = message, code, param


def served_model(body: dict[str, Any], headers: Any, model: dict[str, Any]) -> dict[str, Any]:
    """The model of a checked chat request as served: a copy of its catalog entry with the
    chosen provider's price (markup included), the provider in ``_provider`` (absent: the
    default route) and the web search's price in ``_surcharge``. Raises ``Refused`` as the
    service would."""
    suffixes = [s.lower() for s in body["model"].split(":")[1:]]
    served = {**model, "_surcharge": _search_cost(suffixes)}
    choice = headers.get("X-Provider") or body.get("provider")
    if choice is not None and any(s in _ROUTE_SUFFIXES for s in suffixes):
        raise Refused("A routing preference suffix cannot be combined with an explicit "
                      "provider", "speed_suffix_conflict", "provider")
    if isinstance(choice, dict):
        _check_object(choice)
    elif choice is not None and not isinstance(choice, str):
        raise Refused("provider must be a provider id or a routing object",
                      "invalid_provider", "provider")
    if choice is None or model["id"].split("/")[0] not in _SELECTABLE_OWNERS:
        return served  # no choice, or one the service ignores for this model
    row = _choose(choice, _rows(model))
    price = row["pricing"]
    served["pricing"] = {**model["pricing"], "prompt": price["inputPer1kTokens"] * 1000,
                         "completion": price["outputPer1kTokens"] * 1000}
    served["_provider"] = row["provider"]
    return served


def _search_cost(suffixes: list[str]) -> float:
    for s in suffixes:
        if s == "online":
            return SEARCH_PRICES["linkup"]  # the default backend
        if s.startswith("online/"):
            engine = s[7:]
            return EXA_PRICE if engine.startswith("exa-") else SEARCH_PRICES.get(engine, 0.0)
    return 0.0


def _check_object(choice: dict[str, Any]) -> None:
    """The documented shape checks of a routing object (400 ``invalid_request_error``)."""
    for key in ("order", "only", "ignore"):
        v = choice.get(key)
        if v is not None and (not isinstance(v, list) or not all(isinstance(p, str)
                                                                 for p in v)):
            raise Refused(f"provider.{key} must be an array of strings",
                          "invalid_provider_object", f"provider.{key}")
    quants = choice.get("quantizations")
    if quants is not None and (not isinstance(quants, list) or not quants
                               or not all(q in (*_WIDTH, "unknown") for q in quants)):
        raise Refused("provider.quantizations must be a non-empty array of supported "
                      "quantizations", "invalid_provider_object", "provider.quantizations")
    floor = choice.get("min_quantization")
    if floor is not None and floor not in _WIDTH:
        raise Refused("provider.min_quantization must be a supported comparable quantization",
                      "invalid_provider_object", "provider.min_quantization")
    for key in ("allow_fallbacks", "require_parameters"):
        if key in choice and not isinstance(choice[key], bool):
            raise Refused(f"provider.{key} must be a boolean", "invalid_provider_object",
                          f"provider.{key}")
    caps = choice.get("max_price", {})
    if not isinstance(caps, dict) or not all(
            isinstance(caps.get(k, 0), (int, float)) and not isinstance(caps.get(k, 0), bool)
            and caps.get(k, 0) >= 0 for k in ("prompt", "completion")):
        raise Refused("provider.max_price.prompt and provider.max_price.completion must be "
                      "non-negative numbers", "invalid_provider_object", "provider.max_price")


def _choose(choice: str | dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_id = {r["provider"]: r for r in rows}
    if isinstance(choice, str):
        row = by_id.get(choice.lower())
        if row is None or not row["available"]:
            raise Refused(f"Unknown or unavailable provider id: {choice}",
                          "provider_unknown_provider", "provider")
        return row
    only = choice.get("only")
    if only is not None:
        bad = [p for p in only if p.lower() not in by_id or not by_id[p.lower()]["available"]]
        if bad:
            raise Refused(f"Unknown or unavailable provider id in provider.only: {bad[0]}",
                          "provider_unknown_provider", "provider.only")
    candidates = [r for r in rows if r["available"] and _allowed(choice, r)]
    if not candidates:
        raise Refused("No available provider satisfies the provider constraints of this "
                      "request", "no_fallback_available", "provider")
    order = [p.lower() for p in choice.get("order") or []]
    ranked = sorted(candidates, key=lambda r: (
        order.index(r["provider"]) if r["provider"] in order else len(order), _cost(r)))
    return ranked[0]


def _allowed(choice: dict[str, Any], row: dict[str, Any]) -> bool:
    name, quant = row["provider"], row["_quantization"]
    only = choice.get("only")
    if only is not None and name not in [p.lower() for p in only]:
        return False
    if name in [p.lower() for p in choice.get("ignore") or []]:
        return False
    quants = choice.get("quantizations")
    if quants is not None and quant not in quants:
        return False
    floor = choice.get("min_quantization")
    if floor is not None and _WIDTH[quant] < _WIDTH[floor]:
        return False
    caps = choice.get("max_price") or {}
    per_million = {"prompt": row["pricing"]["inputPer1kTokens"] * 1000,
                   "completion": row["pricing"]["outputPer1kTokens"] * 1000}
    return all(per_million[k] <= caps[k] for k in ("prompt", "completion") if k in caps)


def _cost(row: dict[str, Any]) -> float:
    return float(row["pricing"]["inputPer1kTokens"] + row["pricing"]["outputPer1kTokens"])
