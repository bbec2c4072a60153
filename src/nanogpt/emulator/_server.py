"""``Emulator``: the server's lifecycle and the face tests use.

It runs an aiohttp server on its own event loop in a background thread, so both blocking and
asyncio code can talk to it over real sockets. This module owns that lifecycle (socket, thread,
loop, start and stop) and the public face (options, ``inject``, counters, the request record);
what happens to a connection is in ``_connections``, to a request before its handler in
``_pipeline``, and which handler answers which path in ``_routes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections import deque
from typing import Any, overload

from aiohttp import web

from ._batches import BatchStore
from ._charges import Ledger
from ._connections import ConnectionGuard
from ._encodings import DEFAULT_ENCODINGS
from ._faults import Fault, FaultQueue
from ._login import LoginStore
from ._pipeline import Pipeline
from ._records import DEFAULT_KEEP, RecordedRequest, Recorder
from ._routes import Site, add_routes
from ._usage import SubscriptionPlan

__all__ = ["Emulator", "is_loopback", "url_host"]

MAX_BODY_BYTES = 20 * 1024 * 1024  # a larger request body is refused with 413, unread
READ_TIMEOUT = 30.0  # seconds a client has to send a request head, or the rest of its body
DEFAULT_PLAN = SubscriptionPlan()  # an active subscription, nothing used yet
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


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


class _Count:
    """A counter one part of the emulator keeps (its recorder, its connection guard), read
    as an attribute of the emulator: ``emu.in_flight``."""

    def __init__(self, part: str, doc: str) -> None:
        self.part = part
        self.__doc__ = doc[0].upper() + doc[1:] + "."
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, emu: None, owner: type) -> _Count: ...
    @overload
    def __get__(self, emu: object, owner: type | None = None) -> int: ...

    def __get__(self, emu: object, owner: type | None = None) -> int | _Count:
        if emu is None:  # looked up on the class (help(), a docs tool): the descriptor
            return self
        return int(getattr(getattr(emu, self.part), self.name))


class Emulator:
    """A NanoGPT-speaking HTTP server on loopback.

    >>> with Emulator() as emu:
    ...     client = NanoGPT(api_key="sk-nano-test", base_url=emu.base_url)

    It defends itself against the clients it serves (any local process can reach it): it keeps
    the last ``keep_requests`` requests (``True``: 1000; ``False``: none, counters only),
    refuses bodies over ``max_body_bytes`` with 413 (coded or decoded: it decodes the gzip and
    deflate chat bodies ``request_encodings`` lists, and answers 415 to others), closes a
    connection that has not sent a whole request head within ``read_timeout`` seconds (or the
    rest of a body, 408), checks what fault headers ask for, and logs running out of file
    descriptors once, and requests it cannot parse once (``resource_errors``, ``bad_requests``
    count them all).

    ``subscription`` is what the subscription usage endpoint answers: a ``SubscriptionPlan``
    (limits and earlier use; chat on subscription models adds its input tokens), or None for a
    key without a subscription. Like ``balance``, it may be changed while the server runs.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 balance: str = "129.46956147", keep_requests: int | bool = True,
                 max_body_bytes: int = MAX_BODY_BYTES,
                 read_timeout: float = READ_TIMEOUT, quirks: bool = False,
                 subscription: SubscriptionPlan | None = DEFAULT_PLAN) -> None:
        self.host = host
        # what GET /api/subscription/v1/usage answers (None: a key without a subscription)
        self.subscription = subscription
        self.quirks = quirks  # stream quirks on every stream (see _framing), not only on faults
        self._port = port
        self.balance = balance
        if isinstance(keep_requests, bool):
            keep_requests = DEFAULT_KEEP if keep_requests else 0
        self.keep_requests = keep_requests
        self.max_body_bytes = max_body_bytes
        # the codings a request body may come in (see _encodings); a test empties it to have
        # every compressed body refused with 415 (a fault, so clear_faults restores it)
        self.request_encodings: frozenset[str] = DEFAULT_ENCODINGS
        self.read_timeout = read_timeout
        self._record = Recorder(keep_requests)
        self._faults = FaultQueue()
        self._guard = ConnectionGuard(read_timeout, self._record.next_rid)
        self._site = Site(self)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.AbstractServer | None = None
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
        loop.set_exception_handler(self._guard.on_loop_error)
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
        pipeline = Pipeline(self, self._record, self._faults, self._guard)
        app = web.Application(middlewares=[pipeline.middleware],
                              client_max_size=self.max_body_bytes)
        add_routes(app, self._site)
        # keepalive_timeout closes a kept-alive connection whose next request head does not
        # come in time; the guard does the same for a new connection's first request head
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True,
                               shutdown_timeout=0.5, keepalive_timeout=self.read_timeout,
                               auto_decompress=False)  # _encodings decodes, bounded
        await runner.setup()
        assert runner.server is not None
        self._runner = runner
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(self._guard.guarded(runner.server), sock=sock)

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
        self._guard.clear()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def batches(self) -> BatchStore:
        """The Batch API's files and batches; ``batches.step`` is the seconds per phase,
        ``batches.expire_next()`` makes the next batch expire (see ``_batches``)."""
        return self._site.batches

    @property
    def ledger(self) -> Ledger:
        """What this emulator charged, one ``Charge`` per billed call (see ``_charges``)."""
        return self._site.ledger

    @property
    def logins(self) -> LoginStore:
        """The browser logins (device flow): ``logins.pending()`` lists the codes waiting,
        ``approve(code)``, ``expire(code)`` and ``consume(code)`` settle one; ``interval`` and
        ``expires_in`` are what a start answer says (see ``_login``)."""
        return self._site.logins

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
        self.request_encodings = DEFAULT_ENCODINGS

    def reset_stats(self) -> None:
        """Forget the requests recorded, the counters and the ledger's charges."""
        self._record.reset()
        self._site.ledger.clear()

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
    def peers(self) -> set[tuple[str, int]]:
        """Client addresses seen (one per connection; at most 10,000 are remembered): a
        copy, like ``requests``."""
        with self._record.lock:
            return set(self._record.peers)

    resource_errors = _Count("_guard", "accepts that failed for want of file descriptors or "
                             "memory (logged once)")
    bad_requests = _Count("_guard", "requests too malformed to parse (answered 400 in JSON, "
                          "logged once)")
    request_count = _Count("_record", "requests that arrived since the last reset_stats()")
    in_flight = _Count("_record", "requests being answered now")
    peak_in_flight = _Count("_record", "the most requests answered at once since the last "
                            "reset_stats()")
