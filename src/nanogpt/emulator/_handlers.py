"""The endpoints: one route table, and a handler per endpoint, with the faults that act there.

``Handlers.add_routes`` is the one place that says which paths the emulator serves. The
middleware in ``_server`` has already read the body, recorded the request and picked its fault
(stored on the request under the keys below); faults that strike before any answer byte run in
``before``, the ones that cut a stream in ``_send_stream``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from typing import Any, cast

from aiohttp import web

from . import _catalog, _chat, _replies
from ._batches import BatchStore
from ._errors import error_body, json_error
from ._faults import MAX_FORCED_TOKENS, TOKENS_HEADER, Fault, FaultError, forced_tokens
from ._framing import Framing
from ._records import RecordedRequest
from ._schema import SchemaTooLarge

__all__ = ["INVALID_API_KEY", "Aborted", "Handlers", "RequestKeys"]

INVALID_API_KEY = "sk-nano-invalid"  # the one key the emulator refuses (401 invalid_api_key)
YIELD_EVERY = 64  # stream frames written between turns given to other clients


class RequestKeys:
    """What the middleware leaves on each request for the handlers."""

    rid = web.RequestKey("rid", str)
    json = web.RequestKey("json", object)
    fault = web.RequestKey("fault", object)
    record = web.RequestKey("record", object)


K = RequestKeys


class Aborted(Exception):
    """Raised inside a handler after the connection was reset on purpose."""


def reset_connection(request: web.Request) -> None:
    """Close the connection with a TCP reset (SO_LINGER 0), like a dying proxy."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def api_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        key = auth[7:].strip()
        if key:
            return key
    return request.headers.get("x-api-key", "").strip() or None


