"""The emulator: a real HTTP/1.1 server on loopback that speaks NanoGPT's wire format.

It runs an aiohttp server on its own event loop in a background thread, so both blocking and
asyncio code can talk to it over real sockets. Streams go out chunked, frame by frame, like the
real service, with its quirks (a ``: keep-alive`` comment and a ``retry:`` line up front, usage
on a last chunk whose ``choices`` is empty).

Faults are chosen per request, either queued from Python (``emu.inject(Fault(...))``) or sent
by the client in an ``X-Emulator-Fault`` header holding the fault as JSON. Counters record every
request and the peak number in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from aiohttp import web

from . import _catalog, _replies

__all__ = ["Emulator", "Fault", "RecordedRequest"]

FAULT_HEADER = "X-Emulator-Fault"
_RID = web.RequestKey("rid", str)
_JSON = web.RequestKey("json", object)
_FAULT = web.RequestKey("fault", object)
_REC = web.RequestKey("record", object)
TOKENS_HEADER = "X-Emulator-Tokens"

_REASONS = {400: "Bad request", 401: "Invalid or missing API key", 402: "Insufficient balance",
            403: "Forbidden", 404: "Not found", 408: "Request timeout", 409: "Conflict",
            413: "Payload too large", 429: "Rate limit exceeded", 500: "Internal server error",
            502: "Bad gateway", 503: "Service unavailable", 504: "Gateway timeout"}
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota",
          403: "permission_error", 404: "not_found_error", 429: "rate_limit_error"}


@dataclass
class Fault:
    """What to do wrong with a request. Leave a field at its default to behave normally."""

    status: int | None = None  # answer with this status and an error body
    retry_after: float | str | None = None  # Retry-After header (seconds or an HTTP date)
    retry_after_ms: int | None = None  # retry-after-ms header
    error_shape: str = "openai"  # openai | legacy | flat | anthropic | text
    code: str | None = None  # error code in the body
    message: str | None = None  # error message in the body
    delay: float = 0.0  # seconds to wait before answering (normally or with the fault)
    stall: float | None = None  # go silent this long before any answer byte
    reset: bool = False  # reset the connection before any answer byte
    non_json: bool = False  # 200 with a body that is not JSON (non-streaming)
    body: str | None = None  # answer with exactly this body (status `status` or 200)
    reset_after_chunks: int | None = None  # stream N frames, then reset the connection (RST)
    cut_after_chunks: int | None = None  # stream N frames, then close the connection (FIN)
    stall_after_chunks: int | None = None  # stream N frames, then go silent for `stall` (or 60s)
    error_frame_after: int | None = None  # stream N frames, then an error frame and [DONE]
    garbage_after: int | None = None  # stream N frames, then a frame that is not JSON
    raw_frame_after: int | None = None  # stream N frames, then the bytes of `raw_frame`
    raw_frame: str | bytes = ""
    hold_after_done: float | None = None  # keep the body open this long after [DONE]
    # (sending a ": keep-alive" comment every 0.1 s meanwhile)
    trickle: float | None = None  # send a whole-body answer 16 bytes at a time, this apart
    no_done: bool = False  # end the stream body without [DONE]
    crlf: bool = False  # end stream lines with CRLF
    redirect_to: str | None = None  # answer with a redirect to this URL
    redirect_status: int = 307

    @classmethod
    def from_json(cls, text: str) -> Fault:
        data = json.loads(text)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class _Rule:
    fault: Fault
    remaining: int | None
    path: str | None


@dataclass
class RecordedRequest:
    method: str
    path: str
    host: str
    headers: dict[str, str]
    body: Any
    fault: Fault | None
    peer: tuple[str, int] | None = None  # the client's address: one per connection
    started: bool = False  # a 2xx answer began: from here on, a re-send could be billed twice
    at: float = field(default_factory=time.monotonic)

    @property
    def api_key(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip() or None
        return self.headers.get("x-api-key") or None


def _error_body(status: int, shape: str, code: str | None, message: str | None) -> bytes:
    msg = message or _REASONS.get(status, f"HTTP {status}")
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
        body = {"type": "error", "error": {"type": _TYPES.get(status, "api_error"),
                                           "message": msg}}
    else:
        body = {"error": {"message": msg, "type": _TYPES.get(status, "api_error"),
                          "code": code, "param": None}}
    return json.dumps(body).encode()


def _reset(request: web.Request) -> None:
    """Close the connection with a TCP reset (SO_LINGER 0), like a dying proxy."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class _Aborted(Exception):
    """Raised inside a handler after the connection was reset on purpose."""


