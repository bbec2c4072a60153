"""The blocking transport: keep-alive HTTP/1.1 connections on the standard library's http.client.

Chosen by measurement on loopback (benchmarks/): per non-streamed request http.client spends
about 115 us of CPU where urllib3 spends about 275 us, and per streamed chunk about 1.6 us
where urllib3's ``read1`` spends about 5.2 us. Owning the connection also tells us exactly
whether a request left: ``connect()`` is called on its own, so a failure there is "not sent".

Thread-safe: a connection is used by one thread at a time and returned to the idle list only
when its final response was read to the end. Interim answers (``102 Processing``, ``103 Early
Hints``, however many) are skipped, so the answer read is always the one to this request.

A request whose body could not be sent (a proxy refused it with 413 and closed before reading
it) still reports the server's answer when one is already waiting on the socket.

Deadlines (computed by ``nanogpt._core.deadlines``, handed over by the client) are enforced by
one watchdog thread that shuts a socket down when its deadline passes, so a server that trickles
bytes cannot stretch them. A deadline is armed in ``ConnectionPool.request`` (or replaced by
``Response.rearm``/``drain``) and ends in ``Response._switch_deadline``, called by
``release`` and the phase changes; the request's own failure path is the only other exit.

Fork: a pool belongs to the process that made it (``generation``); a forked child gets a new one
from the client, and the deadline watchdog starts over in the child (its thread is the parent's).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Mapping
from urllib.parse import urlsplit

from .._core.proxies import Proxy, tunnel_refused
from .._core.transport import TransportFailure
from .._slots import fork_generation
from .._sockets import readable

__all__ = ["ConnectionPool", "Response"]

Origin = tuple[str, str, int, str]  # scheme, host, port, and the proxy's key ("" for none)
# what http.client and its socket raise when a connection fails, sending or reading
# (ValueError: a TLS socket closed under a reader)
CONNECTION_ERRORS = (OSError, http.client.HTTPException, ValueError)


def failure(exc: BaseException, *, sent: bool, deadline: bool = False) -> TransportFailure:
    if deadline:
        return TransportFailure("the time allowed ran out (read or total timeout)", sent=sent,
                                timeout=True)
    if isinstance(exc, TimeoutError):
        what = "connect timed out" if not sent else "timed out waiting for the server"
        return TransportFailure(what, sent=sent, timeout=True)
    if not sent:
        return TransportFailure(f"could not connect: {exc!r}", sent=False)
    return TransportFailure(f"connection broken: {exc!r}", sent=True)


class Guard:
    """A deadline on one socket. When it passes, the watchdog shuts the socket down, so the
    blocked read returns at once however the server trickles its bytes."""

    __slots__ = ("deadline", "fired", "sock")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.fired = False

    def fire(self) -> None:
        self.fired = True
        with contextlib.suppress(OSError):
            # the plain socket's shutdown, also for TLS: SSLSocket.shutdown would unwrap the
            # TLS object under a reader in another thread
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)


class Watchdog:
    """One daemon thread for all clients: it sleeps until the earliest deadline. Arming and
    disarming cost a lock each; the thread only wakes when a deadline is near."""

    def __init__(self) -> None:
        self._start()

    def _start(self) -> None:
        self._cv = threading.Condition()
        self._active: set[Guard] = set()
        self._next = float("inf")  # when the thread will next look (may be stale: harmless)
        self._thread: threading.Thread | None = None

    def restart_in_child(self) -> None:
        """After ``fork()``: the thread is the parent's (gone here, though its object still
        looks started) and the lock may have been held by it; the guards are the parent's."""
        self._start()

    def arm(self, sock: socket.socket, deadline: float) -> Guard:
        guard = Guard(sock, deadline)
        with self._cv:
            self._active.add(guard)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="nanogpt-deadlines",
                                                daemon=True)
                self._thread.start()
            if deadline < self._next:
                self._next = deadline
                self._cv.notify()
        return guard

    def disarm(self, guard: Guard | None) -> bool:
        """End ``guard`` (None: no deadline was set); True if it had already struck."""
        if guard is None:
            return False
        with self._cv:
            self._active.discard(guard)
        return guard.fired

    def _run(self) -> None:
        with self._cv:
            while True:
                now = time.monotonic()
                for guard in [g for g in self._active if g.deadline <= now]:
                    self._active.discard(guard)
                    guard.fire()
                self._next = min((g.deadline for g in self._active), default=float("inf"))
                self._cv.wait(None if self._next == float("inf") else self._next - now)


