"""The provider list of one model: ``GET /api/models/{id}/providers``, its request and typed
answer (``client.models.providers(model)``). No I/O.

Kept apart from the routing object's check (``routing``), which every chat needs: these msgspec
types are built only when a program first asks for a model's providers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import msgspec

from .errors import InvalidParameterError
from .types import KeepsRaw, json_object, tolerant

if TYPE_CHECKING:
    from .client import ClientCore, Request

__all__ = ["DistillationPolicy", "ModelProvider", "ModelProviders", "ProviderPrice",
           "decode_providers", "providers_request"]


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
        raise InvalidParameterError(
            "model", "must be a non-empty model id such as 'deepseek/deepseek-v3.2'")
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