class Emulator:
    """A NanoGPT-speaking HTTP server on loopback.

    >>> with Emulator() as emu:
    ...     client = NanoGPT(api_key="sk-nano-test", base_url=emu.base_url)
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 balance: str = "129.46956147", keep_requests: bool = True) -> None:
        self.host = host
        self._port = port
        self.balance = balance
        self.keep_requests = keep_requests  # False for long runs: counters only
        self.requests: list[RecordedRequest] = []
        self.request_count = 0
        self.peers: set[tuple[str, int]] = set()  # one per client connection seen
        self.in_flight = 0
        self.peak_in_flight = 0
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._seq = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._sock: socket.socket | None = None

    # lifecycle ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._sock is None:
            raise RuntimeError("the emulator is not running")
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The ``base_url`` to give a client: ``http://127.0.0.1:PORT/api/v1``."""
        return f"{self.url}/api/v1"

    def start(self) -> Emulator:
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._port))
        sock.listen(512)
        sock.setblocking(False)
        self._sock = sock
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="nanogpt-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        asyncio.run_coroutine_threadsafe(self._serve(sock), loop).result(10)
        return self

    async def _serve(self, sock: socket.socket) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        api = "/api"
        for prefix in (f"{api}/v1", f"{api}/v1legacy"):
            app.router.add_post(f"{prefix}/chat/completions", self._chat)
            app.router.add_get(f"{prefix}/models", self._models)
        app.router.add_get(f"{api}/subscription/v1/models", self._models)
        app.router.add_get(f"{api}/paid/v1/models", self._models)
        app.router.add_get(f"{api}/personalized/v1/models", self._models)
        app.router.add_post(f"{api}/check-balance", self._balance)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True,
                               shutdown_timeout=0.5)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._runner is not None:
            with contextlib.suppress(Exception):  # best effort on shutdown
                asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        if self._sock is not None:
            self._sock.close()
        self._loop = self._thread = self._runner = None
        self._sock = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # faults and counters --------------------------------------------------------------------

    def inject(self, fault: Fault | None = None, *, times: int | None = 1,
               path: str | None = None, **fields: Any) -> Fault:
        """Queue a fault for the next ``times`` requests (``None``: all) whose path contains
        ``path``. Fields may be given as keywords: ``emu.inject(status=429, retry_after=0)``."""
        fault = fault if fault is not None else Fault(**fields)
        with self._lock:
            self._rules.append(_Rule(fault, times, path))
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    def reset_stats(self) -> None:
        with self._lock:
            self.requests.clear()
            self.request_count = 0
            self.peers.clear()
            self.peak_in_flight = self.in_flight

    def count(self, path: str | None = None) -> int:
        """How many requests arrived (whose path contains ``path``)."""
        if path is None and not self.keep_requests:
            return self.request_count
        with self._lock:
            return sum(1 for r in self.requests if path is None or path in r.path)

    def _take_fault(self, request: web.Request) -> Fault | None:
        header = request.headers.get(FAULT_HEADER)
        if header:
            return Fault.from_json(header)
        with self._lock:
            for rule in self._rules:
                if rule.path is None or rule.path in request.path_qs:
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                    return rule.fault
        return None

    # the server -----------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                          ) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        fault = self._take_fault(request)
        with self._lock:
            self._seq += 1
            rid = f"emu-{self._seq:06d}"
            peer = request.transport.get_extra_info("peername") if request.transport else None
            record = RecordedRequest(
                request.method, request.path_qs, request.host,
                {k.lower(): v for k, v in request.headers.items()}, body, fault,
                tuple(peer[:2]) if peer else None)
            self.request_count += 1
            if record.peer is not None:
                self.peers.add(record.peer)
            if self.keep_requests:
                self.requests.append(record)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        request[_RID] = rid
        request[_REC] = record
        request[_JSON] = body
        request[_FAULT] = fault
        try:
            early = await self._before(request, fault)
            resp = early if early is not None else await handler(request)
            if not resp.prepared:
                resp.headers.setdefault("X-Request-ID", rid)
            return resp
        except _Aborted:
            return web.Response(status=499)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _before(self, request: web.Request, fault: Fault | None
                      ) -> web.StreamResponse | None:
        """Faults that strike before the answer starts."""
        if fault is None:
            return None
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.stall is not None and fault.stall_after_chunks is None:
            await asyncio.sleep(fault.stall)
        if fault.reset:
            _reset(request)
            raise _Aborted
        if fault.redirect_to:
            return web.Response(status=fault.redirect_status,
                                headers={"Location": fault.redirect_to})
        if fault.body is not None:
            if not fault.status or fault.status < 300:
                cast(RecordedRequest, request[_REC]).started = True
            return await self._send(request, fault, fault.status or 200, fault.body.encode(),
                                    {"Content-Type": "application/json"})
        if fault.status is not None:
            headers = {"X-Request-ID": request[_RID]}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            if fault.retry_after_ms is not None:
                headers["retry-after-ms"] = str(fault.retry_after_ms)
            headers["Content-Type"] = ("text/html" if fault.error_shape == "text"
                                       else "application/json")
            return await self._send(request, fault, fault.status, _error_body(
                fault.status, fault.error_shape, fault.code, fault.message), headers)
        return None

    async def _send(self, request: web.Request, fault: Fault | None, status: int, body: bytes,
                    headers: dict[str, str]) -> web.StreamResponse:
        """A whole answer; with ``fault.trickle``, 16 bytes at a time."""
        headers = {"X-Request-ID": request[_RID], **headers}
        if fault is None or not fault.trickle:
            return web.Response(status=status, body=body, headers=headers)
        resp = web.StreamResponse(status=status, headers={**headers,
                                                          "Content-Length": str(len(body))})
        await resp.prepare(request)
        for i in range(0, len(body), 16):
            await resp.write(body[i:i + 16])
            await asyncio.sleep(fault.trickle)
        return resp

    @staticmethod
    def _key(request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            key = auth[7:].strip()
            if key:
                return key
        return request.headers.get("x-api-key", "").strip() or None

    def _error(self, request: web.Request, status: int, message: str, *,
               code: str | None = None, param: str | None = None) -> web.Response:
        body = {"error": {"message": message, "type": _TYPES.get(status, "api_error"),
                          "code": code, "param": param}}
        return web.json_response(body, status=status, headers={"X-Request-ID": request[_RID]})

    def _unauthorized(self, request: web.Request) -> web.Response:
        return self._error(request, 401, "Invalid or missing API key. Pass it as "
                                         "'Authorization: Bearer <key>'.",
                           code="invalid_api_key")

    async def _models(self, request: web.Request) -> web.Response:
        path = request.path
        if "/personalized/" in path and self._key(request) is None:
            return self._unauthorized(request)
        detailed = request.query.get("detailed", "false").lower() == "true"
        models = _catalog.MODELS
        if "/subscription/" in path:
            models = [m for m in models if m["_subscription"]]
        elif "/paid/" in path:
            models = [m for m in models if not m["_subscription"]]
        data = [_catalog.public(m, detailed) for m in models]
        return web.json_response({"object": "list", "data": data},
                                 headers={"X-Request-ID": request[_RID]})

    async def _balance(self, request: web.Request) -> web.Response:
        if self._key(request) is None:
            return self._unauthorized(request)
        return web.json_response(
            {"usd_balance": self.balance, "nano_balance": "26.71801147",
             "nanoDepositAddress": "nano_1emulatorx9deposit3address7for8tests"},
            headers={"X-Request-ID": request[_RID]})

    def _check(self, request: web.Request, body: Any) -> web.Response | None:
        """The server-side checks NanoGPT makes before reaching a model."""
        if not isinstance(body, dict):
            return self._error(request, 400, "Request body must be a JSON object")
        if not isinstance(body.get("model"), str) or not body["model"]:
            return self._error(request, 400, "model is required", param="model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._error(request, 400, "messages must be a non-empty array",
                               param="messages")
        ranges = {"temperature": (0, 2), "top_p": (0, 1), "min_p": (0, 1),
                  "frequency_penalty": (-2, 2), "presence_penalty": (-2, 2)}
        for name, (lo, hi) in ranges.items():
            v = body.get(name)
            if v is not None and (not isinstance(v, (int, float)) or not lo <= v <= hi):
                return self._error(request, 400, f"{name} must be between {lo} and {hi}",
                                   param=name)
        if _catalog.lookup(body["model"]) is None:
            return self._error(request, 404, f"Model {body['model']!r} not found",
                               code="model_not_found", param="model")
        return None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if self._key(request) is None:
            return self._unauthorized(request)
        body: Any = request[_JSON]
        problem = self._check(request, body)
        if problem is not None:
            return problem
        model = _catalog.lookup(body["model"])
        assert model is not None
        forced = request.headers.get(TOKENS_HEADER)
        reply = _replies.make_reply(body, model,
                                    forced_tokens=int(forced) if forced else None)
        legacy = request.path.startswith("/api/v1legacy/")
        fault = cast("Fault | None", request[_FAULT])
        cast(RecordedRequest, request[_REC]).started = True  # the answer starts here
        if body.get("stream"):
            try:
                return await self._stream(request, body, model, reply, fault, legacy)
            except ConnectionError:  # the client went away mid-stream
                raise _Aborted from None
        if fault is not None and fault.non_json:
            return web.Response(status=200, text="<html>upstream says hi</html>",
                                content_type="text/html",
                                headers={"X-Request-ID": request[_RID]})
        reasoning_key = "reasoning_content" if legacy else "reasoning"
        message: dict[str, Any] = {"role": "assistant", "content": "".join(reply.content)}
        if reply.reasoning:
            message[reasoning_key] = "".join(reply.reasoning)
        if reply.tool_name:
            message["content"] = None
            message["tool_calls"] = [{"id": "call_emu_0", "type": "function", "function": {
                "name": reply.tool_name, "arguments": "".join(reply.tool_args)}}]
        payload = {
            "id": f"chatcmpl-{request[_RID]}", "object": "chat.completion",
            "created": 1767225600, "model": model["id"],
            "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason,
                         "logprobs": None}],
            "usage": _replies.usage(reply),
            "x_nanogpt_pricing": _replies.price(reply, model),
            "provider": "nanogpt-emulator",  # a field the typed objects do not declare
        }
        data = json.dumps(payload).encode()
        if fault is not None and fault.reset_after_chunks is not None:
            # a body cut off half-way: headers and part of the JSON, then a reset
            resp = web.StreamResponse(status=200, headers={"X-Request-ID": request[_RID],
                                                           "Content-Type": "application/json",
                                                           "Content-Length": str(len(data))})
            await resp.prepare(request)
            await resp.write(data[: len(data) // 2])
            _reset(request)
            raise _Aborted
        return await self._send(request, fault, 200, data, {"Content-Type": "application/json"})

    async def _stream(self, request: web.Request, body: dict[str, Any], model: dict[str, Any],
                      reply: _replies.Reply, fault: Fault | None,
                      legacy: bool) -> web.StreamResponse:
        rid = request[_RID]
        resp = web.StreamResponse(status=200, headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Request-ID": rid})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        eol = b"\r\n" if fault is not None and fault.crlf else b"\n"
        base = {"id": f"chatcmpl-{rid}", "object": "chat.completion.chunk",
                "created": 1767225600, "model": model["id"], "provider": "nanogpt-emulator"}
        reasoning_key = "reasoning_content" if legacy else "reasoning"

        def frame(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            obj = dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": finish}],
                       **extra)
            return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + eol + eol

        frames: list[bytes] = [frame({"role": "assistant", "content": ""})]
        frames += [frame({reasoning_key: r}) for r in reply.reasoning]
        if reply.tool_name:
            frames.append(frame({"tool_calls": [{"index": 0, "id": "call_emu_0",
                                                 "type": "function", "function": {
                                                     "name": reply.tool_name,
                                                     "arguments": ""}}]}))
            frames += [frame({"tool_calls": [{"index": 0, "function": {"arguments": a}}]})
                       for a in reply.tool_args]
        frames += [frame({"content": c}) for c in reply.content]
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        pricing = _replies.price(reply, model)
        if include_usage:
            frames.append(frame({}, reply.finish_reason))
            last = dict(base, choices=[], usage=_replies.usage(reply), x_nanogpt_pricing=pricing)
            frames.append(b"data: " + json.dumps(last).encode() + eol + eol)
        else:
            frames.append(frame({}, reply.finish_reason, x_nanogpt_pricing=pricing))

        # quirks of the real service: a comment and a retry line before the first frame
        await resp.write(b": keep-alive" + eol + eol + b"retry: 3000" + eol + eol)
        for n, data in enumerate(frames):
            if fault is not None:
                if fault.reset_after_chunks == n:
                    await asyncio.sleep(0.05)  # let the client take what was sent first
                    _reset(request)
                    raise _Aborted
                if fault.cut_after_chunks == n:
                    assert request.transport is not None
                    request.transport.close()
                    raise _Aborted
                if fault.stall_after_chunks == n:
                    await asyncio.sleep(fault.stall if fault.stall is not None else 60.0)
                if fault.error_frame_after == n:
                    err = dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "error"}],
                               error={"status": 500, "message": fault.message or
                                      "Upstream provider error", "code": fault.code or
                                      "upstream_error"})
                    await resp.write(b"data: " + json.dumps(err).encode() + eol + eol)
                    await resp.write(b"data: [DONE]" + eol + eol)
                    return resp
                if fault.garbage_after == n:
                    await resp.write(b"data: {\"id\": oops not json" + eol + eol)
                if fault.raw_frame_after == n:
                    raw = fault.raw_frame
                    await resp.write(raw.encode() if isinstance(raw, str) else raw)
            await resp.write(data)
        if fault is None or not fault.no_done:
            await resp.write(b"data: [DONE]" + eol + eol)
        if fault is not None and fault.hold_after_done:
            until = time.monotonic() + fault.hold_after_done
            while time.monotonic() < until:
                await asyncio.sleep(0.1)
                await resp.write(b": keep-alive" + eol + eol)
        return resp
