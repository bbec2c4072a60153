"""Error answers: the JSON bodies the service sends, and the other shapes a fault may ask for.

Every error the emulator sends, including unknown paths, wrong methods and oversize bodies,
goes through here, so every one is JSON (unless a fault asks for an HTML page) and carries an
``X-Request-ID``.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

__all__ = ["REASONS", "error_body", "json_error"]

REASONS = {400: "Bad request", 401: "Invalid or missing API key", 402: "Insufficient balance",
           403: "Forbidden", 404: "Not found", 405: "Method not allowed",
           408: "Request timeout", 409: "Conflict", 413: "Payload too large",
           429: "Rate limit exceeded", 500: "Internal server error", 502: "Bad gateway",
           503: "Service unavailable", 504: "Gateway timeout"}
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota",
          403: "permission_error", 404: "not_found_error", 405: "invalid_request_error",
          408: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error"}


def error_type(status: int) -> str:
    return _TYPES.get(status, "api_error")


def error_body(status: int, shape: str, code: str | None, message: str | None) -> bytes:
    """An error body in one of the shapes seen from NanoGPT and the proxies in front of it."""
    msg = message or REASONS.get(status, f"HTTP {status}")
    if shape == "text":
        return f"<html><body><h1>{status} {msg}</h1></body></html>".encode()
    if shape == "legacy":
        body: dict[str, Any] = {"error": msg, "status": status}
        if code:
            body["code"] = code
        if status == 402:
            body["requiredBalance"] = 0.01
    elif shape == "flat":
        body = {"error": status, "message": msg}
    elif shape == "anthropic":
        body = {"type": "error", "error": {"type": error_type(status), "message": msg}}
    else:
        body = {"error": {"message": msg, "type": error_type(status), "code": code,
                          "param": None}}
    return json.dumps(body).encode()


def json_error(rid: str, status: int, message: str, *, code: str | None = None,
               param: str | None = None, headers: dict[str, str] | None = None
               ) -> web.Response:
    """The service's own error answer: ``{"error": {"message", "type", "code", "param"}}``."""
    body = {"error": {"message": message, "type": error_type(status), "code": code,
                      "param": param}}
    return web.json_response(body, status=status,
                             headers={"X-Request-ID": rid, **(headers or {})})
