"""The emulator: a real HTTP/1.1 server on loopback that speaks NanoGPT's wire format.

It runs an aiohttp server on its own event loop in a background thread, so both blocking and
asyncio code can talk to it over real sockets. This module owns that lifecycle and the
middleware every request passes: it bounds the request (body size, read time), records it
(``_records``), picks its fault (queued from Python with ``emu.inject(Fault(...))``, or sent by
the client in an ``X-Emulator-Fault`` header, see ``_faults``), and turns any error, including
unknown paths, wrong methods and requests too malformed to parse (a ``RequestHandler``
subclass), into a JSON answer with an ``X-Request-ID``. The endpoints are
in ``_handlers``; streams use NanoGPT's documented format unless ``quirks=True`` (``_framing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import json
import logging
import socket
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from ._batches import BatchStore
from ._errors import REASONS, json_error
from ._faults import FAULT_HEADER, TOKENS_HEADER, Fault, FaultError, FaultQueue
from ._handlers import Aborted, Handlers
from ._handlers import RequestKeys as K
from ._records import DEFAULT_KEEP, RecordedRequest, Recorder, kept_body

__all__ = ["FAULT_HEADER", "TOKENS_HEADER", "Emulator", "Fault", "RecordedRequest",
           "is_loopback", "url_host"]

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


class Emulator:
    """A NanoGPT-speaking HTTP server on loopback.

    >>> with Emulator() as emu:
    ...     client = NanoGPT(api_key="sk-nano-test", base_url=emu.base_url)

    It defends itself against the clients it serves (any local process can reach it): it keeps
    the last ``keep_requests`` requests (``True``: 1000; ``False``: none, counters only),
    refuses bodies over ``max_body_bytes`` with 413, closes a connection that has not sent a
    whole request head within ``read_timeout`` seconds (or the rest of a body, 408), checks
    what fault headers ask for, and logs running out of file descriptors once, and requests it
    cannot parse once (``resource_errors``, ``bad_requests`` count them all).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 balance: str = "129.46956147", keep_requests: int | bool = True,
                 max_body_bytes: int = MAX_BODY_BYTES,
                 read_timeout: float = READ_TIMEOUT, quirks: bool = False) -> None:
        self.host = host
        self.quirks = quirks  # stream quirks on every stream (see _framing), not only on faults
        self._port = port
        self.balance = balance
        if isinstance(keep_requests, bool):
            keep_requests = DEFAULT_KEEP if keep_requests else 0
        self.keep_requests = keep_requests
        self.max_body_bytes = max_body_bytes
        self.read_timeout = read_timeout
        self.resource_errors = 0  # accepts that failed for want of file descriptors or memory
        self.bad_requests = 0  # requests too malformed to parse (answered 400, logged once)
        self._record = Recorder(keep_requests)
        self._faults = FaultQueue()
        self._handlers = Handlers(self)
        self._seq = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.AbstractServer | None = None
        self._silent: set[asyncio.Protocol] = set()  # connections yet to send a request head
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
        self._handlers.add_routes(app)
        # keepalive_timeout closes a kept-alive connection whose next request head does not
        # come in time; _guarded does the same for a new connection's first request head
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True,
                               shutdown_timeout=0.5, keepalive_timeout=self.read_timeout)
        await runner.setup()
        assert runner.server is not None
        self._runner = runner
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(self._guarded(runner.server), sock=sock)

    def _guarded(self, make: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """aiohttp's protocol factory, plus a guard: a connection whose first request head
        is not complete after ``read_timeout`` is closed, so that half-sent requests cannot
        pile up and take every file descriptor (aiohttp closes such connections only from
        3.14 on)."""
        loop = asyncio.get_running_loop()
        unparsable = self._unparsable

        class Handler(RequestHandler):
            """aiohttp answers a request it cannot parse (a header line over 8 KiB, too many
            headers, bad framing) from ``handle_error``, before any middleware: in
            text/plain, with a traceback logged for each one. Answer in JSON with a request
            id instead, and log once."""

            __slots__ = ()

            def handle_error(self, request: web.BaseRequest, status: int = 500,
                             exc: BaseException | None = None,
                             message: str | None = None) -> web.StreamResponse:
                return unparsable(self, request, status, exc, message)

        def factory() -> asyncio.Protocol:
            protocol = make()
            if type(protocol) is RequestHandler:  # same layout: only the method differs
                protocol.__class__ = Handler
            self._silent.add(protocol)
            loop.call_later(self.read_timeout, self._drop_if_silent, protocol)
            return protocol

        return factory

    def _unparsable(self, protocol: asyncio.Protocol, request: web.BaseRequest,
                    status: int = 500, exc: BaseException | None = None,
                    message: str | None = None) -> web.StreamResponse:
        """aiohttp's ``RequestHandler.handle_error``, for one connection: the JSON error the
        other answers use, and a log line for the first such request only (any local client
        can send thousands)."""
        self._silent.discard(protocol)
        self.bad_requests += 1
        if self.bad_requests == 1:
            log.warning("nanogpt emulator: answered %s to a request it could not read (%s). "
                        "Logged once; see Emulator.bad_requests.", status,
                        type(exc).__name__ if exc is not None else message)
        if request.writer.output_size > 0:  # the answer had started: nothing more to say
            raise ConnectionError("the answer had started")
        reason = REASONS.get(status, "Bad request")
        detail = getattr(exc, "message", None) if exc is not None else message
        text = f"{reason}: {str(detail).strip()[:200]}" if detail else reason
        resp = json_error(self._next_rid(), status, text, code="bad_request"
                          if status < 500 else "emulator_error")
        resp.force_close()
        return resp

    def _drop_if_silent(self, protocol: asyncio.Protocol) -> None:
        if protocol in self._silent:
            self._silent.discard(protocol)
            transport = getattr(protocol, "transport", None)
            if transport is not None and not transport.is_closing():
                transport.close()

    async def _shutdown(self) -> None:
        if self._listener is not None:
            self._listener.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):  # best effort on shutdown
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        if self._sock is not None:
            self._sock.close()
        self._loop = self._thread = self._runner = self._listener = None
        self._sock = None
        self._silent.clear()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def batches(self) -> BatchStore:
        """The Batch API's files and batches; ``batches.step`` is the seconds per phase,
        ``batches.expire_next()`` makes the next batch expire (see ``_batches``)."""
        return self._handlers.batches

    # faults and counters --------------------------------------------------------------------

    def inject(self, fault: Fault | None = None, *, times: int | None = 1,
               path: str | None = None, stream: bool | None = None, **fields: Any) -> Fault:
        """Queue a fault for the next ``times`` requests (``None``: all) whose path contains
        ``path``. Fields may be given as keywords: ``emu.inject(status=429, retry_after=0)``.

        A fault hits the next matching request of any kind: a mid-stream fault such as
        ``reset_after_chunks`` also cuts a whole-body chat answer half-way. ``stream=True``
        keeps it for streamed chat requests (``stream=False``: whole-body chat requests);
        other requests pass it by."""
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)
                                  or times < 1):
            # times=0 used to hit the next request anyway (the count only ran down after it)
            raise ValueError(f"times must be a positive whole number or None, not {times!r}")
        fault = fault if fault is not None else Fault(**fields)
        self._faults.add(fault, times, path, stream)
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
        """The last ``keep_requests`` requests, oldest first: a copy, so that a test may
        iterate it while other requests arrive (the live one changes under the iteration)."""
        with self._record.lock:
            live = self._record.requests
            return deque(live, maxlen=live.maxlen)

    @property
    def request_count(self) -> int:
        return self._record.request_count

    @property
    def peers(self) -> set[tuple[str, int]]:
        """Client addresses seen (one per connection; at most 10,000 are remembered): a
        copy, like ``requests``."""
        with self._record.lock:
            return set(self._record.peers)

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
        self._silent.discard(request.protocol)  # a whole request head arrived
        rid = self._next_rid()
        raw, refused = await self._read_body(request, rid)
        parsed: Any = None
        parsed_ok = False
        if raw:
            try:
                parsed, parsed_ok = json.loads(raw), True
            except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
                parsed = raw
        fault: Fault | None = None
        bad_fault: str | None = None
        if refused is None:
            try:
                fault = self._take_fault(request, parsed)
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
        request[K.rid] = rid
        request[K.record] = record
        request[K.json] = parsed
        request[K.fault] = fault
        try:
            if refused is not None:
                return refused
            if bad_fault is not None:
                return json_error(rid, 400, bad_fault, code="invalid_emulator_fault")
            early = await self._handlers.before(request, fault)
            resp = early if early is not None else await handler(request)
            if not resp.prepared:
                resp.headers.setdefault("X-Request-ID", rid)
            return resp
        except web.HTTPException as e:  # unknown path, wrong method: JSON like the rest
            return self._http_error(rid, request, e)
        except FaultError as e:
            return json_error(rid, 400, str(e), code="invalid_emulator_fault")
        except (Aborted, ConnectionError):  # reset on purpose, or the client went away
            return web.Response(status=499)
        except Exception:  # a bug here, or a request nobody foresaw: still JSON, and logged
            log.exception("nanogpt emulator: error answering %s %s", request.method,
                          request.path)
            return json_error(rid, 500, "The emulator failed to answer this request",
                              code="emulator_error")
        finally:
            self._record.done()

    @staticmethod
    def _http_error(rid: str, request: web.Request, e: web.HTTPException) -> web.Response:
        if e.status < 400:
            raise e
        headers = {"Allow": e.headers["Allow"]} if "Allow" in e.headers else None
        message = (f"{REASONS.get(e.status, e.reason)}: {request.method} {request.path}"
                   if e.status in (404, 405) else e.reason)
        return json_error(rid, e.status, message, headers=headers)

    def _take_fault(self, request: web.Request, body: Any) -> Fault | None:
        header = request.headers.get(FAULT_HEADER)
        if header:
            return Fault.from_header(header)
        stream = None
        if request.path.endswith("/chat/completions"):
            stream = isinstance(body, dict) and body.get("stream") is True
        return self._faults.take(request.path_qs, stream)