WATCHDOG = Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=WATCHDOG.restart_in_child)

MAX_INTERIM = 32  # interim (1xx) answers skipped before one request's final answer


class FinalResponse(http.client.HTTPResponse):
    """http.client skips only ``100 Continue`` and would take a ``102`` or ``103`` for the
    answer, leaving the real one on the connection for the next request to read. This skips
    every interim answer (status 1xx, headers and all). A ``101 Switching Protocols``, never
    asked for, is an error."""

    def _read_status(self) -> tuple[str, int, str]:
        for _ in range(MAX_INTERIM):
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if status >= 200:
                return version, status, reason
            if status == 101:
                raise http.client.HTTPException("unexpected 101 Switching Protocols")
            http.client.parse_headers(self.fp)  # the interim answer's headers: not needed
        raise http.client.HTTPException(f"more than {MAX_INTERIM} interim (1xx) answers")


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """An idle connection the server closed (or wrote to) is readable: do not reuse it."""
    sock = conn.sock
    return sock is None or readable(sock)


class Response:
    """One answer on a connection of the pool."""

    __slots__ = ("_conn", "_guard", "_origin", "_pool", "_resp", "_sock", "headers", "status")

    def __init__(self, pool: ConnectionPool, origin: Origin, conn: http.client.HTTPConnection,
                 resp: http.client.HTTPResponse, guard: Guard | None,
                 sock: socket.socket) -> None:
        self._pool = pool
        self._origin = origin
        self._conn: http.client.HTTPConnection | None = conn
        # the socket the body is read from: http.client forgets it (``conn.sock = None``) as
        # soon as a body runs until the connection closes, but the body still reads from it,
        # and its deadline and ``idle`` must still be set on it
        self._sock: socket.socket | None = sock
        self._resp = resp
        self._guard = guard
        self.status = resp.status
        self.headers: Mapping[str, str] = resp.headers  # type: ignore[assignment]

    def _switch_deadline(self, deadline: float | None) -> bool:
        """End the current deadline and start ``deadline`` (None: none), unless the current
        one had already struck (then the socket is shut): returns True for that. With
        ``release``, the one place where a response's deadline ends."""
        guard, self._guard = self._guard, None
        if WATCHDOG.disarm(guard):
            return True
        sock = self._sock
        if deadline is not None and sock is not None:
            self._guard = WATCHDOG.arm(sock, deadline)
        return False

    def read(self, limit: int) -> bytes:
        """The whole body, or its first ``limit + 1`` bytes when it is longer (then the
        connection is closed); otherwise the connection goes back to the pool."""
        resp = self._resp
        try:
            if resp.length is not None and resp.length <= limit:
                data = resp.read()
            else:  # too long, chunked, or delimited by the connection closing
                data = resp.read(limit + 1)
        except CONNECTION_ERRORS as exc:
            struck = self.release(reusable=False)
            raise failure(exc, sent=True, deadline=struck) from None
        except BaseException:
            self.release(reusable=False)
            raise
        if len(data) <= limit and resp.length:  # http.client's read(n) ends short silently
            struck = self.release(reusable=False)  # (the deadline's watchdog may be why)
            raise failure(http.client.IncompleteRead(data, resp.length), sent=True,
                          deadline=struck)
        # a body that ends with the connection (or was cut at the limit) may be just what
        # arrived before the deadline struck: then it is not the whole answer
        maybe_cut = not resp.isclosed() or resp.will_close
        if self.release(reusable=len(data) <= limit) and maybe_cut:
            raise failure(TimeoutError(), sent=True, deadline=True)
        return data

    def rearm(self, deadline: float | None) -> None:
        """From now on reading must end by ``deadline`` (instead of the request's). When the
        request's had struck already, the socket is shut: reading will fail."""
        self._switch_deadline(deadline)

    def streaming(self, idle: float | None) -> bool:
        """The answer has started: no deadline from here, only ``idle`` between reads.
        Returns False when the deadline had struck just before (the socket is shut)."""
        if self._switch_deadline(None):
            return False
        if self._sock is not None:
            self._sock.settimeout(idle)
        return True

    def read1(self, n: int = 65536) -> bytes:
        """What has arrived (at least one byte, or ``b""`` at the end of the body). A body
        that ends short of its ``Content-Length`` fails: http.client's ``read1`` returns
        ``b""`` then, as at a true end (its ``read`` raises ``IncompleteRead``)."""
        resp = self._resp
        try:
            data = resp.read1(n)
        except CONNECTION_ERRORS as exc:
            raise failure(exc, sent=True) from None
        if not data and n and resp.length:  # bytes still owed when the connection ended
            raise failure(http.client.IncompleteRead(b"", resp.length), sent=True)
        return data

    def drain(self, timeout: float) -> bool:
        """Read to the end of the body within ``timeout`` seconds; True if the end came."""
        sock = self._sock
        if self._conn is None or sock is None:
            return False
        self._switch_deadline(time.monotonic() + timeout)
        try:
            sock.settimeout(timeout)
            while self._resp.read1(65536):
                pass
        except CONNECTION_ERRORS:
            self._switch_deadline(None)
            return False
        return not self._switch_deadline(None)

    def release(self, reusable: bool) -> bool:
        """Give the connection back: to the pool if ``reusable`` and its answer was read to
        the end, else closed. Returns True if the deadline had struck (the socket is shut:
        never reusable then)."""
        struck = self._switch_deadline(None)
        conn = self._conn
        if conn is None:
            return struck
        self._conn = self._sock = None
        resp = self._resp
        if reusable and not struck and resp.isclosed() and not resp.will_close:
            self._pool._put(self._origin, conn)
        else:
            resp.close()
            conn.close()
        return struck


