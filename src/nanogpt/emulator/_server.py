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
import errno
import ipaddress
import json
import logging
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import web

from . import _catalog, _replies
from ._errors import error_body, json_error
from ._faults import FAULT_HEADER, TOKENS_HEADER, Fault, FaultError, FaultQueue, forced_tokens
from ._records import DEFAULT_KEEP, RecordedRequest, Recorder, kept_body

__all__ = ["FAULT_HEADER", "TOKENS_HEADER", "Emulator", "Fault", "RecordedRequest",
           "is_loopback", "url_host"]

_RID = web.RequestKey("rid", str)
_JSON = web.RequestKey("json", object)
_FAULT = web.RequestKey("fault", object)
_REC = web.RequestKey("record", object)

MAX_BODY_BYTES = 20 * 1024 * 1024  # a larger request body is refused with 413, unread
READ_TIMEOUT = 30.0  # seconds a client has to send a request head, or the rest of its body
_RESOURCE_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}

log = logging.getLogger("nanogpt.emulator")


def is_loopback(host: str) -> bool:
    """Whether a server bound to ``host`` can only be reached from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that may resolve to anything


def url_host(host: str) -> str:
    """``host`` as it goes in a URL a client can use: wildcards become loopback, IPv6 gets
    brackets."""
    host = _WILDCARDS.get(host.strip("[]"), host.strip("[]"))
    return f"[{host}]" if ":" in host else host


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

    It defends itself against the clients it serves (any local process can reach it): it keeps
    the last ``keep_requests`` requests (``True``: 1000; ``False``: none, counters only),
    refuses bodies over ``max_body_bytes`` with 413, closes a connection that has not sent a
    whole request head within ``read_timeout`` seconds (or the rest of a body, 408), checks
    what fault headers ask for, and logs running out of file descriptors once.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 balance: str = "129.46956147", keep_requests: int | bool = True,
                 max_body_bytes: int = MAX_BODY_BYTES,
                 read_timeout: float = READ_TIMEOUT) -> None:
        self.host = host
        self._port = port
        self.balance = balance
        if isinstance(keep_requests, bool):
            keep_requests = DEFAULT_KEEP if keep_requests else 0
        self.keep_requests = keep_requests
        self.max_body_bytes = max_body_bytes
        self.read_timeout = read_timeout
        self.resource_errors = 0  # accepts that failed for want of file descriptors or memory
        self._record = Recorder(keep_requests)
        self._faults = FaultQueue()
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
        """``http://HOST:PORT``, usable by a client: brackets around IPv6, and loopback in
        place of a wildcard (``0.0.0.0``, ``::``)."""
        return f"http://{url_host(self.host)}:{self.port}"

    @property
    def base_url(self) -> str:
        """The ``base_url`` to give a client: ``http://127.0.0.1:PORT/api/v1``."""
        return f"{self.url}/api/v1"

    @property
    def exposed(self) -> bool:
        """True when other machines may reach the server (bound to a non-loopback address)."""
        return not is_loopback(self.host)

    @property
    def exposure_warning(self) -> str | None:
        """A line to print when the server is reachable from other machines, else None."""
        if not self.exposed:
            return None
        return (f"warning: listening on {self.host}: the emulator is reachable from the "
                "network, and it accepts any key and any fault a client asks for; use "
                "--host 127.0.0.1 unless you mean it")

    def start(self) -> Emulator:
        if self._thread is not None:
            return self
        host = self.host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, self._port))
            sock.listen(512)
        except BaseException:
            sock.close()
            raise
        sock.setblocking(False)
        self._sock = sock
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(self._on_loop_error)
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

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Running out of descriptors makes asyncio log a traceback on every failed accept
        (once a second, for as long as it lasts): log it once, count the rest."""
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRNOS:
            self.resource_errors += 1
            if self.resource_errors == 1:
                log.warning("nanogpt emulator: cannot accept connections: %s (%s); new "
                            "clients wait until some close. Logged once; see "
                            "Emulator.resource_errors.", exc.strerror,
                            errno.errorcode.get(exc.errno or 0, exc.errno))
            return
        loop.default_exception_handler(context)

    async def _serve(self, sock: socket.socket) -> None:
        app = web.Application(middlewares=[self._middleware],
                              client_max_size=self.max_body_bytes)
        api = "/api"
        for prefix in (f"{api}/v1", f"{api}/v1legacy"):
            app.router.add_post(f"{prefix}/chat/completions", self._chat)
            app.router.add_get(f"{prefix}/models", self._models)
        app.router.add_get(f"{api}/subscription/v1/models", self._models)
        app.router.add_get(f"{api}/paid/v1/models", self._models)
        app.router.add_get(f"{api}/personalized/v1/models", self._models)
        app.router.add_post(f"{api}/check-balance", self._balance)
        # keepalive_timeout also closes a new connection that has not sent a whole request
        # head in that time (aiohttp arms it at connection_made), so slow heads cannot pile up
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True,
                               shutdown_timeout=0.5, keepalive_timeout=self.read_timeout)
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
        self._faults.add(fault, times, path)
        return fault

    def clear_faults(self) -> None:
        self._faults.clear()

    def reset_stats(self) -> None:
        self._record.reset()

    def count(self, path: str | None = None) -> int:
        """How many requests arrived (on routes whose path contains ``path``)."""
        return self._record.count(path)

    @property
    def requests(self) -> deque[RecordedRequest]:
        """The last ``keep_requests`` requests, oldest first."""
        return self._record.requests

    @property
    def request_count(self) -> int:
        return self._record.request_count

    @property
    def peers(self) -> set[tuple[str, int]]:
        """Client addresses seen (one per connection; at most 10,000 are remembered)."""
        return self._record.peers

    @property
    def in_flight(self) -> int:
        return self._record.in_flight

    @property
    def peak_in_flight(self) -> int:
        return self._record.peak_in_flight

    # the server -----------------------------------------------------------------------------

    def _next_rid(self) -> str:
        with self._record.lock:
            self._seq += 1
            return f"emu-{self._seq:06d}"

    async def _read_body(self, request: web.Request, rid: str
                         ) -> tuple[bytes, web.Response | None]:
        """The body, or the error answer when it is too large (413) or too slow (408)."""
        too_large = json_error(rid, 413, f"Request body is larger than {self.max_body_bytes} "
                               "bytes", code="payload_too_large")
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            too_large.force_close()  # the body stays unread: the connection cannot go on
            return b"", too_large
        try:
            return await asyncio.wait_for(request.read(), self.read_timeout), None
        except web.HTTPRequestEntityTooLarge:
            too_large.force_close()
            return b"", too_large
        except asyncio.TimeoutError:
            slow = json_error(rid, 408, "Request body not received in time",
                              code="request_timeout")
            slow.force_close()
            return b"", slow

    @web.middleware
    async def _middleware(self, request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                          ) -> web.StreamResponse:
        rid = self._next_rid()
        raw, refused = await self._read_body(request, rid)
        parsed: Any = None
        parsed_ok = False
        if raw:
            try:
                parsed, parsed_ok = json.loads(raw), True
            except ValueError:
                parsed = raw
        fault: Fault | None = None
        bad_fault: str | None = None
        if refused is None:
            try:
                fault = self._take_fault(request)
            except FaultError as e:
                bad_fault = str(e)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        record = RecordedRequest(
            request.method, request.path_qs, request.host,
            {k.lower(): v for k, v in request.headers.items()}, kept_body(raw, parsed, parsed_ok),
            fault, tuple(peer[:2]) if peer else None, body_size=len(raw) or
            (request.content_length or 0))
        resource = request.match_info.route.resource
        self._record.add(record, resource.canonical if resource is not None else "(unrouted)")
        del raw  # only the record's bounded copy outlives the request
        request[_RID] = rid
        request[_REC] = record
        request[_JSON] = parsed
        request[_FAULT] = fault
        try:
            if refused is not None:
                return refused
            if bad_fault is not None:
                return json_error(rid, 400, bad_fault, code="invalid_emulator_fault")
            early = await self._before(request, fault)
            resp = early if early is not None else await handler(request)
            if not resp.prepared:
                resp.headers.setdefault("X-Request-ID", rid)
            return resp
        except FaultError as e:
            return json_error(rid, 400, str(e), code="invalid_emulator_fault")
        except _Aborted:
            return web.Response(status=499)
        finally:
            self._record.done()

    def _take_fault(self, request: web.Request) -> Fault | None:
        header = request.headers.get(FAULT_HEADER)
        if header:
            return Fault.from_header(header)
        return self._faults.take(request.path_qs)

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
            return await self._send(request, fault, fault.status, error_body(
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
        return json_error(request[_RID], status, message, code=code, param=param)

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
        reply = _replies.make_reply(
            body, model, forced_tokens=forced_tokens(request.headers.get(TOKENS_HEADER)))
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
