"""The account endpoints: the model lists (public, per plan, personalized, legacy) and the
balance."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from . import _catalog
from ._auth import unauthorized
from ._errors import json_error
from ._exchange import RequestKeys as K

if TYPE_CHECKING:
    from ._routes import Site

__all__ = ["balance", "legacy_models", "models", "one_model"]


async def models(site: Site, request: web.Request) -> web.Response:
    """``GET .../models``: all models, or a plan's (``/subscription/``, ``/paid/``); the
    personalized list wants a key."""
    path = request.path
    if "/personalized/" in path:
        refused = unauthorized(request)
        if refused is not None:
            return refused
    detailed = request.query.get("detailed", "false").lower() == "true"
    listed = _catalog.MODELS
    if "/subscription/" in path:
        listed = [m for m in listed if m["_subscription"]]
    elif "/paid/" in path:
        listed = [m for m in listed if not m["_subscription"]]
    data = [_catalog.public(m, detailed) for m in listed]
    return web.json_response({"object": "list", "data": data},
                             headers={"X-Request-ID": request[K.rid]})


async def legacy_models(site: Site, request: web.Request) -> web.Response:
    """The legacy list, ``GET /api/models``: ``{"models": [id, ...]}``."""
    return web.json_response({"models": [m["id"] for m in _catalog.MODELS]},
                             headers={"X-Request-ID": request[K.rid]})


async def one_model(site: Site, request: web.Request) -> web.Response:
    """NanoGPT does not document ``GET /api/v1/models/{id}``: a JSON 404 that says where
    the model list is."""
    return json_error(request[K.rid], 404, "GET /api/v1/models/{id} is not part of the "
                      "NanoGPT API; list models with GET /api/v1/models?detailed=true",
                      code="not_found")


async def balance(site: Site, request: web.Request) -> web.Response:
    """``POST /api/check-balance``: the emulator's ``balance`` setting."""
    refused = unauthorized(request)
    if refused is not None:
        return refused
    return web.json_response(
        {"usd_balance": site.settings.balance, "nano_balance": "26.71801147",
         "nanoDepositAddress": "nano_1emulatorx9deposit3address7for8tests"},
        headers={"X-Request-ID": request[K.rid]})
