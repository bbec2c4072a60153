"""The API key check the endpoints share: any key is accepted except ``INVALID_API_KEY``."""

from __future__ import annotations

import zlib

from aiohttp import web

from ._errors import json_error
from ._exchange import RequestKeys as K

__all__ = ["INVALID_API_KEY", "api_key", "key_id", "unauthorized"]

INVALID_API_KEY = "sk-nano-invalid"  # the one key the emulator refuses (401 invalid_api_key)


def api_key(request: web.Request) -> str | None:
    """The key a request carries: ``Authorization: Bearer``, else ``x-api-key``."""
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        key = auth[7:].strip()
        if key:
            return key
    return request.headers.get("x-api-key", "").strip() or None


def key_id(request: web.Request) -> int:
    """The id the emulator gives the key a request carries (stable per key): what usage
    answers as ``apiKey.id``, and what each charge records as the key it billed."""
    return zlib.crc32((api_key(request) or "").encode()) % 100_000 + 1


def unauthorized(request: web.Request) -> web.Response | None:
    """401 as documented: ``missing_api_key`` without a key, ``invalid_api_key`` for
    ``INVALID_API_KEY``; None when the key is accepted (any other key is)."""
    key = api_key(request)
    if key is None:
        return json_error(request[K.rid], 401, "Missing API key. Pass it as "
                          "'Authorization: Bearer <key>' or 'x-api-key: <key>'.",
                          code="missing_api_key")
    if key == INVALID_API_KEY:
        return json_error(request[K.rid], 401, "Invalid API key.", code="invalid_api_key")
    return None