class Handlers:
    """The endpoints of one emulator. ``settings`` is the emulator (balance, quirks)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.batches = BatchStore()  # the files and batches of the Batch API

    def add_routes(self, app: web.Application) -> None:
        api = "/api"
        for prefix in (f"{api}/v1", f"{api}/v1legacy"):
            app.router.add_post(f"{prefix}/chat/completions", self.chat)
            app.router.add_get(f"{prefix}/models", self.models)
        app.router.add_get(f"{api}/v1/models/{{model_id:.+}}", self.one_model)
        app.router.add_get(f"{api}/subscription/v1/models", self.models)
        app.router.add_get(f"{api}/paid/v1/models", self.models)
        app.router.add_get(f"{api}/personalized/v1/models", self.models)
        app.router.add_get(f"{api}/models", self.legacy_models)
        app.router.add_post(f"{api}/check-balance", self.balance)
        self.batches.add_routes(app, f"{api}/v1", refuse=self._unauthorized,
                                rid=lambda request: request[K.rid])

    # faults before the answer -----------------------------------------------------------

    async def before(self, request: web.Request, fault: Fault | None
                     ) -> web.StreamResponse | None:
        """Faults that strike before the answer starts."""
        if fault is None:
            return None
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.stall is not None and fault.stall_after_chunks is None:
            await asyncio.sleep(fault.stall)
        if fault.reset:
            reset_connection(request)
            raise Aborted
        if fault.redirect_to:
            return web.Response(status=fault.redirect_status,
                                headers={"Location": fault.redirect_to})
        if fault.body is not None:
            if not fault.status or fault.status < 300:
                cast(RecordedRequest, request[K.record]).started = True
            return await self.send(request, fault, fault.status or 200, fault.body.encode(),
                                   {"Content-Type": "application/json"})
        if fault.status is not None:
            headers: dict[str, str] = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            if fault.retry_after_ms is not None:
                headers["retry-after-ms"] = str(fault.retry_after_ms)
            headers["Content-Type"] = ("text/html" if fault.error_shape == "text"
                                       else "application/json")
            return await self.send(request, fault, fault.status, error_body(
                fault.status, fault.error_shape, fault.code, fault.message), headers)
        return None

    async def send(self, request: web.Request, fault: Fault | None, status: int, body: bytes,
                   headers: dict[str, str]) -> web.StreamResponse:
        """A whole answer; with ``fault.trickle``, 16 bytes at a time."""
        headers = {"X-Request-ID": request[K.rid], **headers}
        if fault is None or not fault.trickle:
            return web.Response(status=status, body=body, headers=headers)
        resp = web.StreamResponse(status=status, headers={**headers,
                                                          "Content-Length": str(len(body))})
        await resp.prepare(request)
        for i in range(0, len(body), 16):
            await resp.write(body[i:i + 16])
            await asyncio.sleep(fault.trickle)
        return resp

    # models and balance ---------------------------------------------------------------------

    def _unauthorized(self, request: web.Request) -> web.Response | None:
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

    async def models(self, request: web.Request) -> web.Response:
        path = request.path
        if "/personalized/" in path:
            refused = self._unauthorized(request)
            if refused is not None:
                return refused
        detailed = request.query.get("detailed", "false").lower() == "true"
        models = _catalog.MODELS
        if "/subscription/" in path:
            models = [m for m in models if m["_subscription"]]
        elif "/paid/" in path:
            models = [m for m in models if not m["_subscription"]]
        data = [_catalog.public(m, detailed) for m in models]
        return web.json_response({"object": "list", "data": data},
                                 headers={"X-Request-ID": request[K.rid]})

    async def legacy_models(self, request: web.Request) -> web.Response:
        """The legacy list, ``GET /api/models``: ``{"models": [id, ...]}``."""
        return web.json_response({"models": [m["id"] for m in _catalog.MODELS]},
                                 headers={"X-Request-ID": request[K.rid]})

    async def one_model(self, request: web.Request) -> web.Response:
        """NanoGPT does not document ``GET /api/v1/models/{id}``: a JSON 404 that says where
        the model list is."""
        return json_error(request[K.rid], 404, "GET /api/v1/models/{id} is not part of the "
                          "NanoGPT API; list models with GET /api/v1/models?detailed=true",
                          code="not_found")

    async def balance(self, request: web.Request) -> web.Response:
        refused = self._unauthorized(request)
        if refused is not None:
            return refused
        return web.json_response(
            {"usd_balance": self.settings.balance, "nano_balance": "26.71801147",
             "nanoDepositAddress": "nano_1emulatorx9deposit3address7for8tests"},
            headers={"X-Request-ID": request[K.rid]})

    # chat -----------------------------------------------------------------------------------

    async def chat(self, request: web.Request) -> web.StreamResponse:
        rid = request[K.rid]
        refused = self._unauthorized(request)
        if refused is not None:
            return refused
        body: Any = request[K.json]
        try:
            model = _chat.check(body)
        except _chat.Problem as p:
            return json_error(rid, p.status, p.message, code=p.code, param=p.param)
        forced = forced_tokens(request.headers.get(TOKENS_HEADER))
        choices = body.get("n") or 1
        if forced is not None and forced * choices > MAX_FORCED_TOKENS:
            raise FaultError(f"{TOKENS_HEADER} times n must be at most {MAX_FORCED_TOKENS}")
        try:
            reply = _replies.make_reply(body, model, forced_tokens=forced)
        except SchemaTooLarge as e:
            return json_error(rid, 400, str(e), code="invalid_json_schema")
        key = _chat.reasoning_key(body, request.path.startswith("/api/v1legacy/"))
        fault = cast("Fault | None", request[K.fault])
        cast(RecordedRequest, request[K.record]).started = True  # the answer starts here
        if body.get("stream"):
            try:
                return await self._stream(request, body, model, reply, key, fault)
            except ConnectionError:  # the client went away mid-stream
                raise Aborted from None
        if fault is not None and fault.non_json:
            return web.Response(status=200, text="<html>upstream says hi</html>",
                                content_type="text/html", headers={"X-Request-ID": rid})
        data = json.dumps(_chat.completion(rid, model, reply, key)).encode()
        if fault is not None and fault.reset_after_chunks is not None:
            # a body cut off half-way: headers and part of the JSON, then a reset
            resp = web.StreamResponse(status=200, headers={
                "X-Request-ID": rid, "Content-Type": "application/json",
                "Content-Length": str(len(data))})
            await resp.prepare(request)
            await resp.write(data[: len(data) // 2])
            reset_connection(request)
            raise Aborted
        return await self.send(request, fault, 200, data, {"Content-Type": "application/json"})

    async def _stream(self, request: web.Request, body: dict[str, Any], model: dict[str, Any],
                      reply: _replies.Reply, key: str, fault: Fault | None
                      ) -> web.StreamResponse:
        rid = request[K.rid]
        framing = Framing.of(fault, self.settings.quirks)
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        chunks = _chat.chunks(rid, model, reply, key, include_usage=include_usage,
                              usage_chunk=framing.usage_chunk)
        resp = web.StreamResponse(status=200, headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Request-ID": rid})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        if framing.preamble():
            await resp.write(framing.preamble())
        for n, chunk in enumerate(chunks):
            if fault is not None and await self._strike(request, resp, fault, framing, n,
                                                        chunks[0]):
                return resp
            await resp.write(framing.chunk(chunk, n))
            if n % YIELD_EVERY == YIELD_EVERY - 1:
                # a write to a fast reader does not give the loop up: let others in
                await asyncio.sleep(0)
        if fault is None or not fault.no_done:
            await resp.write(framing.done())
        if fault is not None and fault.hold_after_done:
            until = time.monotonic() + fault.hold_after_done
            while time.monotonic() < until:
                await asyncio.sleep(0.1)
                await resp.write(framing.comment())
        return resp

    async def _strike(self, request: web.Request, resp: web.StreamResponse, fault: Fault,
                      framing: Framing, n: int, first: dict[str, Any]) -> bool:
        """The faults that act before frame ``n``; True when the stream ended here."""
        if fault.reset_after_chunks == n:
            await asyncio.sleep(0.05)  # let the client take what was sent first
            reset_connection(request)
            raise Aborted
        if fault.cut_after_chunks == n:
            assert request.transport is not None
            request.transport.close()
            raise Aborted
        if fault.stall_after_chunks == n:
            await asyncio.sleep(fault.stall if fault.stall is not None else 60.0)
        if fault.error_frame_after == n:
            err = {k: v for k, v in first.items() if k != "choices"}
            err["choices"] = [{"index": 0, "delta": {}, "finish_reason": "error"}]
            err["error"] = {"status": 500, "message": fault.message or "Upstream provider error",
                            "code": fault.code or "upstream_error"}
            await resp.write(framing.data(json.dumps(err).encode(), n))
            await resp.write(framing.done())
            return True
        if fault.garbage_after == n:
            await resp.write(framing.data(b"{\"id\": oops not json", n))
        if fault.raw_frame_after == n:
            raw = fault.raw_frame
            await resp.write(raw.encode() if isinstance(raw, str) else raw)
        return False