def _early_answer(conn: http.client.HTTPConnection, exc: OSError) -> http.client.HTTPResponse:
    """Sending failed. A server that refuses a request early (413 for a large body, or any
    error) may have answered and closed before reading the body: that answer, if it is already
    waiting, is the truth, not the broken pipe. Otherwise the send's own failure stands."""
    sock = conn.sock
    if sock is None or not readable(sock):
        raise exc
    try:
        resp = conn.getresponse()
    except CONNECTION_ERRORS:
        raise exc from None
    if resp.status < 400:  # only a refusal explains a body the server did not take
        resp.close()
        raise exc
    resp.will_close = True  # the request was cut short: this connection is done
    return resp


def _not_connected(exc: BaseException, proxy: Proxy | None) -> TransportFailure:
    if proxy is None:
        return failure(exc, sent=False)
    what = "timed out" if isinstance(exc, TimeoutError) else f"failed: {exc!r}"
    return TransportFailure(f"connecting through the proxy {proxy.shown} {what}", sent=False,
                            timeout=isinstance(exc, TimeoutError))


MAX_PROXY_HEAD = 64 * 1024  # a proxy's answer to CONNECT longer than this is no answer


def _connect_through(sock: socket.socket, authority: str, proxy: Proxy,
                     timeout: float | None) -> tuple[int, str]:
    """Ask ``proxy`` (connected as ``sock``) for a tunnel to ``authority``; its status and
    reason. Interim ``1xx`` answers are skipped, as HTTP wants of every client (and aiohttp
    does). ``timeout`` (the connect timeout) bounds the whole answer, not each byte: a proxy
    trickling its head cannot hold the call; ``MAX_PROXY_HEAD`` bounds its size."""
    by = time.monotonic() + timeout if timeout is not None else None
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    lines += [f"{name}: {value}" for name, value in proxy.headers().items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    budget = MAX_PROXY_HEAD
    while True:
        head = _proxy_head(sock, by, budget)
        budget -= len(head)
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise http.client.BadStatusLine(status_line[:100])
        status = int(parts[1])
        if not 100 <= status < 200 or status == 101:
            return status, parts[2] if len(parts) > 2 else ""


def _proxy_head(sock: socket.socket, by: float | None, limit: int) -> bytes:
    """One answer head from the proxy, at most ``limit`` bytes, by ``by`` (monotonic). Read
    byte by byte: what follows a 200 is the tunnel's, and a buffered reader could swallow
    the start of it."""
    head = bytearray()
    while not head.endswith(b"\r\n\r\n"):
        if by is not None:
            left = by - time.monotonic()
            if left <= 0:
                raise TimeoutError("the proxy did not finish answering CONNECT in time")
            sock.settimeout(left)
        byte = sock.recv(1)
        if not byte or len(head) > limit:
            raise http.client.RemoteDisconnected("the proxy closed the connection instead of "
                                                 "answering CONNECT")
        head += byte
    return bytes(head)


class ConnectionPool:
    """Idle keep-alive connections per origin, for the process that made the pool."""

    def __init__(self, maxsize: int = 50) -> None:
        self.maxsize = maxsize
        self.generation = fork_generation()
        self._idle: dict[Origin, deque[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None
        self._closed = False

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _get(self, origin: Origin) -> http.client.HTTPConnection | None:
        with self._lock:
            idle = self._idle.get(origin)
            while idle:
                conn = idle.pop()
                if not _dropped(conn):
                    return conn
                conn.close()
        return None

    def _put(self, origin: Origin, conn: http.client.HTTPConnection) -> None:
        if self.generation != fork_generation():
            conn.close()  # a forked child's copy of a parent connection
            return
        with self._lock:
            idle = self._idle.setdefault(origin, deque())
            if not self._closed and len(idle) < self.maxsize:
                idle.append(conn)
                return
        conn.close()

    def request(self, method: str, url: str, *, body: bytes | None, headers: Mapping[str, str],
                connect_timeout: float | None, read_timeout: float | None,
                deadline: float | None = None, proxy: Proxy | None = None) -> Response:
        """Send one request. Raises ``TransportFailure`` saying whether it may have left.

        ``read_timeout`` bounds each wait on the socket; ``deadline`` (a ``time.monotonic()``
        value) bounds everything after connecting, until ``Response.streaming()`` or the end
        of ``Response.read()``. ``proxy``: through it (a ``CONNECT`` tunnel for https, the
        absolute form for plain http)."""
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        origin = (scheme, host, port, proxy.key if proxy is not None else "")
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        if proxy is not None and scheme == "http":  # absolute form, through the proxy
            target = f"http://{parts.netloc.rpartition('@')[2]}{target}"
        if proxy is not None:
            headers = proxy.request_headers(url, headers)
        conn = self._get(origin)
        if conn is None:
            conn = self._connect(scheme, host, port, proxy, connect_timeout)
        sock = conn.sock
        sock.settimeout(read_timeout)
        guard = WATCHDOG.arm(sock, deadline) if deadline is not None else None
        try:
            try:
                conn.request(method, target, body=body, headers=dict(headers))
            except OSError as exc:
                resp = _early_answer(conn, exc)
            else:
                resp = conn.getresponse()
        except BaseException as exc:  # KeyboardInterrupt too: drop the half-used connection
            struck = WATCHDOG.disarm(guard)
            conn.close()
            if isinstance(exc, CONNECTION_ERRORS):
                raise failure(exc, sent=True, deadline=struck) from None
            raise
        return Response(self, origin, conn, resp, guard, sock)

    def _connect(self, scheme: str, host: str, port: int, proxy: Proxy | None,
                 timeout: float | None) -> http.client.HTTPConnection:
        """A new connection to ``host`` (through ``proxy`` when given), connected; a failure
        is a ``TransportFailure`` that says nothing was sent."""
        conn: http.client.HTTPConnection
        if proxy is not None and scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=timeout,
                                               context=self._context())
            conn.sock = self._tunnel(proxy, host, port, timeout)
        else:
            if proxy is not None:  # plain http: to the proxy, in absolute form
                conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=timeout)
            elif scheme == "https":
                conn = http.client.HTTPSConnection(host, port, timeout=timeout,
                                                   context=self._context())
            else:
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
            try:
                conn.connect()
            except CONNECTION_ERRORS as exc:
                conn.close()
                raise _not_connected(exc, proxy) from None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.response_class = FinalResponse
        return conn

    def _tunnel(self, proxy: Proxy, host: str, port: int,
                timeout: float | None) -> ssl.SSLSocket:
        """A TLS connection to ``host`` inside a ``CONNECT`` tunnel through ``proxy``. The
        ``CONNECT`` carries only the proxy's own header: the key goes inside the tunnel."""
        try:
            sock = socket.create_connection((proxy.host, proxy.port), timeout)
        except CONNECTION_ERRORS as exc:
            raise _not_connected(exc, proxy) from None
        try:
            authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            status, reason = _connect_through(sock, authority, proxy, timeout)
            if status != 200:
                raise tunnel_refused(proxy, authority, status, reason)
            sock.settimeout(timeout)
            return self._context().wrap_socket(sock, server_hostname=host)
        except CONNECTION_ERRORS as exc:
            sock.close()
            raise _not_connected(exc, proxy) from None
        except BaseException:
            sock.close()
            raise

    def forget(self) -> None:
        """In a forked child: close this process's copies of the idle sockets (the parent's
        stay open) without the lock, which a thread of the parent may have held."""
        self._closed = True
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def close(self) -> None:
        if self.generation != fork_generation():
            self.forget()
            return
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()
